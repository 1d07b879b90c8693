"""One session's state, held by a worker while it runs one attempt of it.

The worker runs the attempt with the local engine's own code (``Engine.run_attempt``: the
same prompt, sandbox, guards, checkpoints, supervisor and budget stop), which talks to a
Store; this is that store, for one session, in memory. What the attempt changed is read
back from it and merged into the workflow's state; a cancel from the workflow shows here
as the session cancelled, which the engine polls while the agent runs and stops it on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

import attrs

from orchcore.errors import NotFound, StoreError
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
from orchcore.runtable import RunTable
from orchcore.state import SessionState
from orchcore.tasks import Plan


class SessionCopy:
    """A Store (orchcore.ports.Store) over one session: the engine's view during one attempt.

    ``ledger`` is the day's spend so far of every session (from the ledger workflow), shown as
    ``attempts_since`` so the engine's budget guard counts what other workers spent.
    """

    def __init__(self, snap: Snapshot, ledger: Sequence[AttemptRecord] = ()) -> None:
        self._lock = threading.Lock()
        self._snap = Snapshot(snap.session, snap.plan, RunTable.of(snap.runs))
        self._ledger = list(ledger)
        self._events: list[Event] = []
        self._cancelled = False

    # what the worker reads back ----------------------------------------------------------
    def cancel(self) -> None:
        """The workflow cancelled the session: the engine sees it at its next poll."""
        self._cancelled = True

    def outcome(self, task_id: str) -> tuple[Session, TaskRun, tuple[Event, ...]]:
        with self._lock:
            return self._snap.session, self._snap.run(task_id), tuple(self._events)

    # the Store port ------------------------------------------------------------------------
    def _check(self, session_id: str) -> None:
        if session_id != self._snap.session.id:
            raise NotFound(f"no session {session_id!r} on this worker")

    def create(self, session: Session, plan: Plan, runs: Sequence[TaskRun], events: Sequence[Event]) -> None:
        raise StoreError("a worker's copy of a session creates no sessions")

    def load(self, session_id: str) -> Snapshot:
        self._check(session_id)
        with self._lock:
            return self._current()

    def _current(self) -> Snapshot:
        if not self._cancelled or self._snap.session.state is SessionState.CANCELLED:
            return self._snap
        cancelled = attrs.evolve(self._snap.session, state=SessionState.CANCELLED, reason="cancelled")
        self._snap = Snapshot(cancelled, self._snap.plan, self._snap.runs)
        return self._snap

    def session(self, session_id: str) -> Session:
        return self.load(session_id).session

    def transact(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        self._check(session_id)
        with self._lock:
            snap = self._current()
            mutation = change(snap)
            if mutation == Mutation():
                return snap
            session = attrs.evolve(mutation.session or snap.session, version=snap.session.version + 1)
            self._snap = Snapshot(session, snap.plan, RunTable.of(snap.runs).updated(mutation.runs))
            self._events.extend(mutation.events)
            return self._snap

    def append_events(self, session_id: str, events: Sequence[Event]) -> None:
        self._check(session_id)
        with self._lock:
            self._events.extend(events)

    def events(
        self,
        session_id: str,
        after: int = 0,
        limit: int | None = None,
        *,
        kinds: Collection[EventKind] | None = None,
    ) -> list[Event]:
        self._check(session_id)
        with self._lock:
            found = [e for e in self._events[after:] if kinds is None or e.kind in kinds]
        return found if limit is None else found[:limit]

    def sessions(self) -> list[SessionSummary]:
        s = self._snap.session
        return [SessionSummary(s.id, s.source, s.state, s.created_at, s.updated_at)]

    def attempts_since(self, start: datetime) -> list[AttemptRecord]:
        return [r for r in self._ledger if r.attempt.started_at >= start]

    def pending_notifications(self, now: datetime, limit: int) -> list[OutboxEntry]:
        return []  # the workflow keeps the outbox

    def claim_notification(self, key: str, channel: str, now: datetime, until: datetime) -> bool:
        raise NotFound(f"no notification {key!r} on this worker")

    def notification_sent(self, key: str, channel: str, at: datetime) -> None:
        raise NotFound(f"no notification {key!r} on this worker")

    def notification_failed(
        self, key: str, channel: str, error: str, next_attempt_at: datetime, *, give_up: bool
    ) -> None:
        raise NotFound(f"no notification {key!r} on this worker")

    def undelivered(self, session_id: str | None = None) -> list[OutboxEntry]:
        return []

    def acquire_lease(self, session_id: str, owner: str) -> None:
        return None  # the workflow is the one driver of its session

    def release_lease(self, session_id: str, owner: str) -> None:
        return None

    def lease_holder(self, session_id: str) -> str | None:
        return None

    def close(self) -> None:
        return None
