"""Aider as an orchcore Agent: run ``aider --message-file`` and read its plain-text output."""

from __future__ import annotations

from adapters.aider.agent import AiderAgent, from_config
from adapters.aider.stream import AiderOutput

__all__ = ["AiderAgent", "AiderOutput", "from_config"]
