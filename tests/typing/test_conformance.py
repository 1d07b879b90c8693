"""Checked by ``mypy tests/typing``: a line fails to type-check if its adapter drifts from the port.

One function per adapter (mypy refuses to redefine ``_`` within one scope); none is ever called.
"""

from adapters.memory.store import InMemoryStore
from adapters.sqlite import SqliteStore
from orchcore.ports import Store


def _in_memory_store() -> None:
    _: Store = InMemoryStore()


def _sqlite_store(path: str) -> None:
    _: Store = SqliteStore(path)
