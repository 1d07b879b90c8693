"""A Store kept in a dict, guarded by one lock: the reference implementation."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

import attrs

from orchcore.delivery import held_back
from orchcore.errors import NotFound, SessionBusy, StoreError
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
from orchcore.tasks import Plan


@attrs.define
class _Entry:
    session: Session
    plan: Plan
    runs: RunTable  # immutable: a snapshot shares it, a transaction replaces it
    events: list[Event]


class InMemoryStore:
    """Satisfies orchcore.ports.Store; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._leases: dict[str, str] = {}
        self._outbox: list[OutboxEntry] = []  # in commit order
        self._outbox_index: dict[tuple[str, str], int] = {}  # (key, channel) -> position
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _entry(self, session_id: str) -> _Entry:
        self._check_open()
        try:
            return self._entries[session_id]
        except KeyError:
            raise NotFound(f"no session {session_id!r}") from None

    def create(self, session: Session, plan: Plan, runs: Sequence[TaskRun], events: Sequence[Event]) -> None:
        with self._lock:
            if session.id in self._entries:
                raise StoreError(f"session {session.id!r} exists already")
            entry = _Entry(attrs.evolve(session, version=1), plan, RunTable(runs), [])
            self._entries[session.id] = entry
            self._append(entry, events)

    def _append(self, entry: _Entry, events: Sequence[Event]) -> None:
        start = len(entry.events)
        # copy the data: the caller's dict must not change what is stored
        entry.events.extend(
            attrs.evolve(e, seq=start + i + 1, data=copy.deepcopy(e.data)) for i, e in enumerate(events)
        )

    def _snapshot(self, entry: _Entry) -> Snapshot:
        return Snapshot(entry.session, entry.plan, entry.runs)

    def load(self, session_id: str) -> Snapshot:
        with self._lock:
            return self._snapshot(self._entry(session_id))

    def session(self, session_id: str) -> Session:
        with self._lock:
            return self._entry(session_id).session

    def transact(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        with self._lock:
            entry = self._entry(session_id)
            mutation = change(self._snapshot(entry))
            if mutation == Mutation():
                return self._snapshot(entry)
            for run in mutation.runs:
                if run.task_id not in entry.runs:
                    raise StoreError(f"task {run.task_id!r} is not in session {session_id!r}")
            base = mutation.session or entry.session
            if base.id != session_id:
                raise StoreError(f"a change to session {session_id!r} returned session {base.id!r}")
            self._check_outbox(session_id, mutation.outbox)
            entry.session = attrs.evolve(base, version=entry.session.version + 1)
            entry.runs = entry.runs.updated(mutation.runs)
            self._append(entry, mutation.events)
            for item in mutation.outbox:
                self._outbox_index[(item.key, item.channel)] = len(self._outbox)
                note = item.notification
                self._outbox.append(
                    attrs.evolve(item, notification=attrs.evolve(note, data=copy.deepcopy(note.data)))
                )
            return self._snapshot(entry)

    def _check_outbox(self, session_id: str, items: Sequence[OutboxEntry]) -> None:
        seen: set[tuple[str, str]] = set()
        for item in items:
            ident = (item.key, item.channel)
            if item.session_id != session_id:
                raise StoreError(
                    f"outbox entry {item.key!r} is for session {item.session_id!r}, not {session_id!r}"
                )
            if ident in seen or ident in self._outbox_index:
                raise StoreError(f"outbox entry {item.key!r} for {item.channel!r} exists already")
            seen.add(ident)

    def append_events(self, session_id: str, events: Sequence[Event]) -> None:
        with self._lock:
            self._append(self._entry(session_id), events)

    def events(
        self,
        session_id: str,
        after: int = 0,
        limit: int | None = None,
        *,
        kinds: Collection[EventKind] | None = None,
    ) -> list[Event]:
        with self._lock:
            found = self._entry(session_id).events[max(after, 0) :]
            if kinds is not None:
                found = [e for e in found if e.kind in kinds]
            return found if limit is None else found[: max(limit, 0)]

    def sessions(self) -> list[SessionSummary]:
        with self._lock:
            entries = sorted(
                self._entries.values(), key=lambda e: (e.session.created_at, e.session.id), reverse=True
            )
            return [
                SessionSummary(
                    e.session.id,
                    e.session.source,
                    e.session.state,
                    e.session.created_at,
                    e.session.updated_at,
                )
                for e in entries
            ]

    def attempts_since(self, start: datetime) -> list[AttemptRecord]:
        with self._lock:
            found = [
                AttemptRecord(session_id, task_id, attempt)
                for session_id, entry in self._entries.items()
                for task_id, run in entry.runs.items()
                for attempt in run.attempts
                if attempt.started_at >= start
            ]
            return sorted(
                found, key=lambda r: (r.attempt.started_at, r.session_id, r.task_id, r.attempt.number)
            )

    def pending_notifications(self, now: datetime, limit: int) -> list[OutboxEntry]:
        with self._lock:
            self._check_open()
            due: list[OutboxEntry] = []
            blocked: set[tuple[str, str]] = set()  # streams with an earlier open entry
            for item in self._outbox:
                if not item.open:
                    continue
                stream = (item.session_id, item.channel)
                if not held_back(item):  # a held-back entry neither waits nor blocks
                    if stream in blocked:
                        continue
                    blocked.add(stream)
                if item.next_attempt_at <= now:
                    due.append(item)
            return due[: max(limit, 0)]

    def _outbox_entry(self, key: str, channel: str) -> int:
        self._check_open()
        try:
            return self._outbox_index[(key, channel)]
        except KeyError:
            raise NotFound(f"no outbox entry {key!r} for channel {channel!r}") from None

    def claim_notification(self, key: str, channel: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            position = self._outbox_entry(key, channel)
            item = self._outbox[position]
            if not item.open or item.next_attempt_at > now:
                return False
            self._outbox[position] = attrs.evolve(item, next_attempt_at=until)
            return True

    def notification_sent(self, key: str, channel: str, at: datetime) -> None:
        with self._lock:
            position = self._outbox_entry(key, channel)
            item = self._outbox[position]
            if item.delivered_at is None:
                self._outbox[position] = attrs.evolve(item, attempts=item.attempts + 1, delivered_at=at)

    def notification_failed(
        self, key: str, channel: str, error: str, next_attempt_at: datetime, *, give_up: bool
    ) -> None:
        with self._lock:
            position = self._outbox_entry(key, channel)
            item = self._outbox[position]
            if item.delivered_at is None:
                self._outbox[position] = attrs.evolve(
                    item,
                    attempts=item.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                    gave_up=item.gave_up or give_up,
                )

    def undelivered(self, session_id: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            if session_id is not None:
                self._entry(session_id)
            self._check_open()
            return [
                item
                for item in self._outbox
                if item.delivered_at is None and (session_id is None or item.session_id == session_id)
            ]

    def acquire_lease(self, session_id: str, owner: str) -> None:
        with self._lock:
            self._entry(session_id)
            holder = self._leases.get(session_id)
            if holder is not None and holder != owner:
                raise SessionBusy(f"session {session_id} is driven by {holder}")
            self._leases[session_id] = owner

    def release_lease(self, session_id: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(session_id) == owner:
                del self._leases[session_id]

    def lease_holder(self, session_id: str) -> str | None:
        with self._lock:
            return self._leases.get(session_id)

    def close(self) -> None:
        self._closed = True
