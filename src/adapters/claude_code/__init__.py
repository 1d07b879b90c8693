"""The Claude Code CLI as an orchcore Agent: run ``claude -p`` and read its stream-json.

Names load on first use: the PreToolUse hook (``python -m adapters.claude_code.hook``) runs
on every tool call and needs none of the agent's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.claude_code.agent import ClaudeCodeAgent, from_config
    from adapters.claude_code.stream import StreamAccumulator, parse_line

_EXPORTS = {
    "ClaudeCodeAgent": "adapters.claude_code.agent",
    "from_config": "adapters.claude_code.agent",
    "StreamAccumulator": "adapters.claude_code.stream",
    "parse_line": "adapters.claude_code.stream",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = ["ClaudeCodeAgent", "StreamAccumulator", "from_config", "parse_line"]
