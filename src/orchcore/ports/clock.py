from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time, so the domain never reads a clock itself."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (the engine waiting out a backoff or a usage limit)."""
        ...


class Ids(Protocol):
    """Makes identifiers, so the domain stays deterministic under test."""

    def new_id(self) -> str:
        """A new identifier, unique within this store; short enough to type."""
        ...
