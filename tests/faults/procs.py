"""The parts of Slipway as real processes (`slipway server|worker|api|up`), each of which a
fault test can kill with a real signal and start again on the same data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on port {port}")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the whole process group: the process and any child it was running."""
        self.signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 30) -> None:
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class ProcessStack:
    root: Path
    image: str
    task_queue: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex[:8]}")
    temporal_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SLIPWAY_DATA_DIR": str(self.root / "data"),
            "SLIPWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "SLIPWAY_TEMPORAL_UI_PORT": str(self.ui_port),
            "SLIPWAY_API_PORT": str(self.api_port),
            "SLIPWAY_TASK_QUEUE": self.task_queue,
            "SLIPWAY_AGENT_IMAGE": self.image,
            "SLIPWAY_CONTAINER_NETWORK": "none",
            "SLIPWAY_HOST_NAME": "host-a",
            **self.env_overrides,
            **extra,
        }

    def _start(self, name: str, args: list[str], **extra: str) -> Proc:
        n = sum(1 for p in self.procs if p.name == name)
        log = self.root / "logs" / f"{name}-{n}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        popen = subprocess.Popen(
            [sys.executable, "-m", "slipway.cli", *args],
            env=self.env(**extra),
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def server(self) -> Proc:
        proc = self._start("server", ["server"])
        wait_port(self.temporal_port)
        return proc

    def worker(self, host: str = "host-a", **extra: str) -> Proc:
        proc = self._start(f"worker-{host}", ["worker"], SLIPWAY_HOST_NAME=host, **extra)
        return _wait_for_line(proc, "worker up", 60)

    def api(self) -> Proc:
        proc = self._start("api", ["api"])
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"api did not start:\n{proc.text()}")
            time.sleep(0.1)

    def up(self) -> Proc:
        """The whole embedded stack as `slipway up` runs it."""
        proc = self._start("up", ["up"])
        return _wait_for_line(proc, "ready:", 90)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive():
                # `up` is stopped as a user would, so it stops its children in order.
                proc.stop() if proc.name == "up" else proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.text()[-3000:]}" for p in self.procs)


def _wait_for_line(proc: Proc, text: str, timeout: float) -> Proc:
    deadline = time.monotonic() + timeout
    while text not in proc.text():
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not start:\n{proc.text()}")
        time.sleep(0.1)
    return proc
