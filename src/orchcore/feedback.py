"""The user's feedback file (``feedback/DATE.md``): ratings, notes and lessons, parsed with every
problem located to FILE:LINE at once; and the lessons it teaches, ready for the LessonStore.

The format (docs/feedback.md) is lines in free markdown; a line is feedback when it starts (after
an optional ``-``/``*`` list marker) with one of the keywords, case ignored::

    rating: TASK good|bad [note]          a rating (also a label for `orch calibrate`)
    worked [(TASK)]: text                 what worked
    didn't work [(TASK)]: text            what did not (also: did not work, didnt work)
    lesson [(TYPE)]: text                 a lesson for the next prompts of tasks of TYPE
                                          (no TYPE, `*`, `all` or `project`: every type)

Every other line is the user's own text and is ignored, as is everything in a fenced code block.
Pure: the caller reads the file.
"""

from __future__ import annotations

import re

import attrs

from orchcore.daily_plan import day_of
from orchcore.errors import Problem, TaskFileError
from orchcore.ports.lessons import EVERY_TYPE, NewLesson

_MARKER = r"^\s*(?:[-*+]\s+)?"
_CURLY = "\u2019"  # a typographic apostrophe: didn\u2019t work
_DASHES = "-\u2014\u2013:"  # what may stand between a rating and its note: hyphen, em and en dash, colon
_KEYWORD = re.compile(
    _MARKER + r"(?P<key>rating|lesson|worked|didn'?t\s+work|didn\u2019t\s+work|did\s+not\s+work)"
    r"\s*(?:\((?P<scope>[^)]*)\))?\s*(?P<colon>:)?(?P<rest>.*)$",
    re.IGNORECASE,
)
_RATING = re.compile(r"^\s*(?P<task>[^\s:]+)\s*:?\s+(?P<label>\S+)(?P<note>.*)$")
_WORD = re.compile(r"^[^\s:()]{1,128}$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_EVERY = {"", "*", "all", "project"}


class FeedbackError(TaskFileError):
    """A feedback file has one or more problems (each located FILE:LINE); all of them are listed."""


@attrs.frozen
class Rating:
    """``rating: TASK good|bad note`` at ``line``."""

    task_id: str
    good: bool
    note: str
    line: int


@attrs.frozen
class Note:
    """What worked (``worked``) or did not, of a task if named, at ``line``."""

    worked: bool
    text: str
    task_id: str
    line: int


@attrs.frozen
class LessonLine:
    """``lesson (TYPE): text`` at ``line``; ``task_type`` ``*`` is every type."""

    task_type: str
    text: str
    line: int


@attrs.frozen
class Feedback:
    """One feedback file: its name, its day (from the name, '' if none), and what it says in order."""

    file: str
    day: str
    ratings: tuple[Rating, ...] = ()
    notes: tuple[Note, ...] = ()
    lessons: tuple[LessonLine, ...] = ()

    def new_lessons(self, default_day: str = "") -> list[NewLesson]:
        """The lessons to keep, each with its source (this file, its line, the day)."""
        day = self.day or default_day
        return [NewLesson(x.task_type, x.text, self.file, x.line, day) for x in self.lessons]


def parse_feedback(text: str, filename: str) -> Feedback:
    """The feedback in ``text`` (named ``filename`` in problems); FeedbackError lists every problem."""
    ratings: list[Rating] = []
    notes: list[Note] = []
    lessons: list[LessonLine] = []
    problems: list[Problem] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fenced = _FENCE.match(line)
        if fenced:
            fence = None if fence == fenced.group(1) else (fence or fenced.group(1))
            continue
        if fence is not None:
            continue
        found = _KEYWORD.match(line)
        if found is None:
            continue
        key = " ".join(found["key"].lower().replace(_CURLY, "'").split())
        if found["colon"] is None:
            if found["scope"] is None:
                continue  # prose that begins with the word ("Worked well today")
            problems.append(
                Problem(
                    filename, number, key, f"found no ':' after ({found['scope']}), expected {_SHAPE[key]}"
                )
            )
            continue
        scope = (found["scope"] or "").strip() if found["scope"] is not None else None
        rest = found["rest"].strip()
        if key == "rating":
            made = _rating(rest, scope, filename, number)
            if isinstance(made, Problem):
                problems.append(made)
            else:
                ratings.append(made)
            continue
        if not rest:
            problems.append(
                Problem(filename, number, key, f"found no text after ':', expected {_SHAPE[key]}")
            )
            continue
        if scope is not None and scope.lower() not in _EVERY and not _WORD.match(scope):
            what = "a task type" if key == "lesson" else "a task id"
            problems.append(
                Problem(filename, number, key, f"found ({scope}), expected {what} without spaces")
            )
            continue
        if key == "lesson":
            task_type = EVERY_TYPE if scope is None or scope.lower() in _EVERY else scope.lower()
            lessons.append(LessonLine(task_type, " ".join(rest.split()), number))
        else:
            notes.append(Note(key == "worked", rest, scope or "", number))
    if fence is not None:
        problems.append(
            Problem(
                filename, len(text.splitlines()), "fence", f"a code block opened with {fence} is never closed"
            )
        )
    if problems:
        raise FeedbackError(problems)
    return Feedback(filename, day_of(filename), tuple(ratings), tuple(notes), tuple(lessons))


_SHAPE = {
    "rating": "rating: TASK good|bad [note]",
    "lesson": "lesson (TYPE): text",
    "worked": "worked (TASK): text",
    "didn't work": "didn't work (TASK): text",
    "didnt work": "didn't work (TASK): text",
    "did not work": "didn't work (TASK): text",
}


def _rating(rest: str, scope: str | None, filename: str, number: int) -> Rating | Problem:
    if scope is not None:
        return Problem(filename, number, "rating", f"found rating ({scope}), expected {_SHAPE['rating']}")
    found = _RATING.match(rest)
    if found is None:
        return Problem(filename, number, "rating", f"found {rest!r}, expected {_SHAPE['rating']}")
    label = found["label"].lower().rstrip(".,;")
    if label not in ("good", "bad"):
        return Problem(
            filename,
            number,
            "rating",
            f"task {found['task']}: found {found['label']!r}, expected good or bad",
        )
    note = found["note"].strip().lstrip(_DASHES).strip()
    return Rating(found["task"], label == "good", note, number)
