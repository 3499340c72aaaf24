"""Benchmark: how much Slipway adds on top of the raw work of a run.

Starts its own embedded stack (`slipway up`) in a temporary data directory on free ports,
then for N runs of a small `script` task measures, from `POST .../start`:
  - the time to the first agent event on the SSE stream, and
  - the time until the run is in `review` (status event on the stream);
and beside it, on the same machine and image, the raw baseline: `git clone --local` of the
same repository plus `docker run` of the same agent, to its first output line and to its exit.
Prints medians and the ratios Slipway / baseline. Then the recovery figure: the worker is
SIGKILLed while an agent prints (`slipway up` restarts it) and the seconds until agent output
flows again on SSE are measured, median and p99 over the trials (goal: p99 under 15 s).

    uv run python scripts/bench_runs.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

PROMPT = "say starting\nwrite hello.txt\nHello, world!\nEOF\nrun cat hello.txt\nsay done\n"
# One line every 0.1 s for 12 s: long enough to kill the worker mid-output.
TICKING = "".join(f"say tick {i}\nsleep 0.1\n" for i in range(120))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def make_remote(root: Path) -> Path:
    seed = root / "seed"
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    (seed / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "."], cwd=seed, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "i"],
        cwd=seed,
        check=True,
    )
    bare = root / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(bare)], check=True)
    return bare


async def one_run(http: httpx.AsyncClient, project_id: int) -> tuple[float, float]:
    run = (
        await http.post(
            "/api/runs",
            json={
                "projectId": project_id,
                "title": "bench",
                "prompt": PROMPT,
                "selectedAgent": "script",
            },
        )
    ).json()
    first_agent: float | None = None
    review: float | None = None
    ready = asyncio.Event()
    t0 = 0.0

    async def follow() -> None:
        nonlocal first_agent, review
        async with http.stream("GET", f"/api/runs/{run['id']}/events/stream") as r:
            ready.set()
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                now = time.perf_counter()
                if first_agent is None and event["eventType"] == "agent_started":
                    first_agent = now - t0
                if event["eventType"] == "status_changed" and event["data"]["to"] in (
                    "review",
                    "failed",
                ):
                    if event["data"]["to"] == "failed":
                        raise RuntimeError(f"run failed: {event['data']}")
                    review = now - t0
                    return

    task = asyncio.create_task(follow())
    await ready.wait()
    t0 = time.perf_counter()
    r = await http.post(f"/api/runs/{run['id']}/start")
    r.raise_for_status()
    await asyncio.wait_for(task, 120)
    assert first_agent is not None and review is not None
    return first_agent, review


async def recovery_trial(http: httpx.AsyncClient, project_id: int, log: Path) -> float:
    """SIGKILL the worker mid-output; seconds until the next agent line arrives on SSE."""
    run = (
        await http.post(
            "/api/runs",
            json={
                "projectId": project_id,
                "title": "recovery",
                "prompt": TICKING,
                "selectedAgent": "script",
            },
        )
    ).json()
    arrivals: list[float] = []

    async def follow() -> None:
        async with http.stream("GET", f"/api/runs/{run['id']}/events/stream") as r:
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    stored = datetime.fromisoformat(event["createdAt"].replace("Z", "+00:00"))
                    if event["eventType"] == "assistant_message" and stored.timestamp() > killed:
                        arrivals.append(time.time())  # stored after the SIGKILL: a new worker's
                    if event["eventType"] == "status_changed" and event["data"]["to"] in (
                        "review",
                        "failed",
                    ):
                        return

    killed = float("inf")
    task = asyncio.create_task(follow())
    (await http.post(f"/api/runs/{run['id']}/start")).raise_for_status()
    for _ in range(600):
        events = (
            await http.get(
                f"/api/runs/{run['id']}/events", params={"eventTypes": "assistant_message"}
            )
        ).json()["data"]
        if len(events) >= 10:
            break
        await asyncio.sleep(0.05)
    pid = int(log.read_text().split("worker running (pid ")[-1].split(")")[0])
    killed = time.time()
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(task, 120)
    if not arrivals:
        raise RuntimeError("no agent output after the SIGKILL")
    return arrivals[0] - killed


def baseline(remote: Path, image: str, root: Path, i: int) -> tuple[float, float]:
    work = root / f"baseline-{i}"
    t0 = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--local", str(remote), str(work)], check=True)
    (work / ".prompt").write_text(PROMPT)
    proc = subprocess.Popen(
        [
            "docker",
            "run",
            "--rm",
            "-v",
            f"{work}:/workspace",
            "-w",
            "/workspace",
            "--user",
            f"{os.getuid()}:{os.getgid()}",
            image,
            "slipway-script-agent",
            "--prompt-file",
            "/workspace/.prompt",
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - t0
    proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError("baseline docker run failed")
    return first, time.perf_counter() - t0


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--recovery-trials", type=int, default=5)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "SLIPWAY_DATA_DIR": str(root / "data"),
        "SLIPWAY_API_PORT": str(api_port),
        "SLIPWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "SLIPWAY_TEMPORAL_UI_PORT": str(ui_port),
        "SLIPWAY_HOST_NAME": "bench",
        "SLIPWAY_CONTAINER_NETWORK": "none",
    }
    image = env.get("SLIPWAY_AGENT_IMAGE", "slipway-agent:latest")
    log = open(root / "stack.log", "wb")
    stack = subprocess.Popen(
        [sys.executable, "-m", "slipway.cli", "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base_url = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if stack.poll() is not None:
                    raise RuntimeError(f"slipway up exited; see {root / 'stack.log'}")
                await asyncio.sleep(0.2)
            remote = make_remote(root)
            project = (
                await http.post(
                    "/api/projects", json={"name": "bench", "repositoryUrl": str(remote)}
                )
            ).json()
            await one_run(http, project["id"])  # warm-up: first workflow, first exec
            baseline(remote, image, root, -1)
            slipway, raw = [], []
            for i in range(args.runs):
                slipway.append(await one_run(http, project["id"]))
                raw.append(baseline(remote, image, root, i))
            recoveries = [
                await recovery_trial(http, project["id"], root / "stack.log")
                for _ in range(args.recovery_trials)
            ]
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)

    def med(xs: list[tuple[float, float]], k: int) -> float:
        return statistics.median(x[k] for x in xs)

    out(f"runs: {args.runs} (after one warm-up), machine: {os.cpu_count()} cores")
    out(f"{'':38}{'slipway':>10}{'baseline':>10}{'ratio':>8}")
    for k, label in (
        (0, "start -> first agent event (median s)"),
        (1, "start -> review (median s)"),
    ):
        s, b = med(slipway, k), med(raw, k)
        out(f"{label:38}{s:>10.3f}{b:>10.3f}{s / b:>8.2f}")
    out("baseline: git clone --local + docker run of the same image, to first line / exit")
    if recoveries:
        ordered = sorted(recoveries)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        out(
            f"recovery after worker SIGKILL (s), {len(ordered)} trials: median "
            f"{statistics.median(ordered):.1f}, p99 {p99:.1f} (goal < 15), "
            f"all {[round(r, 1) for r in ordered]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
