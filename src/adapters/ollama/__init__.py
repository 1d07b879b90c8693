"""The Supervisor and Summarizer ports on a local LLM served by Ollama (the ``[ollama]`` extra of orchcore-cli)."""

from __future__ import annotations

from adapters.ollama.summarizer import OllamaSummarizer
from adapters.ollama.supervisor import (
    DEFAULT_HOST,
    DEFAULT_MODEL,
    OllamaSupervisor,
    ollama_client,
)

__all__ = ["DEFAULT_HOST", "DEFAULT_MODEL", "OllamaSummarizer", "OllamaSupervisor", "ollama_client"]
