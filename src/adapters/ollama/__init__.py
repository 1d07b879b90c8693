"""The Supervisor, Summarizer and Drafter ports on a local LLM served by Ollama (the ``[ollama]`` extra of orchcore-cli).

The names below load their module (and the ``ollama`` client, ~300 ms) on first use, so
``adapters.ollama.reach`` can ask whether a server listens before anything of the client loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.ollama.drafter import OllamaDrafter
    from adapters.ollama.summarizer import OllamaSummarizer
    from adapters.ollama.supervisor import DEFAULT_HOST, DEFAULT_MODEL, OllamaSupervisor, ollama_client

_WHERE = {
    "DEFAULT_HOST": "supervisor",
    "DEFAULT_MODEL": "supervisor",
    "OllamaDrafter": "drafter",
    "OllamaSummarizer": "summarizer",
    "OllamaSupervisor": "supervisor",
    "ollama_client": "supervisor",
}

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MODEL",
    "OllamaDrafter",
    "OllamaSummarizer",
    "OllamaSupervisor",
    "ollama_client",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
