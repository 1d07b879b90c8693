"""Labelled history for ``orch calibrate``: review decisions and feedback ratings, and the fit's
refusal below the minimum sample size."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchcore.records import Event, EventKind, JsonObject
from orchcore.supervise.calibration_fit import MIN_SAMPLES, CalibrationFit, Method, TooFewLabels, fit_labels
from orchcore.supervise.calibration_labels import (
    LabelSource,
    SessionHistory,
    feedback_labels,
    history_labels,
    judged_attempts,
    merged,
    rating_lines,
    review_labels,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def supervision(task: str, attempt: int, action: str, raw: float, calibrated: float | None = None) -> Event:
    data: JsonObject = {
        "action": action,
        "raw_confidence": raw,
        "confidence": raw if calibrated is None else calibrated,
    }
    return Event(EventKind.SUPERVISION, NOW, task, attempt, data)


def command(task: str, name: str, text: str = "") -> Event:
    data: JsonObject = {"command": name, "source": "cli"} | ({"text": text} if text else {})
    return Event(EventKind.COMMAND, NOW, task, data=data)


def started(task: str, attempt: int) -> Event:
    return Event(EventKind.TASK_STARTED, NOW, task, attempt)


def test_approve_of_a_stopped_attempt_is_good_and_reject_is_bad_with_its_raw_confidence() -> None:
    events = [
        supervision("a", 1, "stop_for_review", 0.42, calibrated=0.3),
        command("a", "approve"),
        supervision("b", 1, "stop_for_review", 0.2),
        command("b", "reject", "the tests were skipped"),
        started("b", 2),
        supervision("b", 2, "accept", 0.9),
    ]
    labels = review_labels("s1", events)
    assert [(x.task_id, x.attempt, x.raw, x.good, x.source) for x in labels] == [
        ("a", 1, 0.42, True, LabelSource.REVIEW),
        ("b", 1, 0.2, False, LabelSource.REVIEW),
    ]


def test_an_approval_before_a_task_starts_is_not_a_label() -> None:
    events = [
        command("a", "approve"),
        started("a", 1),
        supervision("a", 1, "accept", 0.9),
        command("a", "approve"),
    ]
    assert review_labels("s1", events) == []


def test_older_events_without_a_raw_confidence_use_the_confidence_they_had() -> None:
    old = Event(EventKind.SUPERVISION, NOW, "a", 1, {"action": "stop_for_review", "confidence": 0.5})
    assert [x.raw for x in review_labels("s1", [old, command("a", "reject")])] == [0.5]


def test_a_rating_labels_the_tasks_last_judged_attempt_and_unjudged_ratings_are_named() -> None:
    judged = judged_attempts(
        "s1", [supervision("a", 1, "retry_with_feedback", 0.3), supervision("a", 2, "accept", 0.8)]
    )
    labels, missing = feedback_labels([("a", False), ("zz", True)], judged)
    assert [(x.task_id, x.attempt, x.raw, x.good, x.source) for x in labels] == [
        ("a", 2, 0.8, False, LabelSource.FEEDBACK)
    ]
    assert missing == ["zz"]


def test_a_feedback_rating_overrides_the_review_of_the_same_attempt() -> None:
    events = [supervision("a", 1, "stop_for_review", 0.4), command("a", "approve")]
    reviewed = review_labels("s1", events)
    rated, _ = feedback_labels([("a", False)], judged_attempts("s1", events))
    assert [x.good for x in merged([*rated, *reviewed])] == [False]
    assert [x.good for x in merged([*reviewed, *rated])] == [False]


def test_rating_lines_read_the_documented_line_and_ignore_the_rest() -> None:
    text = (
        "# Feedback 2026-12-01\n\n"
        "rating: t1 good\n"
        "- rating: api-2 BAD the tests were skipped\n"
        "* rating: t3: good\n"
        "the rating: t4 good is not at the start\n"
        "rating: t5 meh\n"
    )
    assert rating_lines(text) == [("t1", True), ("api-2", False), ("t3", True)]


@given(st.text())
def test_rating_lines_never_crash_and_only_return_good_or_bad_of_a_word(text: str) -> None:
    for task, good in rating_lines(text):
        assert task
        assert not any(c.isspace() for c in task)
        assert isinstance(good, bool)


@given(
    st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), st.booleans()), max_size=20)
)
def test_rating_lines_round_trip(ratings: list[tuple[str, bool]]) -> None:
    text = "\n".join(f"rating: {task} {'good' if good else 'bad'}" for task, good in ratings)
    assert rating_lines(text) == ratings


def test_below_the_minimum_the_fit_refuses_and_says_what_is_needed() -> None:
    refused = fit_labels([0.9] * 9, [True] * 6 + [False] * 3, Method.PLATT)
    assert isinstance(refused, TooFewLabels)
    assert refused.message.startswith(
        "platt calibration needs at least 10 labelled attempts, at least 3 good and 3 bad; found 9 (6 good, 3 bad)"
    )
    one_sided = fit_labels([0.9] * 12, [True] * 10 + [False] * 2, Method.PLATT)
    assert isinstance(one_sided, TooFewLabels)
    assert isinstance(fit_labels([0.5] * 29, [True, False] * 14 + [True], Method.ISOTONIC), TooFewLabels)
    assert MIN_SAMPLES[Method.ISOTONIC] == 30


def test_an_overconfident_scorer_gets_a_calibration_that_lowers_its_brier_score() -> None:
    raw = [0.9] * 20 + [0.3] * 10
    good = [True] * 10 + [False] * 10 + [False] * 8 + [True] * 2
    for method in Method:
        fit = fit_labels(raw, good, method)
        assert isinstance(fit, CalibrationFit)
        assert fit.samples == 30
        assert fit.good == 12
        assert fit.after.brier < fit.before.brier
        assert fit.after_held_out.brier < fit.before.brier
        assert fit.after.ece < fit.before.ece


def test_a_feedback_file_rates_only_the_sessions_of_the_task_file_with_its_name() -> None:
    day1 = SessionHistory("s1", "2026-12-01", [supervision("1", 1, "accept", 0.9)])
    day2 = SessionHistory(
        "s2", "2026-12-02", [supervision("1", 1, "accept", 0.7), supervision("2", 1, "accept", 0.8)]
    )
    labels, unmatched = history_labels([day1, day2], [("2026-12-01", "rating: 1 bad\nrating: 2 good\n")])
    assert [(x.session_id, x.task_id, x.raw, x.good) for x in labels] == [("s1", "1", 0.9, False)]
    assert unmatched == [("2026-12-01", "2")]
