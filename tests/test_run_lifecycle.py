"""A run from creation to a pushed branch, driven over HTTP the way a client does."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from tests.conftest import Stack
from tests.helpers import (
    all_events,
    command,
    create_project,
    create_run,
    read_sse,
    remote_branches,
    remote_file,
    run_containers,
    script,
    wait_status,
)

SAY_LINES = 60


def chatty_prompt() -> str:
    lines = ["say starting"]
    for i in range(SAY_LINES):
        lines.append(f"say line {i}")
        if i % 10 == 9:
            lines.append("sleep 0.3")
    lines += [
        "write src/hello.py",
        "print('hello')",
        "EOF",
        "append README.md",
        "More docs.",
        "EOF",
        "run python3 src/hello.py",
        "say finished",
    ]
    return script(*lines)


async def test_run_from_draft_to_pushed_branch_with_resumed_sse(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    assert project["defaultBranch"] == "main"
    run = await create_run(http, project["id"], chatty_prompt())
    assert run["status"] == "draft" and run["workflowId"] == f"run-{run['id']}"
    run_id = run["id"]

    started = await command(http, run_id, "start")
    assert started["status"] in ("queued", "provisioning", "running")

    # A client that drops after a few events and comes back with Last-Event-ID...
    first, _ = await read_sse(stack.base_url, run_id, stop_after=8)
    assert len(first) == 8
    await asyncio.sleep(0.5)
    rest, _ = await read_sse(stack.base_url, run_id, last_event_id=first[-1].id)
    streamed = first + rest
    final = await wait_status(http, run_id, "review")

    # ... ends with exactly the timeline, nothing missing or repeated.
    timeline = await all_events(http, run_id)
    assert [int(e.id or 0) for e in streamed] == [e["id"] for e in timeline]
    assert all(e.event == "agent_event" for e in streamed)
    seqs = [e["seq"] for e in timeline]
    assert seqs == list(range(1, len(timeline) + 1))

    types = [e["eventType"] for e in timeline]
    for expected in (
        "status_changed",
        "repository_cloned",
        "container_started",
        "agent_started",
        "assistant_message",
        "tool_use",
        "tool_result",
        "command_started",
        "command_finished",
        "file_updated",
        "usage",
        "container_stopped",
    ):
        assert expected in types, expected
    says = [e["data"]["text"] for e in timeline if e["eventType"] == "assistant_message"]
    assert says == ["starting", *[f"line {i}" for i in range(SAY_LINES)], "finished"]
    updated = {e["path"]: e["data"] for e in timeline if e["eventType"] == "file_updated"}
    assert updated["src/hello.py"] == {
        "path": "src/hello.py",
        "change": "added",
        "additions": 1,
        "deletions": 0,
        "binary": False,
    }
    assert updated["README.md"]["change"] == "modified"
    assert updated["README.md"]["additions"] == 1
    statuses = [e["data"]["to"] for e in timeline if e["eventType"] == "status_changed"]
    assert statuses == ["queued", "provisioning", "running", "review"]
    assert final["timeline"]["events"] == len(timeline)

    # Review material.
    diff = (await http.get(f"/api/runs/{run_id}/diff", headers={"accept": "text/x-diff"})).text
    assert "+print('hello')" in diff and "+More docs." in diff
    files = (await http.get(f"/api/runs/{run_id}/files")).json()
    assert [f["path"] for f in files] == ["README.md", "src/hello.py"]
    detail = (await http.get(f"/api/runs/{run_id}/files/src/hello.py")).json()
    assert "+print('hello')" in detail["diff"]
    summary = (await http.get(f"/api/runs/{run_id}/summary")).json()["summary"]
    assert summary["commandsRun"] == ["python3 src/hello.py"]
    assert summary["additions"] == 2

    # The agent's container is gone once the run is in review.
    assert not run_containers(stack.docker, stack.settings.task_queue, run_id)

    # Git actions are refused before approval, then happen once each.
    refused = await command(http, run_id, "commit", expect=409)
    assert refused["currentStatus"] == "review"
    assert refused["type"].endswith("/invalid-transition")
    await command(http, run_id, "approve", {"notes": "looks good"})
    committed = await command(
        http,
        run_id,
        "commit",
        {"message": "Add hello", "authorName": "Ada", "authorEmail": "ada@example.com"},
    )
    assert committed["status"] == "committed" and committed["commitSha"]
    again = await command(http, run_id, "commit", expect=409)
    assert again["currentStatus"] == "committed"
    pushed = await command(http, run_id, "push")
    assert pushed["status"] == "pushed"
    assert (await command(http, run_id, "push", expect=409))["currentStatus"] == "pushed"

    branch = f"slipway/run-{run_id}"
    assert branch in remote_branches(remote)
    assert remote_file(remote, branch, "src/hello.py") == "print('hello')\n"
    log = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%an|%s|%b", branch],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.startswith("Ada|Add hello|") and f"Slipway-Run: {run_id}" in log
    assert (
        ".slipway"
        not in subprocess.run(
            ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", branch],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )

    # The history stays small however much the agent prints: its output never passes
    # through workflow history.
    history = await stack.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    assert len(history.events) < 200
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


async def test_approve_with_commit_then_push(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(
        http, project["id"], script("write notes.txt", "hi", "EOF"), title="Add notes"
    )
    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    approved = await command(http, run["id"], "approve", {"commit": True})
    assert approved["status"] == "committed"
    await command(http, run["id"], "push")
    log = subprocess.run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%s", f"slipway/run-{run['id']}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.strip() == "Add notes"  # the message defaults to the run's title


async def test_reject_ends_the_run(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("say nothing to do"))
    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    rejected = await command(http, run["id"], "reject", {"notes": "not needed"})
    assert rejected["status"] == "rejected" and rejected["reviewNotes"] == "not needed"
    assert (await command(http, run["id"], "approve", expect=409))["currentStatus"] == "rejected"
    assert f"slipway/run-{run['id']}" not in remote_branches(remote)


async def test_push_rejected_by_the_remote_is_a_409_that_says_why(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(http, project["id"], script("write mine.txt", "x", "EOF"))
    branch = f"slipway/run-{run['id']}"
    # Someone else's work already sits on the run's branch name in the remote.
    other = remote.parent / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True)
    (other / "theirs.txt").write_text("y\n")
    subprocess.run(["git", "-C", str(other), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(other),
            "-c",
            "user.name=o",
            "-c",
            "user.email=o@o",
            "commit",
            "-qm",
            "theirs",
        ],
        check=True,
    )
    subprocess.run(["git", "-C", str(other), "push", "-q", "origin", f"HEAD:{branch}"], check=True)

    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    await command(http, run["id"], "approve", {"commit": True})
    problem = await command(http, run["id"], "push", expect=409)
    assert problem["type"].endswith("/push-rejected")
    assert problem["currentStatus"] == "committed"
    assert f"already has a branch {branch}" in problem["detail"]
    assert "hint:" not in problem["detail"]
    assert (await http.get(f"/api/runs/{run['id']}")).json()["status"] == "committed"


async def test_idle_stream_pings_and_event_filters(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(
        http, project["id"], script("write a.txt", "x", "EOF", "write b.txt", "y", "EOF")
    )
    # A draft has nothing to say yet: its stream stays open and pings.
    pings = 0
    async with http.stream("GET", f"/api/runs/{run['id']}/events/stream") as response:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                pings += 1
                if pings == 2:
                    break
    assert pings == 2

    await command(http, run["id"], "start")
    await wait_status(http, run["id"], "review")
    url = f"/api/runs/{run['id']}/events"
    files = (await http.get(url, params={"eventTypes": "file_updated,summary_ready"})).json()
    assert [e["eventType"] for e in files["data"]] == [
        "file_updated",
        "file_updated",
        "summary_ready",
    ]
    on_a = (await http.get(url, params={"path": "a.txt"})).json()["data"]
    assert on_a and all(e["path"] == "a.txt" for e in on_a)
    assert {e["eventType"] for e in on_a} == {"tool_use", "tool_result", "file_updated"}
    assert (await http.get(url, params={"severity": "error"})).json()["data"] == []
    page = (await http.get(url, params={"limit": 3})).json()
    assert len(page["data"]) == 3 and page["meta"]["nextCursor"] == str(page["data"][-1]["id"])
    rest = (await http.get(url, params={"since": page["meta"]["nextCursor"]})).json()["data"]
    assert rest[0]["seq"] == 4
