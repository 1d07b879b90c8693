"""Gemini CLI as an orchcore Agent: run ``gemini -p`` headless and read its stream-json."""

from __future__ import annotations

from adapters.gemini.agent import GeminiAgent, from_config
from adapters.gemini.events import RunTally
from adapters.gemini.stream import parse_line

__all__ = ["GeminiAgent", "RunTally", "from_config", "parse_line"]
