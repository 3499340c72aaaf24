from __future__ import annotations

from typing import Any

from slipway.agents.stream_json import StreamJsonParser


class ScriptAdapter:
    """The deterministic agent of the agent image (`slipway-script-agent`); it prints Claude
    Code's stream-json, so it shares Claude Code's parser."""

    name = "script"

    def command(self, prompt_file: str, model: str | None) -> list[str]:
        return ["slipway-script-agent", "--prompt-file", prompt_file]

    def new_parser(self, state: dict[str, Any] | None = None) -> StreamJsonParser:
        return StreamJsonParser(state)
