"""The outbox table: queries and row conversion (called inside the store's transactions)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from adapters.sqlite._convert import Row, time_from_text, time_to_text
from orchcore.delivery import HOLD_BACK_AFTER
from orchcore.errors import NotFound, StoreError
from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.records import JsonObject, OutboxEntry

COLUMNS = (
    "key, channel, session_id, kind, title, text, created_at, task_id, actions, data,"
    " attempts, next_attempt_at, last_error, delivered_at, gave_up"
)
_OPEN = "delivered_at IS NULL AND gave_up = 0"


def _values(entry: OutboxEntry) -> Row:
    n = entry.notification
    return (
        n.key,
        entry.channel,
        n.session_id,
        n.kind.value,
        n.title,
        n.text,
        time_to_text(n.created_at),
        n.task_id,
        json.dumps(list(n.actions)),
        json.dumps(n.data, separators=(",", ":"), allow_nan=False),
        entry.attempts,
        time_to_text(entry.next_attempt_at),
        entry.last_error,
        None if entry.delivered_at is None else time_to_text(entry.delivered_at),
        entry.gave_up,
    )


def _entry(row: Row) -> OutboxEntry:
    actions = json.loads(row[8])
    data: JsonObject = json.loads(row[9])
    if not isinstance(actions, list) or not isinstance(data, dict):
        raise StoreError(f"outbox entry {row[0]!r}: malformed actions or data")
    notification = Notification(
        key=row[0],
        session_id=row[2],
        kind=NotificationKind(row[3]),
        title=row[4],
        text=row[5],
        created_at=time_from_text(row[6]),
        task_id=row[7],
        actions=tuple(str(a) for a in actions),
        data=data,
    )
    return OutboxEntry(
        notification=notification,
        channel=row[1],
        next_attempt_at=time_from_text(row[11]),
        attempts=row[10],
        last_error=row[12],
        delivered_at=None if row[13] is None else time_from_text(row[13]),
        gave_up=bool(row[14]),
    )


def insert(conn: sqlite3.Connection, session_id: str, entries: Sequence[OutboxEntry]) -> None:
    """Store a mutation's outbox; a duplicate (key, channel) fails the transaction."""
    for entry in entries:
        if entry.session_id != session_id:
            raise StoreError(
                f"outbox entry {entry.key!r} is for session {entry.session_id!r}, not {session_id!r}"
            )
    try:
        conn.executemany(
            f"INSERT INTO outbox ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_values(e) for e in entries],
        )
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"outbox entry exists already: {exc}") from exc


def pending(conn: sqlite3.Connection, now: datetime, limit: int) -> list[OutboxEntry]:
    """Due entries: open, time come, and either held back (failed ``HOLD_BACK_AFTER`` times: it
    neither waits nor blocks) or the first open, not held back one of their session and channel."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM outbox AS o WHERE {_OPEN} AND next_attempt_at <= ?"
        " AND (attempts >= ? OR position = (SELECT min(p.position) FROM outbox AS p"
        " WHERE p.session_id = o.session_id AND p.channel = o.channel AND p.delivered_at IS NULL"
        " AND p.gave_up = 0 AND p.attempts < ?))"
        " ORDER BY position LIMIT ?",
        (time_to_text(now), HOLD_BACK_AFTER, HOLD_BACK_AFTER, max(limit, 0)),
    ).fetchall()
    return [_entry(r) for r in rows]


def _require(conn: sqlite3.Connection, key: str, channel: str) -> None:
    if conn.execute("SELECT 1 FROM outbox WHERE key = ? AND channel = ?", (key, channel)).fetchone() is None:
        raise NotFound(f"no outbox entry {key!r} for channel {channel!r}")


def claim(conn: sqlite3.Connection, key: str, channel: str, now: datetime, until: datetime) -> bool:
    _require(conn, key, channel)
    cursor = conn.execute(
        f"UPDATE outbox SET next_attempt_at = ? WHERE key = ? AND channel = ? AND {_OPEN}"
        " AND next_attempt_at <= ?",
        (time_to_text(until), key, channel, time_to_text(now)),
    )
    return cursor.rowcount == 1


def sent(conn: sqlite3.Connection, key: str, channel: str, at: datetime) -> None:
    _require(conn, key, channel)
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, delivered_at = ?"
        " WHERE key = ? AND channel = ? AND delivered_at IS NULL",
        (time_to_text(at), key, channel),
    )


def failed(
    conn: sqlite3.Connection, key: str, channel: str, error: str, next_attempt_at: datetime, give_up: bool
) -> None:
    _require(conn, key, channel)
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
        " gave_up = max(gave_up, ?) WHERE key = ? AND channel = ? AND delivered_at IS NULL",
        (error, time_to_text(next_attempt_at), int(give_up), key, channel),
    )


def undelivered(conn: sqlite3.Connection, session_id: str | None) -> list[OutboxEntry]:
    if session_id is None:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE delivered_at IS NULL ORDER BY position"
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE session_id = ? AND delivered_at IS NULL ORDER BY position",
            (session_id,),
        ).fetchall()
    return [_entry(r) for r in rows]
