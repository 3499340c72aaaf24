"""What every fault test checks: the run's timeline holds every line the agent printed,
exactly once, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from slipway.agents.stream_json import StreamJsonParser
from tests.helpers import (
    all_events,
    command,
    create_project,
    create_run,
    make_remote,
    says,
    script,
    wait_for,
)

AGENT_TYPES = {
    "agent_started",
    "agent_system",
    "assistant_message",
    "assistant_thinking",
    "assistant_chunk",
    "tool_use",
    "tool_result",
    "command_started",
    "command_finished",
    "usage",
    "agent_finished",
    "agent_output",
}


def counting_prompt(lines: int, interval: float) -> str:
    """An agent that prints `line 0` … `line N-1`, one every `interval` seconds."""
    return script(*[f"say line {i}\nsleep {interval}" for i in range(lines)], "say end")


def turn_log(data_dir: Path, run_id: int, attempt: int = 1, turn: int = 1) -> Path:
    return (
        data_dir / "workspaces" / f"run-{run_id}-{attempt}" / ".slipway" / "turns" / f"{turn}.jsonl"
    )


async def assert_exact_timeline(
    http: httpx.AsyncClient, run_id: int, data_dir: Path, lines: int
) -> dict[str, Any]:
    events = await all_events(http, run_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seq has gaps"
    assert len({e["id"] for e in events}) == len(events)
    says = [e["data"]["text"] for e in events if e["eventType"] == "assistant_message"]
    assert says == [f"line {i}" for i in range(lines)] + ["end"], says

    # The agent's own record: its output file, parsed afresh, is the timeline's agent part.
    log = turn_log(data_dir, run_id).read_text().splitlines()
    parser = StreamJsonParser()
    expected = [(ev.event_type, ev.data) for line in log for ev in parser.parse_line(line)]
    actual = [(e["eventType"], e["data"]) for e in events if e["eventType"] in AGENT_TYPES]
    assert actual == expected
    exited = [e for e in events if e["eventType"] == "agent_exited"]
    assert len(exited) == 1 and exited[0]["data"]["lines"] == len(log)
    return {"events": len(events), "agent_lines": len(log)}


async def at_least(http: httpx.AsyncClient, run_id: int, n: int) -> bool:
    return len(await says(http, run_id)) >= n


async def start_counting_run(
    http: httpx.AsyncClient, root: Path, lines: int, interval: float, printed: int
) -> dict[str, Any]:
    """A project on a fresh remote and a started counting run that has printed `printed`
    lines: the moment a fault test strikes."""
    project = await create_project(http, make_remote(root))
    run = await create_run(http, project["id"], counting_prompt(lines, interval))
    await command(http, run["id"], "start")
    await wait_for(lambda: at_least(http, run["id"], printed))
    return run
