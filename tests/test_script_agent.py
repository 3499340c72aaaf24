"""The `script` agent's line language and the stream-json it prints (run on the host)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from slipway.agents import get_adapter
from slipway.image import IMAGE_CONTEXT

AGENT = IMAGE_CONTEXT / "bin" / "slipway-script-agent"


def run_script(tmp_path: Path, prompt: str) -> tuple[int, list[dict]]:
    (tmp_path / "prompt").write_text(prompt)
    proc = subprocess.run(
        [sys.executable, str(AGENT), "--prompt-file", str(tmp_path / "prompt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def test_every_step(tmp_path: Path):
    (tmp_path / "old.txt").write_text("bye\n")
    code, lines = run_script(
        tmp_path,
        "\n".join(
            [
                "# a comment",
                "say hello",
                "write dir/a.txt",
                "one",
                "",
                "two",
                "EOF",
                "append dir/a.txt",
                "three",
                "EOF",
                "delete old.txt",
                "run echo ran > ran.txt",
                "sleep 0.01",
                "",
            ]
        ),
    )
    assert code == 0
    assert (tmp_path / "dir/a.txt").read_text() == "one\n\ntwo\nthree\n"
    assert not (tmp_path / "old.txt").exists()
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
    assert [line["type"] for line in lines] == [
        "system",
        "assistant",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "result",
    ]
    write = lines[2]["message"]["content"][0]
    assert write["type"] == "tool_use" and write["name"] == "Write"
    assert write["input"]["file_path"].endswith("dir/a.txt")
    assert lines[3]["message"]["content"][0]["tool_use_id"] == write["id"]
    assert lines[-1]["subtype"] == "success" and lines[-1]["is_error"] is False


def test_fail_and_failing_run_fail_the_turn(tmp_path: Path):
    code, lines = run_script(tmp_path, "say a\nfail the build is red\nsay never\n")
    assert code == 1
    assert lines[-1]["is_error"] is True and lines[-1]["result"] == "the build is red"
    code, lines = run_script(tmp_path, "run false\n")
    assert code == 1
    assert lines[-2]["message"]["content"][0]["is_error"] is True
    assert "exit code 1" in lines[-1]["result"]


def test_malformed_scripts_fail_with_a_reason(tmp_path: Path):
    for prompt, reason in [
        ("write a.txt\nno end\n", "no closing EOF"),
        ("dance\n", "unknown step"),
        ("sleep soon\n", "number of seconds"),
    ]:
        code, lines = run_script(tmp_path, prompt)
        assert code == 1 and reason in lines[-1]["result"], prompt


def test_script_output_parses_like_claude_code(tmp_path: Path):
    _, lines = run_script(tmp_path, "say hi\nrun true\n")
    parser = get_adapter("script").new_parser()
    types = [e.event_type for line in lines for e in parser.parse_line(json.dumps(line))]
    assert types == [
        "agent_started",
        "assistant_message",
        "tool_use",
        "command_started",
        "tool_result",
        "command_finished",
        "usage",
        "agent_finished",
    ]
