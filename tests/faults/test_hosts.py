"""Fault 8: two workers on two host queues; the run's host dies for good."""

from __future__ import annotations

import time

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.faults.procs import ProcessStack
from tests.helpers import (
    command,
    create_project,
    create_run,
    make_remote,
    says,
    script,
    wait_for,
    wait_status,
)

HOST_ACTIVITIES = {
    "prepare_workspace",
    "provision_container",
    "run_agent_turn",
    "summarise",
    "teardown_container",
    "commit",
    "push",
    "pause_container",
    "unpause_container",
}


async def _where_activities_ran(client: Client, workflow_id: str) -> list[tuple[str, str, str]]:
    """(activity, task queue, identity of the worker that started it) from the history."""
    scheduled: dict[int, tuple[str, str]] = {}
    ran = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = (attrs.activity_type.name, attrs.task_queue.name)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            name, queue = scheduled[attrs.scheduled_event_id]
            ran.append((name, queue, attrs.identity))
    return ran


async def test_host_affinity_and_host_lost(procs: ProcessStack, report):
    procs.env_overrides["SLIPWAY_HOST_LOST_TIMEOUT_SECONDS"] = "8"
    procs.server()
    procs.api()
    workers = {"host-a": procs.worker("host-a"), "host-b": procs.worker("host-b")}
    client = await Client.connect(f"127.0.0.1:{procs.temporal_port}")
    async with httpx.AsyncClient(base_url=procs.base_url, timeout=60) as http:
        project = await create_project(http, make_remote(procs.root))

        # Every container and workspace activity runs on the worker that provisioned the run.
        hosts_used = set()
        for _ in range(3):
            run = await create_run(http, project["id"], script("write a.txt", "x", "EOF"))
            await command(http, run["id"], "start")
            done = await wait_status(http, run["id"], "review")
            await command(http, run["id"], "approve")
            await command(http, run["id"], "push")
            ran = await _where_activities_ran(client, f"run-{run['id']}")
            on_host = [r for r in ran if r[0] in HOST_ACTIVITIES]
            assert {r[0] for r in on_host} >= {
                "prepare_workspace",
                "provision_container",
                "run_agent_turn",
                "commit",
                "push",
            }
            assert {r[1] for r in on_host} == {f"{procs.task_queue}-host-{done['host']}"}
            assert all(f"@{done['host']}:" in r[2] for r in on_host), on_host
            hosts_used.add(done["host"])

        # The host of a running run dies for good: the run fails host_lost, it does not hang.
        run = await create_run(http, project["id"], script("say working", "sleep 300"))
        await command(http, run["id"], "start")
        await wait_for(lambda: says(http, run["id"]))
        host = (await http.get(f"/api/runs/{run['id']}")).json()["host"]
        killed_at = time.monotonic()
        workers[host].kill()
        failed = await wait_status(http, run["id"], "failed", timeout=90)
        took = time.monotonic() - killed_at
    assert failed["failureReason"].startswith("host_lost:"), failed["failureReason"]
    assert host in failed["failureReason"]
    report(
        "two hosts; the run's host dies",
        f"host activities of 3 runs ran only on their host (hosts used: "
        f"{sorted(hosts_used)}); orphaned run failed {failed['failureReason']!r}",
        f"host_lost {took:.1f}s after the SIGKILL (limit 8s + 5s heartbeat)",
    )
