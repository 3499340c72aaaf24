"""Claude Code's `--output-format stream-json --verbose` lines as timeline events.

Message schema: `system` (init), `assistant` (content blocks: text, thinking, tool_use),
`user` (tool_result blocks), `stream_event` (partial deltas, with
`--include-partial-messages`) and a final `result` with usage and cost.
"""

from __future__ import annotations

import json
from typing import Any

from slipway.agents.base import ParsedEvent

MAX_TEXT = 64 * 1024
FILE_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit", "Read"}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n…[truncated]"


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


class StreamJsonParser:
    """Stateful only in which tool uses are still open, so it survives a worker restart when
    that state is heartbeated with the byte offset."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self._tools: dict[str, dict[str, Any]] = dict((state or {}).get("tools", {}))

    def state(self) -> dict[str, Any]:
        return {"tools": self._tools}

    def parse_line(self, line: str) -> list[ParsedEvent]:
        line = line.strip()
        if not line:
            return []
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            return [ParsedEvent("agent_output", {"text": _clip(line)})]
        if not isinstance(msg, dict):
            return [ParsedEvent("agent_output", {"text": _clip(line)})]
        kind = msg.get("type")
        if kind == "system":
            return self._system(msg)
        if kind == "assistant":
            return self._assistant(msg)
        if kind == "user":
            return self._user(msg)
        if kind == "stream_event":
            return self._stream_event(msg)
        if kind == "result":
            return self._result(msg)
        return [ParsedEvent("agent_output", {"text": _clip(line)})]

    def _system(self, msg: dict[str, Any]) -> list[ParsedEvent]:
        if msg.get("subtype") == "init":
            return [
                ParsedEvent(
                    "agent_started",
                    {
                        "sessionId": msg.get("session_id"),
                        "model": msg.get("model"),
                        "tools": msg.get("tools", []),
                        "cwd": msg.get("cwd"),
                    },
                )
            ]
        return [ParsedEvent("agent_system", {"subtype": msg.get("subtype")})]

    def _assistant(self, msg: dict[str, Any]) -> list[ParsedEvent]:
        events: list[ParsedEvent] = []
        message = msg.get("message") or {}
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text":
                events.append(
                    ParsedEvent("assistant_message", {"text": _clip(str(block.get("text", "")))})
                )
            elif btype == "thinking":
                events.append(
                    ParsedEvent(
                        "assistant_thinking", {"text": _clip(str(block.get("thinking", "")))}
                    )
                )
            elif btype == "tool_use":
                events.extend(self._tool_use(block))
        return events

    def _tool_use(self, block: dict[str, Any]) -> list[ParsedEvent]:
        tool_id = str(block.get("id", ""))
        name = str(block.get("name", ""))
        tool_input = block.get("input") or {}
        path = tool_input.get("file_path") if isinstance(tool_input, dict) else None
        shown_input = dict(tool_input) if isinstance(tool_input, dict) else {"input": tool_input}
        if isinstance(shown_input.get("content"), str):
            shown_input["content"] = _clip(shown_input["content"])
        events = [
            ParsedEvent(
                "tool_use",
                {"toolUseId": tool_id, "name": name, "input": shown_input},
                path=path if isinstance(path, str) else None,
            )
        ]
        remembered: dict[str, Any] = {"name": name}
        if name == "Bash" and isinstance(tool_input, dict):
            command = str(tool_input.get("command", ""))
            remembered["command"] = command
            events.append(
                ParsedEvent("command_started", {"toolUseId": tool_id, "command": command})
            )
        if isinstance(path, str):
            remembered["path"] = path
        self._tools[tool_id] = remembered
        return events

    def _user(self, msg: dict[str, Any]) -> list[ParsedEvent]:
        events: list[ParsedEvent] = []
        content = (msg.get("message") or {}).get("content") or []
        if isinstance(content, str):
            return events
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            tool_id = str(block.get("tool_use_id", ""))
            is_error = bool(block.get("is_error", False))
            text = _clip(_result_text(block.get("content")))
            tool = self._tools.pop(tool_id, {})
            severity = "error" if is_error else "info"
            events.append(
                ParsedEvent(
                    "tool_result",
                    {
                        "toolUseId": tool_id,
                        "name": tool.get("name"),
                        "isError": is_error,
                        "content": text,
                    },
                    severity=severity,
                    path=tool.get("path"),
                )
            )
            if tool.get("name") == "Bash":
                events.append(
                    ParsedEvent(
                        "command_finished",
                        {
                            "toolUseId": tool_id,
                            "command": tool.get("command"),
                            "isError": is_error,
                            "output": text,
                        },
                        severity=severity,
                    )
                )
        return events

    def _stream_event(self, msg: dict[str, Any]) -> list[ParsedEvent]:
        event = msg.get("event") or {}
        delta = event.get("delta") or {}
        if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
            return [ParsedEvent("assistant_chunk", {"text": str(delta.get("text", ""))})]
        return []

    def _result(self, msg: dict[str, Any]) -> list[ParsedEvent]:
        usage = msg.get("usage") or {}
        events = [
            ParsedEvent(
                "usage",
                {
                    "inputTokens": usage.get("input_tokens", 0),
                    "outputTokens": usage.get("output_tokens", 0),
                    "cacheReadInputTokens": usage.get("cache_read_input_tokens", 0),
                    "cacheCreationInputTokens": usage.get("cache_creation_input_tokens", 0),
                    "costUsd": msg.get("total_cost_usd", msg.get("cost_usd")),
                    "durationMs": msg.get("duration_ms"),
                    "numTurns": msg.get("num_turns"),
                },
            )
        ]
        if msg.get("is_error"):
            events.append(
                ParsedEvent(
                    "error",
                    {
                        "message": str(msg.get("result") or msg.get("subtype") or "agent failed"),
                        "subtype": msg.get("subtype"),
                    },
                    severity="error",
                )
            )
        else:
            events.append(
                ParsedEvent("agent_finished", {"result": _clip(str(msg.get("result") or ""))})
            )
        return events
