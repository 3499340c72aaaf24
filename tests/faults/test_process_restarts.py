"""Faults 3-5: the API, the Temporal server and the whole `slipway up` stack go down mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
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
    follow_sse,
    make_remote,
    run_containers,
    says,
    wait_for,
    wait_status,
)

LINES = 40
CLIENTS = 3


async def test_api_sigkill_while_sse_clients_stream(procs: ProcessStack, report):
    procs.server()
    procs.worker()
    api = procs.api()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        project = await create_project(http, make_remote(procs.root))
        run = await create_run(http, project["id"], counting_prompt(LINES, 0.15))
        readers = [
            asyncio.create_task(follow_sse(procs.base_url, run["id"])) for _ in range(CLIENTS)
        ]
        await command(http, run["id"], "start")
        await wait_for(lambda: at_least(http, run["id"], 8))
        api.kill()
        await asyncio.sleep(1)
        await asyncio.to_thread(procs.api)
        results = await asyncio.gather(*readers)
        await wait_status(http, run["id"], "review")
        timeline = [e["id"] for e in await all_events(http, run["id"])]
        figures = await assert_exact_timeline(http, run["id"], procs.root / "data", LINES)
    for ids, reconnects in results:
        assert ids == timeline  # nothing missing, nothing repeated
        assert reconnects >= 1
    report(
        "API SIGKILL under SSE",
        f"{CLIENTS} clients resumed with Last-Event-ID, each got the {len(timeline)}-event "
        "timeline exactly",
        f"reconnects per client: {[r for _, r in results]}; agent lines {figures['agent_lines']}",
    )


async def test_temporal_server_stopped_and_restarted(procs: ProcessStack, report):
    server = procs.server()
    procs.worker()
    procs.api()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        run = await start_counting_run(http, procs.root, LINES, 0.15, 8)
        stopped_at = time.monotonic()
        server.stop()
        await asyncio.sleep(3)
        await asyncio.to_thread(procs.server)  # same SQLite file
        outage = time.monotonic() - stopped_at
        await wait_status(http, run["id"], "review", timeout=120)
        figures = await assert_exact_timeline(http, run["id"], procs.root / "data", LINES)
        approved = await command(http, run["id"], "approve")  # commands work again
        assert approved["status"] == "approved"
    report(
        "Temporal dev server stopped and restarted",
        f"in-flight run continued to review; {figures['agent_lines']} agent lines exactly once",
        f"server down {outage:.1f}s",
    )


async def test_slipway_up_ctrl_c_and_start_again(procs: ProcessStack, report):
    up = procs.up()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        run = await start_counting_run(http, procs.root, LINES, 0.15, 8)
        up.popen.send_signal(signal.SIGINT)  # Ctrl-C
        assert up.popen.wait(60) == 0
        assert "stopped" in up.text()
        started_again = time.monotonic()
        await asyncio.to_thread(procs.up)
        await wait_status(http, run["id"], "review", timeout=120)
        resumed = time.monotonic() - started_again
        figures = await assert_exact_timeline(http, run["id"], procs.root / "data", LINES)
    report(
        "slipway up: Ctrl-C mid-run, start again",
        f"run continued to review; {figures['agent_lines']} agent lines exactly once",
        f"review {resumed:.1f}s after the second start",
    )


async def test_slipway_up_restart_after_the_container_is_gone(procs: ProcessStack, report):
    up = procs.up()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        run = await start_counting_run(http, procs.root, LINES, 0.15, 5)
        up.popen.send_signal(signal.SIGINT)
        up.popen.wait(60)
        for c in run_containers(docker.from_env(), procs.task_queue, run["id"]):
            c.remove(force=True)  # as after a reboot that took the container with it
        started_again = time.monotonic()
        await asyncio.to_thread(procs.up)
        failed = await wait_status(http, run["id"], "failed", timeout=60)
        took = time.monotonic() - started_again
    assert "was removed" in failed["failureReason"]
    report(
        "slipway up restarted after its run's container vanished",
        f"run failed with a clear reason ({failed['failureReason']!r}), never stuck running",
        f"failed {took:.1f}s after the second start",
    )


async def test_slipway_up_restarts_a_killed_worker(procs: ProcessStack, report):
    up = procs.up()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        run = await start_counting_run(http, procs.root, LINES, 0.15, 8)
        worker_pid = int(up.text().split("worker running (pid ")[-1].split(")")[0])
        killed_at = time.monotonic()
        os.kill(worker_pid, signal.SIGKILL)
        seen = len(await says(http, run["id"]))
        await wait_for(lambda: at_least(http, run["id"], seen + 1), timeout=60, interval=0.05)
        recovery = time.monotonic() - killed_at
        await wait_status(http, run["id"], "review", timeout=120)
        figures = await assert_exact_timeline(http, run["id"], procs.root / "data", LINES)
    assert up.alive() and "worker exited with status -9; restarting" in up.text()
    report(
        "slipway up: worker SIGKILL",
        f"supervisor restarted the worker; {figures['agent_lines']} agent lines exactly once",
        f"output flowing again {recovery:.1f}s after the SIGKILL",
    )
