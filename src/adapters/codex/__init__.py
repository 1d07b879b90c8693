"""The OpenAI Codex CLI as an orchcore Agent: run ``codex exec --json`` and read its events."""

from __future__ import annotations

from adapters.codex.agent import CodexAgent, from_config, sandbox_mode
from adapters.codex.stream import CodexStream

__all__ = ["CodexAgent", "CodexStream", "from_config", "sandbox_mode"]
