"""Reading the user's feedback files (``feedback/DATE.md`` next to the config) into the lessons.

Shared by `orch feedback` (one file, problems are an error) and `orch run`/`orch resume` (every
file whose content is new, problems are a warning and the file is skipped). The parsing is pure
(orchcore.feedback); this module reads files and calls the LessonStore.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from apps.settings import Settings
from orchcore.errors import Problem
from orchcore.feedback import Feedback, FeedbackError, parse_feedback
from orchcore.ports.clock import Clock
from orchcore.ports.lessons import Lesson, LessonStore

FOLDER = "feedback"


@attrs.frozen
class Imported:
    """One feedback file read: what it says, the lessons it added (None: this content was
    imported before), or its problems, or why it could not be read."""

    file: str
    feedback: Feedback | None = None
    added: tuple[Lesson, ...] | None = None
    problems: tuple[Problem, ...] = ()
    error: str = ""


def feedback_folder(settings: Settings) -> Path:
    """``feedback/`` next to the config file (where `orch calibrate` reads ratings too)."""
    return settings.path(FOLDER)


def import_file(store: LessonStore, path: Path, clock: Clock) -> Imported:
    """Parse the feedback file at ``path`` (named ``feedback/NAME`` in problems) and keep its lessons."""
    shown = f"{FOLDER}/{path.name}"
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        return Imported(shown, error=f"cannot read {shown}: {exc.strerror}")
    except UnicodeDecodeError:
        return Imported(shown, error=f"cannot read {shown}: it is not UTF-8 text")
    try:
        feedback = parse_feedback(text, shown)
    except FeedbackError as exc:
        return Imported(shown, problems=exc.problems)
    now = clock.now()
    digest = hashlib.sha256(data).hexdigest()
    added = store.import_feedback(shown, digest, feedback.new_lessons(now.date().isoformat()), now)
    return Imported(shown, feedback, None if added is None else tuple(added))


def import_new_feedback(store: LessonStore, settings: Settings, clock: Clock) -> list[Imported]:
    """Every feedback file of the folder, oldest name first (a file imported as it is now adds nothing)."""
    folder = feedback_folder(settings)
    if not folder.is_dir():
        return []
    return [import_file(store, path, clock) for path in sorted(folder.glob("*.md")) if path.is_file()]


def lesson_texts(lessons: Sequence[Lesson]) -> Mapping[str, list[str]]:
    """Lesson texts by task type, newest first: what the prompter tells each type."""
    by_type: dict[str, list[str]] = {}
    for lesson in sorted(lessons, key=lambda x: x.id, reverse=True):
        by_type.setdefault(lesson.task_type, []).append(lesson.text)
    return by_type
