"""The Claude Code CLI as an orchcore Agent: run ``claude -p`` and read its stream-json."""

from __future__ import annotations

from adapters.claude_code.agent import ClaudeCodeAgent, from_config
from adapters.claude_code.stream import StreamAccumulator, parse_line

__all__ = ["ClaudeCodeAgent", "StreamAccumulator", "from_config", "parse_line"]
