from __future__ import annotations

from typing import Any, Protocol


class UnknownAgentError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown agent {name!r}")
        self.name = name


class ParsedEvent:
    """An event parsed from one agent line, before it gets a key and a seq."""

    __slots__ = ("event_type", "data", "severity", "path")

    def __init__(
        self,
        event_type: str,
        data: dict[str, Any],
        severity: str = "info",
        path: str | None = None,
    ) -> None:
        self.event_type = event_type
        self.data = data
        self.severity = severity
        self.path = path


class StreamParser(Protocol):
    def parse_line(self, line: str) -> list[ParsedEvent]: ...

    def state(self) -> dict[str, Any]:
        """What the parser remembers, small enough to heartbeat with the byte offset."""
        ...


class AgentAdapter(Protocol):
    name: str

    def command(self, prompt_file: str, model: str | None) -> list[str]:
        """The argv that runs one turn inside the container, reading the prompt from a file."""
        ...

    def new_parser(self, state: dict[str, Any] | None = None) -> StreamParser: ...
