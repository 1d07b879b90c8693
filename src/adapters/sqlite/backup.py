"""The state database's version without opening it as a store, and an online backup of it.

SQLite's backup API copies a live database. It copies in one step: the state database is in
WAL mode, where a read transaction never blocks a writer, so the copy is one consistent
snapshot while runs keep committing (copied in small steps, every commit in between would
restart it). The copy is then checked with ``PRAGMA integrity_check`` before it is kept.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs

from adapters.sqlite._schema import SCHEMA_VERSION
from orchcore.errors import StoreError


def schema_version(path: Path) -> int | None:
    """The ``user_version`` of the database at ``path`` read-only; None when there is no file."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


@attrs.frozen
class BackupResult:
    """What was written: the file, its size, the schema version inside and how many sessions."""

    path: str
    size_bytes: int
    schema: int
    sessions: int


def backup_database(source: Path, dest: Path) -> BackupResult:
    """Copy the live database ``source`` to ``dest`` (replaced only once the copy is verified)."""
    if not source.is_file():
        raise StoreError(f"no state database at {source}: nothing to back up")
    if dest.resolve() == source.resolve():
        raise StoreError(f"the backup {dest} would overwrite the database itself")
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        src = sqlite3.connect(source, timeout=30.0)
        try:
            src.execute("PRAGMA busy_timeout = 30000")
            out = sqlite3.connect(partial)
            try:
                src.backup(out)
                out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
                problems = [row[0] for row in out.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise StoreError(f"the copy of {source} is damaged: {'; '.join(problems[:5])}")
                schema = int(out.execute("PRAGMA user_version").fetchone()[0])
                sessions = int(out.execute("SELECT count(*) FROM sessions").fetchone()[0])
            finally:
                out.close()
        finally:
            src.close()
        partial.replace(dest)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} to {dest} failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} to {dest} failed: {exc.strerror or exc}") from exc
    except StoreError:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(str(dest), dest.stat().st_size, schema, sessions)


__all__ = ["SCHEMA_VERSION", "BackupResult", "backup_database", "schema_version"]
