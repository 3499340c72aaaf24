from __future__ import annotations

from typing import Any

from slipway.agents.stream_json import StreamJsonParser


class ClaudeCodeAdapter:
    name = "claude-code"

    def command(self, prompt_file: str, model: str | None) -> list[str]:
        # The prompt is read inside the container so that it never has to fit a shell quote.
        script = (
            'set -- -p "$(cat "$1")" --output-format stream-json --verbose ${2:+--model "$2"}; '
            'exec claude "$@"'
        )
        return ["sh", "-c", script, "slipway-claude", prompt_file, model or ""]

    def new_parser(self, state: dict[str, Any] | None = None) -> StreamJsonParser:
        return StreamJsonParser(state)
