"""A LessonStore kept in a list, guarded by one lock: the reference implementation."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import attrs

from orchcore.errors import NotFound
from orchcore.ports.lessons import EVERY_TYPE, Lesson, NewLesson


class InMemoryLessonStore:
    """Satisfies orchcore.ports.LessonStore; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lessons: dict[int, Lesson] = {}
        self._imported: dict[str, set[str]] = {}
        self._next = 1

    def _keep(self, lesson: NewLesson, at: datetime) -> Lesson:
        kept = Lesson(
            self._next,
            lesson.task_type,
            lesson.text,
            lesson.file,
            lesson.line,
            lesson.day,
            lesson.task_id,
            at,
        )
        self._lessons[kept.id] = kept
        self._next += 1
        return kept

    def add(self, lesson: NewLesson, at: datetime) -> Lesson:
        with self._lock:
            return self._keep(lesson, at)

    def lessons(self, task_type: str | None = None) -> list[Lesson]:
        with self._lock:
            found = sorted(self._lessons.values(), key=lambda x: x.id)
        if task_type is None:
            return found
        wanted = {task_type.strip().lower(), EVERY_TYPE}
        return [x for x in found if x.task_type in wanted]

    def _get(self, lesson_id: int) -> Lesson:
        found = self._lessons.get(lesson_id)
        if found is None:
            raise NotFound(f"no lesson {lesson_id} (orch lessons list shows their ids)")
        return found

    def edit(self, lesson_id: int, *, text: str | None = None, task_type: str | None = None) -> Lesson:
        with self._lock:
            old = self._get(lesson_id)
            made = NewLesson(
                old.task_type if task_type is None else task_type, old.text if text is None else text
            )
            new = attrs.evolve(old, task_type=made.task_type, text=made.text)
            self._lessons[lesson_id] = new
            return new

    def remove(self, lesson_id: int) -> Lesson:
        with self._lock:
            return self._lessons.pop(self._get(lesson_id).id)

    def import_feedback(
        self, file: str, digest: str, lessons: Sequence[NewLesson], at: datetime
    ) -> list[Lesson] | None:
        with self._lock:
            seen = self._imported.setdefault(file, set())
            if digest in seen:
                return None
            seen.add(digest)
            kept = {(x.task_type, x.text) for x in self._lessons.values() if x.file == file}
            added = []
            for lesson in lessons:
                if (lesson.task_type, lesson.text) not in kept:
                    kept.add((lesson.task_type, lesson.text))
                    added.append(self._keep(lesson, at))
            return added

    def close(self) -> None:
        pass
