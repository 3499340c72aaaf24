"""Pause, resume, cancel, failure and retry, with the container checked in Docker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Stack
from tests.helpers import (
    all_events,
    command,
    create_project,
    create_run,
    run_containers,
    script,
    wait_status,
)


def _containers(stack: Stack, run_id: int) -> list:
    return run_containers(stack.docker, stack.settings.task_queue, run_id)


async def _wait_for_event(stack: Stack, run_id: int, text: str, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.2)):
        events = await all_events(stack.http, run_id)
        if any(e["data"].get("text") == text for e in events):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no event with text {text!r}")


async def test_pause_freezes_the_agent_and_resume_continues(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    ticks = [f"say tick {i}\nsleep 0.2" for i in range(30)]
    run = await create_run(http, project["id"], script(*ticks, "say end"))
    run_id = run["id"]
    await command(http, run_id, "start")
    await _wait_for_event(stack, run_id, "tick 2")

    paused = await command(http, run_id, "pause")
    assert paused["status"] == "paused"
    [container] = _containers(stack, run_id)
    assert container.status == "paused"
    await asyncio.sleep(1)  # lines printed just before the freeze are still being read
    count = len(await all_events(http, run_id))
    await asyncio.sleep(2)  # a frozen agent prints nothing
    assert len(await all_events(http, run_id)) == count
    assert (await command(http, run_id, "pause", expect=409))["currentStatus"] == "paused"

    resumed = await command(http, run_id, "resume")
    assert resumed["status"] == "running"
    container.reload()
    assert container.status == "running"
    await wait_status(http, run_id, "review")
    says = [
        e["data"]["text"]
        for e in await all_events(http, run_id)
        if e["eventType"] == "assistant_message"
    ]
    assert says == [f"tick {i}" for i in range(30)] + ["end"]
    statuses = [
        e["data"]["to"]
        for e in await all_events(http, run_id)
        if e["eventType"] == "status_changed"
    ]
    assert statuses == ["queued", "provisioning", "running", "paused", "running", "review"]


async def test_cancel_stops_the_container_and_keeps_the_timeline(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say working", "sleep 60", "say never"))
    run_id = run["id"]
    await command(http, run_id, "start")
    await _wait_for_event(stack, run_id, "working")
    assert _containers(stack, run_id)

    cancelled = await command(http, run_id, "cancel")
    assert cancelled["status"] == "cancelled"
    assert not _containers(stack, run_id)
    events = await all_events(http, run_id)
    assert any(e["data"].get("text") == "working" for e in events)
    assert not any(e["data"].get("text") == "never" for e in events)
    assert events[-1]["eventType"] == "status_changed" and events[-1]["data"]["to"] == "cancelled"
    again = await command(http, run_id, "cancel", expect=409)
    assert again["currentStatus"] == "cancelled"
    assert (await command(http, run_id, "resume", expect=409))["currentStatus"] == "cancelled"


async def test_cancel_while_paused(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say working", "sleep 60"))
    await command(http, run["id"], "start")
    await _wait_for_event(stack, run["id"], "working")
    await command(http, run["id"], "pause")
    assert (await command(http, run["id"], "cancel"))["status"] == "cancelled"
    assert not _containers(stack, run["id"])


async def test_cancel_a_draft(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say hi"))
    assert (await command(http, run["id"], "cancel"))["status"] == "cancelled"
    assert (await command(http, run["id"], "start", expect=409))["currentStatus"] == "cancelled"


async def test_failing_step_fails_the_run_and_retry_uses_a_new_branch(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(
        http, project["id"], script("write out.txt", "x", "EOF", "fail tests are red")
    )
    run_id = run["id"]
    await command(http, run_id, "start")
    failed = await wait_status(http, run_id, "failed")
    assert failed["failureReason"] == "tests are red"
    assert failed["branch"] == f"slipway/run-{run_id}"
    events = await all_events(http, run_id)
    errors = [e for e in events if e["eventType"] == "error"]
    assert errors and errors[0]["data"]["message"] == "tests are red"
    assert events[-1]["data"] == {"from": "running", "to": "failed", "reason": "tests are red"}
    assert not _containers(stack, run_id)
    assert (await command(http, run_id, "approve", expect=409))["currentStatus"] == "failed"

    retried = await command(http, run_id, "retry")
    assert retried["status"] in ("queued", "provisioning", "running", "failed")
    again = await wait_status(http, run_id, "failed")
    assert again["branch"] == f"slipway/run-{run_id}-2" and again["attempt"] == 2


async def test_failing_command_fails_the_run(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("run exit 3", "say never"))
    await command(http, run["id"], "start")
    failed = await wait_status(http, run["id"], "failed")
    assert "exit code 3" in failed["failureReason"]
    events = await all_events(http, run["id"])
    finished = [e for e in events if e["eventType"] == "command_finished"]
    assert finished[0]["data"]["isError"] is True and finished[0]["severity"] == "error"


async def test_invalid_transitions_answer_409_with_current_status(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say hi"))
    for action in ("pause", "resume", "retry", "approve", "reject", "commit", "push"):
        problem = await command(http, run["id"], action, expect=409)
        assert problem["currentStatus"] == "draft", action
        assert problem["runId"] == run["id"]
        assert problem["status"] == 409
        assert problem["instance"] == f"/api/runs/{run['id']}/{action}"
