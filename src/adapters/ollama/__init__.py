"""The Supervisor, Summarizer and Drafter ports on a local LLM served by Ollama (the ``[ollama]`` extra of orchcore-cli)."""

from __future__ import annotations

from adapters.ollama.drafter import OllamaDrafter
from adapters.ollama.summarizer import OllamaSummarizer
from adapters.ollama.supervisor import (
    DEFAULT_HOST,
    DEFAULT_MODEL,
    OllamaSupervisor,
    ollama_client,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MODEL",
    "OllamaDrafter",
    "OllamaSummarizer",
    "OllamaSupervisor",
    "ollama_client",
]
