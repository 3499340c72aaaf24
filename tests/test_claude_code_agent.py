"""The claude-code adapter against a recorded Claude Code transcript, replayed by a stand-in
`claude` in the test image (no model API here)."""

from __future__ import annotations

import json
from pathlib import Path

from slipway.agents.stream_json import StreamJsonParser
from tests.conftest import FIXTURES, Stack
from tests.helpers import all_events, command, create_project, create_run, wait_status

TRANSCRIPT = FIXTURES / "claude" / "transcript.jsonl"


def test_parser_reads_claude_codes_message_schema():
    parser = StreamJsonParser()
    events = [e for line in TRANSCRIPT.read_text().splitlines() for e in parser.parse_line(line)]
    types = [e.event_type for e in events]
    assert types == [
        "agent_started",
        "assistant_message",
        "tool_use",
        "command_started",
        "tool_result",
        "command_finished",
        "assistant_thinking",
        "tool_use",
        "tool_result",
        "assistant_message",
        "usage",
        "agent_finished",
    ]
    started = events[0].data
    assert started["model"] == "claude-sonnet-4-5-20250929" and "Write" in started["tools"]
    bash = events[3].data
    assert bash["command"] == "ls -la"
    assert events[5].data["command"] == "ls -la" and "README.md" in events[5].data["output"]
    assert events[7].path == "/workspace/CONTRIBUTING.md"
    assert events[8].data["name"] == "Write" and events[8].path == "/workspace/CONTRIBUTING.md"
    usage = events[10].data
    assert usage["costUsd"] == 0.0412345 and usage["outputTokens"] == 276
    assert usage["inputTokens"] == 22 and usage["numTurns"] == 5


def test_parser_state_survives_a_restart_between_tool_use_and_result():
    lines = TRANSCRIPT.read_text().splitlines()
    first = StreamJsonParser()
    for line in lines[:3]:
        first.parse_line(line)
    resumed = StreamJsonParser(json.loads(json.dumps(first.state())))
    events = resumed.parse_line(lines[3])
    assert [e.event_type for e in events] == ["tool_result", "command_finished"]
    assert events[1].data["command"] == "ls -la"


def test_error_results_and_non_json_lines():
    parser = StreamJsonParser()
    [usage, error] = parser.parse_line(
        json.dumps({"type": "result", "subtype": "error_max_turns", "is_error": True, "usage": {}})
    )
    assert error.event_type == "error" and error.severity == "error"
    assert error.data["message"] == "error_max_turns"
    [out] = parser.parse_line("Warning: something on stdout")
    assert out.event_type == "agent_output"


async def test_claude_code_run_end_to_end(stack: Stack, remote: Path):
    http = stack.http
    project = await create_project(http, remote)
    run = await create_run(
        http,
        project["id"],
        "Add a CONTRIBUTING guide",
        agent="claude-code",
        selectedModel="claude-sonnet-4-5",
    )
    await command(http, run["id"], "start")
    done = await wait_status(http, run["id"], "review", "failed")
    assert done["status"] == "review", done["failureReason"]
    events = await all_events(http, run["id"])
    started = next(e for e in events if e["eventType"] == "agent_started")
    assert started["data"]["model"] == "claude-sonnet-4-5"  # --model reached the CLI
    usage = next(e for e in events if e["eventType"] == "usage")
    assert usage["data"]["costUsd"] == 0.0412345
    updated = [e for e in events if e["eventType"] == "file_updated"]
    assert [e["path"] for e in updated] == ["CONTRIBUTING.md"]
    tool_uses = [e for e in events if e["eventType"] == "tool_use"]
    assert [e["data"]["name"] for e in tool_uses] == ["Bash", "Write"]
    assert tool_uses[1]["path"] == "CONTRIBUTING.md"
