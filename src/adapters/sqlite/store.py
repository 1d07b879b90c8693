"""A Store in one SQLite file, shared safely by several processes.

Writers serialise on ``BEGIN IMMEDIATE`` (WAL mode, so readers never wait);
a lease is an OS advisory lock on a sidecar file, so it dies with its holder.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

from adapters.sqlite import _convert as convert
from adapters.sqlite import _outbox as outbox
from adapters.sqlite._lease import LockFiles
from adapters.sqlite._schema import PRAGMAS, SCHEMA_VERSION, create_schema, migrate
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

_LIBRARY_ERRORS = (
    sqlite3.Error,
    OSError,
    ValueError,  # bad JSON, unknown enum value, text that is not UTF-8
    TypeError,  # event data that JSON cannot hold
    ArithmeticError,  # bad decimal text (decimal.InvalidOperation), an int too large for SQLite
)


@contextlib.contextmanager
def _map_errors(path: Path) -> Iterator[None]:
    """Turn library failures into StoreError; orchcore errors pass through."""
    try:
        yield
    except _LIBRARY_ERRORS as exc:
        raise StoreError(f"sqlite store {path}: {exc}") from exc


@attrs.frozen
class _Lease:
    owner: str
    fd: int


class SqliteStore:
    """Satisfies orchcore.ports.Store on a SQLite file (created, with its directory, if missing).

    One connection per object, guarded by a lock, so one store may be shared by threads.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        self._locks = LockFiles(self._path)
        self._leases: dict[str, _Lease] = {}
        self._plans: dict[str, Plan] = {}  # plans never change: read and parse each once
        # the runs read or written last, by session version: a transaction re-reads only what changed since
        self._runs: dict[str, tuple[int, RunTable]] = {}
        self._conn: sqlite3.Connection | None = None
        with _map_errors(self._path):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; every one here is explicit.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=5.0)
            try:
                for pragma in PRAGMAS:
                    conn.execute(pragma)
                self._ensure_schema(conn)
            except BaseException:
                conn.close()
                raise
        self._conn = conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self._write(conn):
            # Re-read inside the write lock: another process may have just created it.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                import sqlite_utils  # only to create a database: opening one stays fast for `orch status`

                create_schema(sqlite_utils.Database(conn, execute_plugins=False))
            elif version < SCHEMA_VERSION:
                migrate(conn, version)
            elif version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path} has schema version {version}; this orchcore reads {SCHEMA_VERSION}"
                )

    # -- plumbing ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One write transaction; errors inside are translated, then rolled back."""
        try:
            with _map_errors(self._path):
                conn.execute("BEGIN IMMEDIATE")
                yield
                conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    @contextlib.contextmanager
    def _read(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One read transaction: several queries see one consistent state."""
        try:
            with _map_errors(self._path):
                conn.execute("BEGIN")
                yield
                conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def _session_row(self, conn: sqlite3.Connection, session_id: str) -> convert.Row:
        row: convert.Row | None = conn.execute(
            f"SELECT {convert.SESSION_COLUMNS} FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no session {session_id!r}")
        return row

    def _plan(self, conn: sqlite3.Connection, session_id: str) -> Plan:
        cached = self._plans.get(session_id)
        if cached is not None:
            return cached  # a session's plan is written once, with the session, and never changes
        row = conn.execute("SELECT plan FROM plans WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise NotFound(f"no plan for session {session_id!r}")
        plan = convert.plan_from_json(row[0])
        self._plans[session_id] = plan
        return plan

    def _snapshot(self, conn: sqlite3.Connection, session_id: str) -> Snapshot:
        """The session as stored now; reads only the runs changed since the cached version."""
        session = convert.session_from_row(self._session_row(conn, session_id))
        plan = self._plan(conn, session_id)
        cached = self._runs.get(session_id)
        if cached is not None and cached[0] == session.version:
            # every change bumps the version (in any process), so an equal version means equal runs
            return Snapshot(session, plan, cached[1])
        if cached is not None and cached[0] > session.version:
            cached = None  # not this file's history (replaced under us): read it all
        changed = self._runs_changed(conn, session_id, None if cached is None else cached[0])
        runs = RunTable(changed) if cached is None else cached[1].updated(changed)
        self._runs[session_id] = (session.version, runs)
        return Snapshot(session, plan, runs)

    @staticmethod
    def _runs_changed(conn: sqlite3.Connection, session_id: str, since: int | None) -> list[TaskRun]:
        """The runs changed after version ``since`` (all of them if None), with their attempts."""
        args: tuple[str | int, ...] = (session_id,)
        if since is None:
            runs_where, attempts_where = "", ""
        else:
            runs_where = " AND changed_in > ?2"
            attempts_where = (
                " AND task_id IN (SELECT task_id FROM task_runs WHERE session_id = ?1 AND changed_in > ?2)"
            )
            args = (session_id, since)
        run_rows = conn.execute(
            f"SELECT {convert.RUN_COLUMNS} FROM task_runs WHERE session_id = ?1{runs_where} ORDER BY position",
            args,
        ).fetchall()
        attempt_rows = conn.execute(
            f"SELECT {convert.ATTEMPT_COLUMNS} FROM attempts WHERE session_id = ?1{attempts_where}"
            " ORDER BY task_id, number",
            args,
        ).fetchall()
        return list(convert.runs_from_rows(run_rows, attempt_rows).values())

    @staticmethod
    def _insert_attempts(conn: sqlite3.Connection, session_id: str, runs: Sequence[TaskRun]) -> None:
        conn.executemany(
            f"INSERT INTO attempts (session_id, {convert.ATTEMPT_COLUMNS})"
            f" VALUES ({', '.join('?' * (1 + convert.ATTEMPT_COLUMNS.count(',') + 1))})",
            [convert.attempt_values(session_id, r.task_id, a) for r in runs for a in r.attempts],
        )

    @staticmethod
    def _append(conn: sqlite3.Connection, session_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        last: int = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM events WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        conn.executemany(
            f"INSERT INTO events (session_id, {convert.EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [convert.event_values(session_id, last + i, e) for i, e in enumerate(events, start=1)],
        )

    def _apply(
        self, conn: sqlite3.Connection, session_id: str, before: Snapshot, mutation: Mutation
    ) -> Snapshot:
        for run in mutation.runs:
            if run.task_id not in before.runs:
                raise StoreError(f"task {run.task_id!r} is not in session {session_id!r}")
        base = mutation.session or before.session
        if base.id != session_id:
            raise StoreError(f"a change to session {session_id!r} cannot rename it to {base.id!r}")
        session = attrs.evolve(base, version=before.session.version + 1)
        conn.execute(
            "UPDATE sessions SET source = ?, state = ?, created_at = ?, updated_at = ?, auto_approve = ?,"
            " agent = ?, waiting_for = ?, gate = ?, reason = ?, version = ? WHERE id = ?",
            (*convert.session_values(session, session.version)[1:], session_id),
        )
        changed = {r.task_id: r for r in mutation.runs}  # the last one wins, as in a dict
        if changed:
            conn.executemany(
                "UPDATE task_runs SET state = ?, approved = ?, reviewed = ?, reason = ?, question = ?, answer = ?,"
                " changed_in = ? WHERE session_id = ? AND task_id = ?",
                [
                    (*convert.run_values(r)[1:], session.version, session_id, r.task_id)
                    for r in changed.values()
                ],
            )
            # A run's attempts are replaced whole, like the run itself.
            conn.executemany(
                "DELETE FROM attempts WHERE session_id = ? AND task_id = ?",
                [(session_id, task_id) for task_id in changed],
            )
            self._insert_attempts(conn, session_id, list(changed.values()))
        self._append(conn, session_id, mutation.events)
        outbox.insert(conn, session_id, mutation.outbox)
        return Snapshot(session, before.plan, RunTable.of(before.runs).updated(changed.values()))

    # -- the port -----------------------------------------------------------------

    def create(self, session: Session, plan: Plan, runs: Sequence[TaskRun], events: Sequence[Event]) -> None:
        with self._lock:
            conn = self._connection()
            with self._write(conn):
                exists = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session.id,)).fetchone()
                if exists is not None:
                    raise StoreError(f"session {session.id!r} exists already")
                conn.execute(
                    f"INSERT INTO sessions ({convert.SESSION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    convert.session_values(session, version=1),
                )
                conn.execute(
                    "INSERT INTO plans (session_id, plan) VALUES (?, ?)",
                    (session.id, convert.plan_to_json(plan)),
                )
                conn.executemany(
                    f"INSERT INTO task_runs (session_id, position, changed_in, {convert.RUN_COLUMNS})"
                    " VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                    [(session.id, i, *convert.run_values(r)) for i, r in enumerate(runs)],
                )
                self._insert_attempts(conn, session.id, runs)
                self._append(conn, session.id, events)

    def load(self, session_id: str) -> Snapshot:
        with self._lock:
            conn = self._connection()
            with self._read(conn):
                return self._snapshot(conn, session_id)

    def session(self, session_id: str) -> Session:
        with self._lock, _map_errors(self._path):
            return convert.session_from_row(self._session_row(self._connection(), session_id))

    def transact(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        with self._lock:
            conn = self._connection()
            try:
                with _map_errors(self._path):
                    conn.execute("BEGIN IMMEDIATE")
                    before = self._snapshot(conn, session_id)
                mutation = change(before)  # its exceptions propagate untranslated
                with _map_errors(self._path):
                    if mutation == Mutation():
                        conn.execute("ROLLBACK")
                        return before
                    after = self._apply(conn, session_id, before, mutation)
                    conn.execute("COMMIT")
                    self._runs[session_id] = (after.session.version, RunTable.of(after.runs))
                    return after
            except BaseException:
                self._rollback(conn)
                raise

    def append_events(self, session_id: str, events: Sequence[Event]) -> None:
        with self._lock:
            conn = self._connection()
            with self._write(conn):
                self._session_row(conn, session_id)
                self._append(conn, session_id, events)

    def events(
        self,
        session_id: str,
        after: int = 0,
        limit: int | None = None,
        *,
        kinds: Collection[EventKind] | None = None,
    ) -> list[Event]:
        # only the wanted kinds are decoded: `orch status` shows a handful of a run's thousands
        wanted = sorted({EventKind(k).value for k in kinds}) if kinds is not None else []
        of_kinds = "" if kinds is None else f" AND kind IN ({', '.join('?' * len(wanted))})"
        with self._lock:
            conn = self._connection()
            with self._read(conn):
                rows = conn.execute(
                    f"SELECT {convert.EVENT_COLUMNS} FROM events"
                    f" WHERE session_id = ? AND seq > ?{of_kinds} ORDER BY seq LIMIT ?",
                    (session_id, after, *wanted, -1 if limit is None else max(limit, 0)),
                ).fetchall()
                if not rows:
                    self._session_row(conn, session_id)
                return convert.events_from_rows(rows)

    def sessions(self) -> list[SessionSummary]:
        with self._lock, _map_errors(self._path):
            rows = (
                self._connection()
                .execute(f"SELECT {convert.SUMMARY_COLUMNS} FROM sessions ORDER BY created_at DESC, id DESC")
                .fetchall()
            )
            return [convert.summary_from_row(row) for row in rows]

    def attempts_since(self, start: datetime) -> list[AttemptRecord]:
        since = convert.time_to_text(start)
        with self._lock, _map_errors(self._path):
            rows = (
                self._connection()
                .execute(
                    f"SELECT session_id, {convert.ATTEMPT_COLUMNS} FROM attempts"
                    " WHERE started_at >= ? ORDER BY started_at, session_id, task_id, number",
                    (since,),
                )
                .fetchall()
            )
            return [convert.attempt_record_from_row(row) for row in rows]

    # -- the outbox (queries in _outbox.py) ----------------------------------------------

    def pending_notifications(self, now: datetime, limit: int) -> list[OutboxEntry]:
        with self._lock:
            conn = self._connection()
            with self._read(conn):
                return outbox.pending(conn, now, limit)

    def claim_notification(self, key: str, channel: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            conn = self._connection()
            with self._write(conn):
                return outbox.claim(conn, key, channel, now, until)

    def notification_sent(self, key: str, channel: str, at: datetime) -> None:
        with self._lock:
            conn = self._connection()
            with self._write(conn):
                outbox.sent(conn, key, channel, at)

    def notification_failed(
        self, key: str, channel: str, error: str, next_attempt_at: datetime, *, give_up: bool
    ) -> None:
        with self._lock:
            conn = self._connection()
            with self._write(conn):
                outbox.failed(conn, key, channel, error, next_attempt_at, give_up)

    def undelivered(self, session_id: str | None = None) -> list[OutboxEntry]:
        with self._lock:
            conn = self._connection()
            with self._read(conn):
                if session_id is not None:
                    self._session_row(conn, session_id)
                return outbox.undelivered(conn, session_id)

    def acquire_lease(self, session_id: str, owner: str) -> None:
        with self._lock:
            conn = self._connection()
            held = self._leases.get(session_id)
            if held is not None:
                if held.owner == owner:
                    return
                raise SessionBusy(f"session {session_id} is driven by {held.owner} (pid {os.getpid()})")
            with _map_errors(self._path):
                self._session_row(conn, session_id)
                fd = self._locks.try_lock(session_id)
            if fd is None:
                raise SessionBusy(
                    f"session {session_id} is driven by {self._describe_holder(conn, session_id)}"
                )
            try:
                with self._write(conn):
                    conn.execute(
                        "INSERT OR REPLACE INTO leases (session_id, owner, pid, acquired_at) VALUES (?, ?, ?, ?)",
                        (session_id, owner, os.getpid(), convert.time_to_text(datetime.now(UTC))),
                    )
            except BaseException:
                self._locks.unlock(fd)
                raise
            self._leases[session_id] = _Lease(owner, fd)

    def _describe_holder(self, conn: sqlite3.Connection, session_id: str) -> str:
        with _map_errors(self._path):
            row = conn.execute("SELECT owner, pid FROM leases WHERE session_id = ?", (session_id,)).fetchone()
        # The holder writes its row just after taking the lock; we may look in between.
        return "another engine (starting up)" if row is None else f"{row[0]} (pid {row[1]})"

    def release_lease(self, session_id: str, owner: str) -> None:
        with self._lock:
            held = self._leases.get(session_id)
            if held is None or held.owner != owner:
                return
            del self._leases[session_id]
            self._drop(session_id, held)

    def _drop(self, session_id: str, held: _Lease) -> None:
        """Delete the lease row while still locked (so a successor's row is safe), then unlock."""
        try:
            conn = self._connection()
            with self._write(conn):
                conn.execute(
                    "DELETE FROM leases WHERE session_id = ? AND owner = ? AND pid = ?",
                    (session_id, held.owner, os.getpid()),
                )
        finally:
            with _map_errors(self._path):
                self._locks.unlock(held.fd)

    def lease_holder(self, session_id: str) -> str | None:
        with self._lock:
            conn = self._connection()
            held = self._leases.get(session_id)
            if held is not None:
                return held.owner
            with _map_errors(self._path):
                if not self._locks.is_locked(session_id):
                    return None  # a row left by a killed holder is stale
                row = conn.execute("SELECT owner FROM leases WHERE session_id = ?", (session_id,)).fetchone()
            return "another engine (starting up)" if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                while self._leases:
                    session_id, held = self._leases.popitem()
                    with contextlib.suppress(StoreError):
                        self._drop(session_id, held)
            finally:
                conn, self._conn = self._conn, None
                with _map_errors(self._path):
                    conn.close()
