"""Labelled history for ``orch calibrate``: which judged attempts a human called good or bad.

Two sources, both pure over values the apps read:

* the human's decisions on attempts the supervisor stopped for review: ``orch approve``
  (good) or ``orch reject`` (bad) of a task in ``waiting_review``, read from a session's
  events (:func:`review_labels`);
* ratings in feedback files: ``(task id, good)`` pairs (:func:`feedback_labels`), which a
  feedback parser produces; :func:`rating_lines` reads the minimal documented line
  ``rating: TASK good|bad [note]`` of ``feedback/DATE.md``.

Each label is attached to the raw (uncalibrated) confidence the supervisor gave that attempt,
which is what a calibration maps.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from orchcore.records import Event, EventKind

_STOPPED = "stop_for_review"
_RATING = re.compile(
    r"^\s*(?:[-*+]\s+)?rating:\s*(?P<task>[^\s:]+)\s*:?\s+(?P<label>good|bad)\b", re.IGNORECASE
)


class LabelSource(enum.StrEnum):
    """Where a label came from."""

    REVIEW = "review"  # orch approve / orch reject of an attempt stopped for review
    FEEDBACK = "feedback"  # a rating in a feedback file


@attrs.frozen
class JudgedAttempt:
    """An attempt the supervisor decided on: its raw confidence and what it decided."""

    session_id: str
    task_id: str
    attempt: int
    raw: float
    action: str


@attrs.frozen
class LabelledAttempt:
    """One judged attempt with a human's label: ``good`` True when the work was accepted."""

    session_id: str
    task_id: str
    attempt: int
    raw: float
    good: bool
    source: LabelSource


def _raw(data: Mapping[str, object]) -> float | None:
    value = data.get("raw_confidence", data.get("confidence"))  # older events: never calibrated
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(max(float(value), 0.0), 1.0)


def judged_attempts(session_id: str, events: Iterable[Event]) -> dict[str, JudgedAttempt]:
    """The last judged attempt of each task of a session, from its SUPERVISION events."""
    found: dict[str, JudgedAttempt] = {}
    for event in events:
        if event.kind is not EventKind.SUPERVISION or event.task_id is None:
            continue
        raw = _raw(event.data)
        if raw is not None:
            action = str(event.data.get("action", ""))
            found[event.task_id] = JudgedAttempt(session_id, event.task_id, event.attempt or 0, raw, action)
    return found


def review_labels(session_id: str, events: Iterable[Event]) -> list[LabelledAttempt]:
    """Each attempt stopped for review that a human then approved (good) or rejected (bad)."""
    stopped: dict[str, JudgedAttempt] = {}
    labels: list[LabelledAttempt] = []
    for event in events:
        task = event.task_id
        if task is None:
            continue
        if event.kind is EventKind.SUPERVISION:
            raw = _raw(event.data)
            if event.data.get("action") == _STOPPED and raw is not None:
                stopped[task] = JudgedAttempt(session_id, task, event.attempt or 0, raw, _STOPPED)
            else:
                stopped.pop(task, None)
        elif event.kind is EventKind.TASK_STARTED:
            stopped.pop(task, None)
        elif event.kind is EventKind.COMMAND and task in stopped:
            command = event.data.get("command")
            if command in ("approve", "reject"):
                judged = stopped.pop(task)
                labels.append(
                    LabelledAttempt(
                        session_id, task, judged.attempt, judged.raw, command == "approve", LabelSource.REVIEW
                    )
                )
    return labels


def feedback_labels(
    ratings: Iterable[tuple[str, bool]], judged: Mapping[str, JudgedAttempt]
) -> tuple[list[LabelledAttempt], list[str]]:
    """``(task id, good)`` ratings as labels of each task's last judged attempt in ``judged``;
    also the task ids rated but never judged there (a later rating of a task wins)."""
    chosen = dict(ratings)
    labels = [
        LabelledAttempt(j.session_id, j.task_id, j.attempt, j.raw, good, LabelSource.FEEDBACK)
        for task, good in chosen.items()
        if (j := judged.get(task)) is not None
    ]
    return labels, [task for task in chosen if task not in judged]


def rating_lines(text: str) -> list[tuple[str, bool]]:
    """The ``rating: TASK good|bad`` lines of a feedback file, in order (other lines are ignored)."""
    ratings = []
    for line in text.splitlines():
        match = _RATING.match(line)
        if match:
            ratings.append((match["task"], match["label"].lower() == "good"))
    return ratings


def merged(labels: Iterable[LabelledAttempt]) -> list[LabelledAttempt]:
    """One label per attempt: a feedback rating overrides the review of the same attempt (it is the
    human's later word), otherwise the last label wins."""
    by_attempt: dict[tuple[str, str, int], LabelledAttempt] = {}
    for label in labels:
        key = (label.session_id, label.task_id, label.attempt)
        held = by_attempt.get(key)
        if held is None or not (held.source is LabelSource.FEEDBACK and label.source is LabelSource.REVIEW):
            by_attempt[key] = label
    return list(by_attempt.values())


@attrs.frozen
class SessionHistory:
    """One stored session as calibration reads it: its id, the stem of its task file, its events."""

    session_id: str
    stem: str
    events: Sequence[Event]


def history_labels(
    sessions: Iterable[SessionHistory], feedback: Iterable[tuple[str, str]]
) -> tuple[list[LabelledAttempt], list[tuple[str, str]]]:
    """Every label of the history: the reviews of ``sessions`` (oldest first) and the ratings of
    ``feedback`` files ``(stem, text)`` — a file rates the last judged attempts in the sessions of
    the task file with its stem. Also each ``(stem, task)`` rated with no judged attempt there."""
    labels: list[LabelledAttempt] = []
    judged_by_stem: dict[str, dict[str, JudgedAttempt]] = {}
    for session in sessions:
        labels += review_labels(session.session_id, session.events)
        judged_by_stem.setdefault(session.stem, {}).update(
            judged_attempts(session.session_id, session.events)
        )
    unmatched: list[tuple[str, str]] = []
    for stem, text in feedback:
        found, missing = feedback_labels(rating_lines(text), judged_by_stem.get(stem, {}))
        labels += found
        unmatched += [(stem, task) for task in missing]
    return merged(labels), unmatched
