"""Faults 1 and 2: the worker is SIGKILLed mid-turn, mid-provisioning, mid-commit, mid-push."""

from __future__ import annotations

import asyncio
import subprocess
import time

import docker
import httpx

from tests.faults.checks import (
    assert_exact_timeline,
    at_least,
    counting_prompt,
    start_counting_run,
)
from tests.faults.procs import ProcessStack
from tests.helpers import (
    all_events,
    command,
    create_project,
    create_run,
    make_remote,
    run_containers,
    says,
    wait_for,
    wait_status,
)

LINES = 60


async def test_worker_sigkill_while_the_agent_prints(procs: ProcessStack, report):
    procs.server()
    procs.api()
    worker = procs.worker()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        run = await start_counting_run(http, procs.root, LINES, 0.25, 10)

        killed_at = time.monotonic()
        worker.kill()
        seen = len(await says(http, run["id"]))
        await asyncio.to_thread(procs.worker)
        await wait_for(lambda: at_least(http, run["id"], seen + 1), timeout=60, interval=0.05)
        recovery = time.monotonic() - killed_at

        await wait_status(http, run["id"], "review", timeout=120)
        figures = await assert_exact_timeline(http, run["id"], procs.root / "data", LINES)
    report(
        "worker SIGKILL mid-output",
        f"run reached review; {figures['agent_lines']} agent lines once each, in order, "
        f"seq 1..{figures['events']} gap-free",
        f"agent output flowing again {recovery:.1f}s after the SIGKILL",
    )


async def test_worker_sigkill_while_provisioning(procs: ProcessStack, report):
    procs.server()
    procs.api()
    worker = procs.worker(SLIPWAY_FAILPOINTS="provision.created=120")
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        project = await create_project(http, make_remote(procs.root))
        run = await create_run(http, project["id"], counting_prompt(3, 0.1))
        await command(http, run["id"], "start")
        await wait_for(_reached(worker, "provision.created"))
        [created] = procs_containers(procs, run["id"])
        worker.kill()
        await asyncio.to_thread(procs.worker)
        await wait_status(http, run["id"], "review", timeout=90)
        events = await all_events(http, run["id"])
    started = [e for e in events if e["eventType"] == "container_started"]
    assert len(started) == 1 and started[0]["data"]["containerId"] == created
    report(
        "worker SIGKILL while provisioning",
        "the retried provisioning adopted the container the dead worker had created",
        "containers created for the run: 1",
    )


async def test_worker_sigkill_during_commit_and_push(procs: ProcessStack, report):
    procs.server()
    procs.api()
    remote = make_remote(procs.root)
    worker = procs.worker(SLIPWAY_FAILPOINTS="commit.done=120")
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=120) as http:
        project = await create_project(http, remote)
        run = await create_run(http, project["id"], "write a.txt\nhello\nEOF\n")
        await command(http, run["id"], "start")
        await wait_status(http, run["id"], "review")
        await command(http, run["id"], "approve")

        # The commit is made, then the worker dies before reporting it.
        committing = asyncio.create_task(command(http, run["id"], "commit"))
        await wait_for(_reached(worker, "commit.done"))
        worker.kill()
        worker = await asyncio.to_thread(procs.worker, SLIPWAY_FAILPOINTS="push.done=120")
        committed = await asyncio.wait_for(committing, 90)
        assert committed["status"] == "committed"

        # The push reaches the remote, then the worker dies before reporting it.
        pushing = asyncio.create_task(command(http, run["id"], "push"))
        await wait_for(_reached(worker, "push.done"))
        worker.kill()
        await asyncio.to_thread(procs.worker)
        pushed = await asyncio.wait_for(pushing, 90)
        assert pushed["status"] == "pushed"

    branch = f"slipway/run-{run['id']}"
    count = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-list", "--count", f"main..{branch}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert count.stdout.strip() == "1"
    sha = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", branch],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert sha == committed["commitSha"]
    report(
        "worker SIGKILL mid-commit and mid-push",
        "retried commit found its own commit; retried push of what the remote had is no error",
        "commits on the run branch: 1",
    )


def procs_containers(procs: ProcessStack, run_id: int) -> list[str]:
    return [c.id for c in run_containers(docker.from_env(), procs.task_queue, run_id)]


def _reached(proc, name: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return f"failpoint {name} reached" in proc.text()

    return check
