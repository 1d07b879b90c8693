from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol

from orchcore.records import (
    AttemptRecord,
    Event,
    EventKind,
    Mutation,
    OutboxEntry,
    Session,
    SessionSummary,
    Snapshot,
    TaskRun,
)
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
    - The outbox: a mutation's ``outbox`` entries are stored with it, or not at
      all; ``(key, channel)`` is unique and every entry names the transacted
      session (else StoreError, nothing written). An entry is due when it is
      open (not delivered, not given up), its ``next_attempt_at`` has come, and
      no earlier open entry of the same session and channel exists: a channel
      gets a session's notifications strictly in commit order.
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

    def events(
        self,
        session_id: str,
        after: int = 0,
        limit: int | None = None,
        *,
        kinds: Collection[EventKind] | None = None,
    ) -> list[Event]:
        """Events with ``seq > after`` in order, at most ``limit`` of them; only those of
        ``kinds`` if given (``limit`` counts those), so a view reads just what it shows."""
        ...

    def sessions(self) -> list[SessionSummary]:
        """All sessions, newest first."""
        ...

    def attempts_since(self, start: datetime) -> list[AttemptRecord]:
        """Every attempt of every session that started at or after ``start``, oldest
        first: the ledger a daily budget is counted from."""
        ...

    def pending_notifications(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Due outbox entries of every session, oldest (first committed) first, at most ``limit``."""
        ...

    def claim_notification(self, key: str, channel: str, now: datetime, until: datetime) -> bool:
        """Take a due entry for one delivery attempt, so that another sender (another
        process) does not send it too: True iff it was open with ``next_attempt_at <= now``;
        it is then not due again before ``until`` (when a sender that died mid-send is
        presumed dead). NotFound if there is no such entry."""
        ...

    def notification_sent(self, key: str, channel: str, at: datetime) -> None:
        """Record that ``channel`` took notification ``key``: counts the attempt and sets
        ``delivered_at``. Idempotent: once delivered, later calls change nothing.
        NotFound if there is no such entry."""
        ...

    def notification_failed(
        self, key: str, channel: str, error: str, next_attempt_at: datetime, *, give_up: bool
    ) -> None:
        """Record a failed attempt: count it, keep ``error``, retry at ``next_attempt_at``
        (or never, if ``give_up``). Changes nothing on a delivered entry. NotFound if
        there is no such entry."""
        ...

    def undelivered(self, session_id: str | None = None) -> list[OutboxEntry]:
        """Entries not delivered (open or given up) of one session (NotFound if unknown)
        or of all sessions, oldest first: what `orch status` reports."""
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
