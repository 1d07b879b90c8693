"""SQLite adapters: the durable Store that every front end shares."""

from __future__ import annotations

from adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
