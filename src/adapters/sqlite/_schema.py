"""The database layout, created with sqlite-utils on first open."""

from __future__ import annotations

import sqlite3
from typing import Any

SCHEMA_VERSION = 8

# busy_timeout first: switching to WAL needs a lock that another opener may hold.
PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)

# The outbox (schema 4): one row per notification and channel, committed with the
# transition it tells about. Plain SQL, shared by create and migrate, because the
# index is partial: only open rows (not delivered, not given up) are ever searched.
OUTBOX = (
    """CREATE TABLE IF NOT EXISTS outbox (
        position INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        channel TEXT NOT NULL,
        session_id TEXT NOT NULL REFERENCES sessions (id),
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        task_id TEXT,
        actions TEXT NOT NULL,
        data TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        delivered_at TEXT,
        gave_up INTEGER NOT NULL DEFAULT 0,
        UNIQUE (key, channel)
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_open ON outbox (session_id, channel, position)"
    " WHERE delivered_at IS NULL AND gave_up = 0",
    "CREATE INDEX IF NOT EXISTS outbox_by_session ON outbox (session_id, position)",
)

# schema 6: what changed since the version a reader holds is found without reading every run
RUNS_BY_CHANGE = "CREATE INDEX IF NOT EXISTS task_runs_by_change ON task_runs (session_id, changed_in)"

# schema 8: lessons from the user's feedback files, and which contents of those files were imported
LESSONS = (
    """CREATE TABLE IF NOT EXISTS lessons (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- a removed lesson's id is never given again
        task_type TEXT NOT NULL,
        text TEXT NOT NULL,
        file TEXT NOT NULL,
        line INTEGER NOT NULL,
        day TEXT NOT NULL,
        task_id TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS lessons_by_type ON lessons (task_type, id)",
    """CREATE TABLE IF NOT EXISTS feedback_imports (
        file TEXT NOT NULL,
        digest TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (file, digest)
    )""",
)


def create_schema(db: Any) -> None:
    """Create every table and index (``db`` is a sqlite_utils.Database in a transaction)."""
    db.create_table(
        "sessions",
        {
            "id": str,
            "source": str,
            "state": str,
            "created_at": str,
            "updated_at": str,
            "auto_approve": int,
            "agent": str,
            "waiting_for": str,
            "gate": str,
            "reason": str,
            "version": int,
        },
        pk="id",
        not_null=[
            "source",
            "state",
            "created_at",
            "updated_at",
            "auto_approve",
            "agent",
            "reason",
            "version",
        ],
        if_not_exists=True,
    )
    db["sessions"].create_index(["created_at", "id"], index_name="sessions_by_created", if_not_exists=True)
    db.create_table(
        "plans",
        {"session_id": str, "plan": str},
        pk="session_id",
        not_null=["plan"],
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    db.create_table(
        "task_runs",
        {
            "session_id": str,
            "task_id": str,
            "position": int,
            "state": str,
            "approved": int,
            "reviewed": int,
            "reason": str,
            "question": str,
            "answer": str,
            # schema 6: the session version that last changed the run, so a reader re-reads only those
            "changed_in": int,
        },
        pk=("session_id", "task_id"),
        not_null=["position", "state", "approved", "reviewed", "reason", "question", "answer", "changed_in"],
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    db.create_table(
        "attempts",
        {
            "session_id": str,
            "task_id": str,
            "number": int,
            "started_at": str,
            "finished_at": str,
            "outcome": str,
            "exit_code": int,
            "reason": str,
            "cost_usd": str,  # Decimal as text: money is never a float
            "input_tokens": int,
            "output_tokens": int,
            "agent_session_id": str,
            "retry_at": str,
            # schema 5: what identifies the attempt's processes, to kill them after a crash
            "process_group": int,
            "process_start": int,
            "process_marker": str,
            "process_host": str,  # schema 7: where they run ("" or NULL: this machine)
        },
        pk=("session_id", "task_id", "number"),
        not_null=["started_at", "reason"],
        # Single-column key: compound foreign keys need sqlite-utils 4, the floor is 3.37.
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    db.create_table(
        "events",
        {
            "session_id": str,
            "seq": int,
            "at": str,
            "kind": str,
            "task_id": str,
            "attempt": int,
            "data": str,
        },
        pk=("session_id", "seq"),
        not_null=["at", "kind", "data"],
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    db.create_table(
        "leases",
        {"session_id": str, "owner": str, "pid": int, "acquired_at": str},
        pk="session_id",
        not_null=["owner", "pid", "acquired_at"],
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    for statement in OUTBOX:
        db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db["attempts"].create_index(["started_at"], index_name="attempts_by_start", if_not_exists=True)
    db.execute(RUNS_BY_CHANGE)
    for statement in LESSONS:
        db.execute(statement)


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database written by an older orchcore up to SCHEMA_VERSION (in a write transaction)."""
    if version < 2:
        conn.execute("ALTER TABLE attempts ADD COLUMN retry_at TEXT")
        conn.execute('CREATE INDEX IF NOT EXISTS attempts_by_start ON attempts ("started_at")')
    if version < 3:
        conn.execute("ALTER TABLE task_runs ADD COLUMN question TEXT NOT NULL DEFAULT ''")
        conn.execute("ALTER TABLE task_runs ADD COLUMN answer TEXT NOT NULL DEFAULT ''")
    if version < 4:
        for statement in OUTBOX:
            conn.execute(statement)
    if version < 5:
        for column, kind in (
            ("process_group", "INTEGER"),
            ("process_start", "INTEGER"),
            ("process_marker", "TEXT"),
        ):
            conn.execute(f"ALTER TABLE attempts ADD COLUMN {column} {kind}")
    if version < 6:
        # 0: older than any version a reader can hold, so a cached reader re-reads nothing wrongly
        conn.execute("ALTER TABLE task_runs ADD COLUMN changed_in INTEGER NOT NULL DEFAULT 0")
        conn.execute(RUNS_BY_CHANGE)
    if version < 7:  # where an attempt's processes run: an SSH host's are reaped there after a crash
        conn.execute("ALTER TABLE attempts ADD COLUMN process_host TEXT")
    if version < 8:  # lessons from the user's feedback files, injected into prompts of their type
        for statement in LESSONS:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
