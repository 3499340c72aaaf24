"""What a REST/SSE client of Slipway does, as small functions the tests share."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
from docker.models.containers import Container

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


def make_remote(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    work = tmp_path / "seed"
    work.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for name, text in (files or {"README.md": "# demo\n"}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)
    subprocess.run([*GIT, "commit", "-qm", "initial"], cwd=work, check=True)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


def remote_file(bare: Path, branch: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), "show", f"{branch}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def remote_branches(bare: Path) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def run_containers(
    client: docker.DockerClient, task_queue: str, run_id: int, running_only: bool = False
) -> list[Container]:
    """The containers of one run of one installation (its task queue), as Docker labels them."""
    labels = [f"slipway.run={run_id}", f"slipway.queue={task_queue}"]
    return client.containers.list(all=not running_only, filters={"label": labels})


def script(*lines: str) -> str:
    return "\n".join(lines) + "\n"


async def create_project(http: httpx.AsyncClient, url: Path | str, **extra: Any) -> dict[str, Any]:
    r = await http.post("/api/projects", json={"name": "demo", "repositoryUrl": str(url), **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def create_run(
    http: httpx.AsyncClient,
    project_id: int,
    prompt: str,
    agent: str = "script",
    title: str = "Test run",
    **extra: Any,
) -> dict[str, Any]:
    r = await http.post(
        "/api/runs",
        json={
            "projectId": project_id,
            "title": title,
            "prompt": prompt,
            "selectedAgent": agent,
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def command(
    http: httpx.AsyncClient,
    run_id: int,
    action: str,
    body: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    r = await http.post(f"/api/runs/{run_id}/{action}", json=body or {})
    assert r.status_code == expect, f"{action}: {r.status_code} {r.text}"
    return r.json()  # type: ignore[no-any-return]


async def wait_status(
    http: httpx.AsyncClient, run_id: int, *statuses: str, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = (await http.get(f"/api/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {statuses}; last: {run}")


async def all_events(http: httpx.AsyncClient, run_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    since = 0
    while True:
        page = (
            await http.get(f"/api/runs/{run_id}/events", params={"since": since, "limit": 1000})
        ).json()
        events += page["data"]
        if not page["meta"]["nextCursor"]:
            return events
        since = events[-1]["id"]


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: dict[str, Any]


async def read_sse(
    base_url: str,
    run_id: int,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    timeout: float = 120,
    sink: list[SseEvent] | None = None,
) -> tuple[list[SseEvent], int]:
    """Follows a run's stream; returns its events and how many `:ping` comments it saw.
    With `stop_after`, drops the connection after that many events, as a flaky network does.
    Events also go to `sink` as they arrive, so a caller keeps them if the connection dies."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[SseEvent] = []
    pings = 0
    fields: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
        async with client.stream(
            "GET", f"/api/runs/{run_id}/events/stream", headers=headers
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    pings += 1
                    continue
                if line == "":
                    if "data" in fields:
                        event = SseEvent(
                            fields.get("id"), fields.get("event"), json.loads(fields["data"])
                        )
                        events.append(event)
                        if sink is not None:
                            sink.append(event)
                        if stop_after is not None and len(events) >= stop_after:
                            break
                    fields = {}
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
    return events, pings


async def follow_sse(base_url: str, run_id: int, timeout: float = 180) -> tuple[list[int], int]:
    """A client that reconnects with Last-Event-ID whenever its connection breaks, until the
    stream ends normally; returns the event ids it received and how often it reconnected."""
    received: list[SseEvent] = []
    reconnects = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = received[-1].id if received else None
        try:
            await read_sse(base_url, run_id, last_event_id=last, sink=received, timeout=30)
            return [int(e.id or 0) for e in received], reconnects
        except (httpx.TransportError, AssertionError):
            reconnects += 1
            await asyncio.sleep(0.2)
    raise AssertionError(f"stream of run {run_id} did not end within {timeout}s")


async def wait_for(predicate, timeout: float = 60, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Polls an async predicate until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def says(http: httpx.AsyncClient, run_id: int) -> list[str]:
    return [
        e["data"]["text"]
        for e in await all_events(http, run_id)
        if e["eventType"] == "assistant_message"
    ]
