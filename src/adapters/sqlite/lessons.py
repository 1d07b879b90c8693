"""A LessonStore in the same SQLite file as the sessions (tables ``lessons`` and
``feedback_imports``, schema 7): the file's schema is made or migrated by :class:`SqliteStore`,
so whichever opens it first brings it up to date."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from adapters.sqlite._schema import PRAGMAS
from adapters.sqlite.store import SqliteStore
from orchcore.errors import NotFound, StoreError
from orchcore.ports.lessons import EVERY_TYPE, Lesson, NewLesson

_COLUMNS = "id, task_type, text, file, line, day, task_id, created_at"


def _lesson(row: tuple[object, ...]) -> Lesson:
    id_, task_type, text, file, line, day, task_id, created_at = row
    return Lesson(
        int(str(id_)),
        str(task_type),
        str(text),
        str(file),
        int(str(line)),
        str(day),
        str(task_id),
        datetime.fromisoformat(str(created_at)),
    )


class SqliteLessonStore:
    """Satisfies orchcore.ports.LessonStore on a SQLite file (created with the schema if missing).

    One connection per object, guarded by a lock; writes are ``BEGIN IMMEDIATE`` transactions.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        SqliteStore(self._path).close()  # creates or migrates the schema, as every opener of the file does
        with self._errors():
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=5.0)
            for pragma in PRAGMAS:
                conn.execute(pragma)
        self._conn: sqlite3.Connection | None = conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise StoreError(f"sqlite lessons {self._path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        with self._lock, self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the lesson store is closed")
        return self._conn

    @staticmethod
    def _insert(conn: sqlite3.Connection, lesson: NewLesson, at: datetime) -> Lesson:
        cursor = conn.execute(
            "INSERT INTO lessons (task_type, text, file, line, day, task_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                lesson.task_type,
                lesson.text,
                lesson.file,
                lesson.line,
                lesson.day,
                lesson.task_id,
                at.isoformat(),
            ),
        )
        lesson_id = int(cursor.lastrowid or 0)  # sqlite3 sets it after an INSERT
        return Lesson(
            lesson_id, lesson.task_type, lesson.text, lesson.file, lesson.line, lesson.day, lesson.task_id, at
        )

    @staticmethod
    def _get(conn: sqlite3.Connection, lesson_id: int) -> Lesson:
        row = conn.execute(f"SELECT {_COLUMNS} FROM lessons WHERE id = ?", (lesson_id,)).fetchone()
        if row is None:
            raise NotFound(f"no lesson {lesson_id} (orch lessons list shows their ids)")
        return _lesson(row)

    def add(self, lesson: NewLesson, at: datetime) -> Lesson:
        with self._write() as conn:
            return self._insert(conn, lesson, at)

    def lessons(self, task_type: str | None = None) -> list[Lesson]:
        conn = self._connection()
        with self._lock, self._errors():
            if task_type is None:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM lessons ORDER BY id").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM lessons WHERE task_type IN (?, ?) ORDER BY id",
                    (task_type.strip().lower(), EVERY_TYPE),
                ).fetchall()
        return [_lesson(row) for row in rows]

    def edit(self, lesson_id: int, *, text: str | None = None, task_type: str | None = None) -> Lesson:
        with self._write() as conn:
            old = self._get(conn, lesson_id)
            made = NewLesson(
                old.task_type if task_type is None else task_type, old.text if text is None else text
            )
            conn.execute(
                "UPDATE lessons SET task_type = ?, text = ? WHERE id = ?",
                (made.task_type, made.text, lesson_id),
            )
            return self._get(conn, lesson_id)

    def remove(self, lesson_id: int) -> Lesson:
        with self._write() as conn:
            old = self._get(conn, lesson_id)
            conn.execute("DELETE FROM lessons WHERE id = ?", (lesson_id,))
            return old

    def import_feedback(
        self, file: str, digest: str, lessons: Sequence[NewLesson], at: datetime
    ) -> list[Lesson] | None:
        with self._write() as conn:
            seen = conn.execute(
                "SELECT 1 FROM feedback_imports WHERE file = ? AND digest = ?", (file, digest)
            ).fetchone()
            if seen is not None:
                return None
            conn.execute(
                "INSERT INTO feedback_imports (file, digest, imported_at) VALUES (?, ?, ?)",
                (file, digest, at.isoformat()),
            )
            kept = set(conn.execute("SELECT task_type, text FROM lessons WHERE file = ?", (file,)).fetchall())
            added = []
            for lesson in lessons:
                if (lesson.task_type, lesson.text) not in kept:
                    kept.add((lesson.task_type, lesson.text))
                    added.append(self._insert(conn, lesson, at))
            return added

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
