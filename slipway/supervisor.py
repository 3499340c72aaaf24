"""The process group of `slipway up`: starts children in order, restarts one that dies (with
backoff, giving up on a crash loop), and stops them in reverse order."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RESTART_BACKOFF_FIRST = 0.5
RESTART_BACKOFF_MAX = 10.0
CRASH_LOOP_WINDOW = 60.0
CRASH_LOOP_RESTARTS = 5
# A child that ran this long before dying was healthy: it restarts at once, backoff reset.
STABLE_AFTER = 10.0
STOP_TIMEOUT = 20.0


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM when the supervisor dies, even by SIGKILL, so no part of the
    stack outlives it (Linux; elsewhere children must be stopped by hand)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class CrashLoop(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    cmd: list[str]
    popen: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    restart_at: float | None = None
    started_at: float = 0.0


class Supervisor:
    def __init__(self, env: dict[str, str], say: Callable[[str], None]) -> None:
        self.env = env
        self.say = say
        self.children: list[Child] = []

    def start(self, name: str, cmd: list[str]) -> Child:
        child = Child(name, cmd)
        self.children.append(child)
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        # Own session: Ctrl-C reaches the supervisor only, which stops children in order.
        child.popen = subprocess.Popen(
            child.cmd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )
        child.restart_at = None
        child.started_at = time.monotonic()
        self.say(f"{child.name} running (pid {child.popen.pid})")

    def tend(self) -> None:
        """Restart any child that died; raises CrashLoop when one keeps dying."""
        now = time.monotonic()
        for child in self.children:
            assert child.popen is not None
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.popen.poll()
            if code is None:
                continue
            if now - child.started_at >= STABLE_AFTER:
                child.restarts.clear()
            child.restarts = [t for t in child.restarts if now - t < CRASH_LOOP_WINDOW]
            if len(child.restarts) >= CRASH_LOOP_RESTARTS:
                raise CrashLoop(
                    f"{child.name} exited {len(child.restarts) + 1} times within "
                    f"{CRASH_LOOP_WINDOW:.0f}s (last exit status {code})"
                )
            delay = min(RESTART_BACKOFF_FIRST * 2 ** len(child.restarts), RESTART_BACKOFF_MAX)
            child.restarts.append(now)
            child.restart_at = now + delay
            self.say(f"{child.name} exited with status {code}; restarting in {delay:.1f}s")

    def stop(self) -> None:
        for child in reversed(self.children):  # API first, Temporal last
            p = child.popen
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {STOP_TIMEOUT:.0f}s; killing it")
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
