"""Properties of the confidence and the decision over generated attempts: bounded, monotone in
passing checks, a failing gate never accepted, retries bounded."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeUnavailable, Verdict
from orchcore.safety.events import SafetyLayer, refusal, violation
from orchcore.supervise import (
    Action,
    BreakpointRule,
    Calibration,
    CalibrationKind,
    ConfidenceWeights,
    Evidence,
    History,
    SupervisorConfig,
    supervise,
)
from orchcore.supervise.decision import DecisionConfig
from orchcore.tasks import Task
from tests.unit.supervise.build import added_file, check, evidence

TASK = Task("1", "Add slugify", type="feature", acceptance_criteria=("handles unicode",))

_checks = st.lists(
    st.builds(
        check,
        st.sampled_from(["pytest -q", "ruff check", "mypy", "npm test"]),
        st.sampled_from([0, 0, 1, 2, None]),
        st.sampled_from(["", "3 passed in 0.1s", "1 failed, 2 passed in 0.1s"]),
    ),
    max_size=3,
    unique_by=lambda c: c.command,
)
_judgement = st.sampled_from(list(Judgement))
_judge = st.one_of(
    st.none(),
    st.builds(JudgeUnavailable, st.just("connection refused")),
    st.builds(
        Verdict,
        _judgement,
        st.lists(st.builds(CriterionVerdict, st.just("handles unicode"), _judgement), max_size=2).map(tuple),
        st.text(max_size=40),
    ),
)
_safety = st.lists(
    st.one_of(
        st.builds(refusal, st.just(SafetyLayer.HOOK), st.just("git push")),
        st.builds(violation, st.just(SafetyLayer.REFS), st.just("refs/heads/main")),
    ),
    max_size=2,
)
_messages = st.sampled_from(
    ["Done.", "All tests pass.", "Added src/slug.py.\n\nAnything else?", "I can't do that."]
)
_diffs = st.sampled_from(
    [
        "",
        added_file("src/slug.py", "def slugify(t):\n    return t.lower()"),
        added_file("src/slug.py", "def slugify(t):\n    pass"),
    ]
)


@st.composite
def attempts(draw: st.DrawFn) -> Evidence:
    return evidence(
        TASK,
        diff=draw(_diffs),
        message=draw(_messages),
        checks=draw(_checks),
        judge=draw(_judge),
        safety=draw(_safety),
    )


_weights = st.builds(ConfidenceWeights, *(st.floats(0, 10) for _ in range(8)))
_calibrations = st.one_of(
    st.just(Calibration()),
    st.builds(Calibration, st.just(CalibrationKind.PLATT), st.floats(-20, 20), st.floats(-20, 20)),
    st.lists(st.floats(0, 1), min_size=1, max_size=5).map(
        lambda ys: Calibration(
            CalibrationKind.ISOTONIC, xs=tuple(i / len(ys) for i in range(len(ys))), ys=tuple(sorted(ys))
        )
    ),
)


def test_confidence_is_always_within_zero_and_one() -> None:
    @given(attempts(), _weights, _calibrations)
    def check_bounds(attempt: Evidence, weights: ConfidenceWeights, calibration: Calibration) -> None:
        decision = supervise(TASK, attempt, SupervisorConfig(weights=weights, calibration=calibration))
        assert 0.0 <= decision.confidence <= 1.0

    check_bounds()


def test_a_check_that_passes_instead_of_failing_never_lowers_the_confidence() -> None:
    @given(attempts(), st.data())
    def check_monotone(attempt: Evidence, data: st.DataObject) -> None:
        failing = [i for i, c in enumerate(attempt.checks) if not c.passed]
        if not failing:
            return
        index = data.draw(st.sampled_from(failing))
        fixed = list(attempt.checks)
        fixed[index] = check(fixed[index].command, 0, fixed[index].output_tail)
        better = attrs.evolve(attempt, checks=tuple(fixed))
        assert supervise(TASK, better).confidence >= supervise(TASK, attempt).confidence - 1e-12

    check_monotone()


def test_an_attempt_with_a_failing_gate_is_never_accepted() -> None:
    @given(attempts(), st.integers(0, 5))
    def check_never(attempt: Evidence, fix_attempts: int) -> None:
        decision = supervise(TASK, attempt, history=History(fix_attempts=fix_attempts))
        if any(not r.passed for r in decision.results):
            assert decision.action is not Action.ACCEPT, decision.trail

    check_never()


def test_retries_with_feedback_stop_at_max_fix_attempts() -> None:
    @given(st.integers(0, 4), st.booleans())
    def check_bounded(max_fix: int, breakpoints_on: bool) -> None:
        rules: tuple[BreakpointRule, ...] = SupervisorConfig().breakpoints if breakpoints_on else ()
        config = SupervisorConfig(decision=DecisionConfig(max_fix_attempts=max_fix), breakpoints=rules)
        failing = check("pytest -q", 1, "=== 1 failed, 2 passed in 0.1s ===")
        attempt = evidence(TASK, diff=added_file("src/slug.py", "x = 1"), checks=[failing])
        actions = []
        for fix_attempts in range(max_fix + 3):
            action = supervise(TASK, attempt, config, History(fix_attempts=fix_attempts)).action
            actions.append(action)
            if action is not Action.RETRY_WITH_FEEDBACK:
                break
        assert actions.count(Action.RETRY_WITH_FEEDBACK) == max_fix
        assert actions[-1] is (Action.STOP_FOR_REVIEW if breakpoints_on else Action.FAIL)

    check_bounded()


def test_the_decision_is_a_pure_function_of_its_inputs() -> None:
    @given(attempts())
    def check_same(attempt: Evidence) -> None:
        assert supervise(TASK, attempt) == supervise(TASK, attempt)

    check_same()
