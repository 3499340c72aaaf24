"""Faults 6 and 7: the container is killed or removed from outside; the agent hangs."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import Stack
from tests.faults.procs import ProcessStack
from tests.helpers import (
    all_events,
    command,
    create_project,
    create_run,
    make_remote,
    run_containers,
    says,
    script,
    wait_for,
    wait_status,
)


@pytest.mark.parametrize("how", ["docker kill", "docker rm -f"])
async def test_container_killed_or_removed_from_outside(stack: Stack, tmp_path, how: str, report):
    http = stack.http
    project = await create_project(http, make_remote(tmp_path))
    run = await create_run(http, project["id"], script("say working", "sleep 120"))
    await command(http, run["id"], "start")
    await wait_for(lambda: says(http, run["id"]))
    [container] = run_containers(
        stack.docker, stack.settings.task_queue, run["id"], running_only=True
    )
    hit_at = time.monotonic()
    if how == "docker kill":
        container.kill()
    else:
        container.remove(force=True)
    failed = await wait_status(http, run["id"], "failed", timeout=60)
    took = time.monotonic() - hit_at
    events = await all_events(http, run["id"])
    [error] = [e for e in events if e["eventType"] == "error"]
    assert container.name in error["data"]["message"]
    expected = "was removed" if how == "docker rm -f" else "is exited"
    assert expected in error["data"]["message"] and expected in failed["failureReason"]
    report(
        f"container: {how} mid-turn",
        f"run failed with {error['data']['message']!r}",
        f"failed {took:.1f}s after the {how}",
    )


async def test_hung_agent_hits_the_idle_timeout_and_the_maximum_duration(
    procs: ProcessStack, report
):
    procs.env_overrides.update(SLIPWAY_TURN_IDLE_TIMEOUT_SECONDS="3", SLIPWAY_TURN_MAX_SECONDS="8")
    procs.server()
    procs.api()
    procs.worker()
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        project = await create_project(http, make_remote(procs.root))
        silent = await create_run(http, project["id"], script("say thinking", "sleep 300"))
        chatty = await create_run(
            http, project["id"], script(*[f"say tick {i}\nsleep 0.5" for i in range(200)])
        )
        t0 = time.monotonic()
        await command(http, silent["id"], "start")
        await command(http, chatty["id"], "start")
        idle = await wait_status(http, silent["id"], "failed", timeout=60)
        idle_took = time.monotonic() - t0
        too_long = await wait_status(http, chatty["id"], "failed", timeout=60)
        long_took = time.monotonic() - t0
    assert idle["failureReason"].endswith("the agent printed nothing for 3s")
    assert too_long["failureReason"].endswith("the agent ran longer than 8s")
    report(
        "hung agent",
        f"idle run failed: {idle['failureReason']!r}; busy run failed: "
        f"{too_long['failureReason']!r}",
        f"idle limit 3s -> failed after {idle_took:.1f}s; max 8s -> failed after {long_took:.1f}s",
    )
