"""The Supervisor port on a local LLM served by Ollama (``pip install 'orchcore-cli[ollama]'``)."""

from __future__ import annotations

from adapters.ollama.supervisor import (
    DEFAULT_HOST,
    DEFAULT_MODEL,
    OllamaSupervisor,
    ollama_client,
)

__all__ = ["DEFAULT_HOST", "DEFAULT_MODEL", "OllamaSupervisor", "ollama_client"]
