"""Agent adapters: how to start an agent for a prompt and how to read what it prints."""

from slipway.agents.base import AgentAdapter, UnknownAgentError
from slipway.agents.claude_code import ClaudeCodeAdapter
from slipway.agents.script import ScriptAdapter

ADAPTERS: dict[str, AgentAdapter] = {a.name: a for a in (ClaudeCodeAdapter(), ScriptAdapter())}


def get_adapter(name: str) -> AgentAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnknownAgentError(name) from None


__all__ = ["ADAPTERS", "AgentAdapter", "UnknownAgentError", "get_adapter"]
