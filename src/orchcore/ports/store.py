from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from orchcore.records import AttemptRecord, Event, Mutation, Session, SessionSummary, Snapshot, TaskRun
from orchcore.tasks import Plan


class Store(Protocol):
    """Keeps sessions durable: the single source of truth every front end shares.

    Promises:
    - ``create`` and ``transact`` are atomic: all of a mutation or none of it.
    - ``transact`` runs ``change`` on the freshest state with every other writer
      excluded (serialisable), stores its mutation, bumps the session's version
      by one and returns the new snapshot. If ``change`` raises, nothing is
      written and the exception propagates unchanged.
    - Events are append-only; ``seq`` grows by one per session, starting at 1.
    - Unknown sessions raise NotFound; I/O failures raise StoreError.
    - A lease lets one engine drive a session: ``acquire_lease`` raises
      SessionBusy while another live holder has it. A holder that dies without
      releasing loses the lease (the adapter decides how it notices).
    """

    def create(self, session: Session, plan: Plan, runs: Sequence[TaskRun], events: Sequence[Event]) -> None:
        """Store a new session with its plan, runs and first events."""
        ...

    def load(self, session_id: str) -> Snapshot:
        """The session, its plan and task runs, as of now."""
        ...

    def session(self, session_id: str) -> Session:
        """Just the session row: cheap, for polling while an agent runs."""
        ...

    def transact(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        """Apply ``change`` to the current state atomically; return the new state."""
        ...

    def append_events(self, session_id: str, events: Sequence[Event]) -> None:
        """Append events that change no state (agent activity), atomically."""
        ...

    def events(self, session_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events with ``seq > after`` in order, at most ``limit`` of them."""
        ...

    def sessions(self) -> list[SessionSummary]:
        """All sessions, newest first."""
        ...

    def attempts_since(self, start: datetime) -> list[AttemptRecord]:
        """Every attempt of every session that started at or after ``start``, oldest
        first: the ledger a daily budget is counted from."""
        ...

    def acquire_lease(self, session_id: str, owner: str) -> None:
        """Become the one engine driving this session, or raise SessionBusy."""
        ...

    def release_lease(self, session_id: str, owner: str) -> None:
        """Give the lease up (no-op if ``owner`` does not hold it)."""
        ...

    def lease_holder(self, session_id: str) -> str | None:
        """The live holder's owner string, or None."""
        ...

    def close(self) -> None:
        """Release resources. The store is unusable afterwards."""
        ...
