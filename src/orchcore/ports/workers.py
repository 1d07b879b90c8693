"""The Workers port: run pieces of the engine's work side by side (one per running task).

The domain may not start threads itself; the engine that drives N agents at once starts each
attempt through this port, waits for the first to end, and serializes its store writes with
the port's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Protocol


class Job(Protocol):
    """One piece of work started by ``Workers.start``."""

    def done(self) -> bool:
        """True once the work has returned or raised."""
        ...

    def error(self) -> BaseException | None:
        """What the work raised (None while it runs, or when it returned)."""
        ...


class Workers(Protocol):
    """Runs work concurrently with the caller and with each other."""

    def start(self, work: Callable[[], None]) -> Job:
        """Begin ``work`` now, beside the caller; returns at once."""
        ...

    def wait_any(self, jobs: Collection[Job], timeout_s: float) -> None:
        """Return as soon as one of ``jobs`` is done (at once if one is), or after ``timeout_s``."""
        ...

    def wake(self) -> None:
        """End the caller's current ``wait_any`` now, or its next one at once (one wake, one
        return): a job reached a point the caller acts on before the job itself ends. The caller
        is the code that starts jobs: a job's own ``wait_any`` (on another job) neither ends
        for a wake nor takes it."""
        ...

    def lock(self) -> AbstractContextManager[object]:
        """A re-entrant lock shared by every job and the caller: one holder at a time."""
        ...
