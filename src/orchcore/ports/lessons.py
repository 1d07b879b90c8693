"""The LessonStore port: lessons learnt from the user's feedback, kept for the next prompts.

A lesson belongs to a task type (``backend``) or to every type of the project (``*``), and says
where it came from: the feedback file and line (``feedback/2026-12-01.md:7``) and that day, or
``orch lessons add``. The engine reads the lessons of a task's type into its prompt
(:class:`orchcore.prompt.Prompter`); ``orch lessons`` lists and edits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

EVERY_TYPE = "*"
"""The task type of a lesson for every task of the project."""


def _type(value: str) -> str:
    return value.strip().lower() or EVERY_TYPE


def _one_line(value: str) -> str:
    return " ".join(value.split())


@attrs.frozen
class NewLesson:
    """A lesson to keep: for tasks of ``task_type`` (``*``: every type); from ``file`` at ``line``
    (file '' and line 0: added by hand) on ``day`` (``2026-12-01``); the task it was said of, if any."""

    task_type: str = attrs.field(converter=_type)
    text: str = attrs.field(converter=_one_line)
    file: str = ""
    line: int = 0
    day: str = ""
    task_id: str = ""


@attrs.frozen
class Lesson:
    """A kept lesson, with its id (``orch lessons edit ID``) and when it was kept."""

    id: int
    task_type: str
    text: str
    file: str
    line: int
    day: str
    task_id: str
    created_at: datetime

    @property
    def source(self) -> str:
        """Where it came from: ``feedback/2026-12-01.md:7``, or ``orch lessons add``."""
        return f"{self.file}:{self.line}" if self.file else "orch lessons add"


class LessonStore(Protocol):
    """Keeps lessons; every method is atomic. Unknown ids raise NotFound and change nothing."""

    def add(self, lesson: NewLesson, at: datetime) -> Lesson:
        """Keep ``lesson`` (a new id, ``created_at`` = ``at``)."""
        ...

    def lessons(self, task_type: str | None = None) -> list[Lesson]:
        """Every lesson, oldest first; with ``task_type``, those of that type (case ignored) and
        those of every type (``*``)."""
        ...

    def edit(self, lesson_id: int, *, text: str | None = None, task_type: str | None = None) -> Lesson:
        """Change a lesson's text or type (None: kept as it is); the lesson as it is now."""
        ...

    def remove(self, lesson_id: int) -> Lesson:
        """Forget a lesson; the lesson as it was."""
        ...

    def import_feedback(
        self, file: str, digest: str, lessons: Sequence[NewLesson], at: datetime
    ) -> list[Lesson] | None:
        """Keep the lessons of feedback ``file`` whose content has hash ``digest``, in one
        transaction: None when that content was imported already (nothing changes); else the
        lessons added — one already kept from ``file`` with the same type and text is not
        added again (an edited file adds only its new lessons)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
