"""Breakpoint rules: each kind fires on what it names, and the stop names the rule."""

from __future__ import annotations

import pytest

from orchcore.ports.supervisor import JudgeUnavailable
from orchcore.supervise import Action, BreakpointRule, History, RuleKind, SupervisorConfig, supervise
from orchcore.tasks import Task
from tests.unit.supervise.build import added_file, check, evidence

TASK = Task("1", "Add slugify", type="feature")
GOOD = added_file("src/slug.py", "def slugify(t):\n    return t.lower()")
PASSING = check("pytest -q", 0, "3 passed in 0.1s")


def _stop(rule: BreakpointRule, task: Task = TASK, diff: str = GOOD, **kw: object) -> str:
    history = kw.pop("history", History())
    attempt = evidence(task, diff=diff, checks=[PASSING], **kw)  # type: ignore[arg-type]
    decision = supervise(task, attempt, SupervisorConfig(breakpoints=(rule,)), history)  # type: ignore[arg-type]
    assert decision.action is Action.STOP_FOR_REVIEW, decision.trail
    assert decision.rule == rule.name
    return decision.reason


def _accepted(rule: BreakpointRule, task: Task = TASK, diff: str = GOOD, **kw: object) -> bool:
    history = kw.pop("history", History())
    attempt = evidence(task, diff=diff, checks=[PASSING], **kw)  # type: ignore[arg-type]
    return supervise(task, attempt, SupervisorConfig(breakpoints=(rule,)), history).action is Action.ACCEPT  # type: ignore[arg-type]


def test_confidence_below_the_threshold_stops_and_says_both_numbers() -> None:
    reason = _stop(BreakpointRule("cautious", RuleKind.CONFIDENCE_BELOW, threshold=0.99))
    assert reason.startswith("stopped for review: rule cautious, confidence 0.")
    assert "< 0.99" in reason
    assert _accepted(BreakpointRule("cautious", RuleKind.CONFIDENCE_BELOW, threshold=0.1))


def test_a_task_type_rule_stops_only_that_type() -> None:
    rule = BreakpointRule("infra-reviewed", RuleKind.TASK_TYPE, types=("infra",))
    _stop(rule, Task("2", "Terraform", type="infra"))
    assert _accepted(rule)


def test_a_path_rule_stops_when_a_changed_path_matches_its_globs() -> None:
    rule = BreakpointRule("ci-files", RuleKind.PATHS, globs=(".github/workflows/**",))
    assert ".github/workflows/ci.yml" in _stop(
        rule, diff=GOOD + added_file(".github/workflows/ci.yml", "on: push")
    )
    assert _accepted(rule)


def test_a_diff_over_n_lines_stops() -> None:
    rule = BreakpointRule("big", RuleKind.DIFF_LINES_OVER, lines=1)
    assert "2 lines changed > 1" in _stop(rule)
    assert _accepted(BreakpointRule("big", RuleKind.DIFF_LINES_OVER, lines=2))


def test_judge_unavailable_stops_only_the_types_it_names() -> None:
    rule = BreakpointRule("judge-needed", RuleKind.JUDGE_UNAVAILABLE, types=("security",))
    down = JudgeUnavailable("connection refused")
    assert "judge unavailable: connection refused" in _stop(
        rule, Task("3", "Auth", type="security"), judge=down
    )
    assert _accepted(rule, judge=down)


def test_the_first_task_of_a_type_in_a_project_stops_and_later_ones_do_not() -> None:
    rule = BreakpointRule("first", RuleKind.FIRST_OF_TYPE)
    assert "first feature task" in _stop(rule)
    assert _accepted(rule, history=History(accepted_types=frozenset({"feature"})))


def test_a_gate_still_failing_with_no_retry_left_stops_for_review() -> None:
    failing = check("pytest -q", 1, "1 failed in 0.1s")
    rule = BreakpointRule("stuck", RuleKind.GATE_FAILING_AFTER_RETRIES)
    attempt = evidence(TASK, diff=GOOD, checks=[failing])
    config = SupervisorConfig(breakpoints=(rule,))
    assert supervise(TASK, attempt, config, History(fix_attempts=0)).action is Action.RETRY_WITH_FEEDBACK
    decision = supervise(TASK, attempt, config, History(fix_attempts=2))
    assert (decision.action, decision.rule) == (Action.STOP_FOR_REVIEW, "stuck")
    assert "check:pytest -q" in decision.reason


def test_an_unknown_rule_kind_is_refused_when_the_rule_is_made() -> None:
    with pytest.raises(ValueError, match="'sometimes'"):
        BreakpointRule("x", "sometimes")  # type: ignore[arg-type]


def test_the_trail_lists_every_rule_that_fired_and_the_first_names_the_stop() -> None:
    rules = (
        BreakpointRule("big", RuleKind.DIFF_LINES_OVER, lines=0),
        BreakpointRule("first", RuleKind.FIRST_OF_TYPE),
    )
    decision = supervise(
        TASK, evidence(TASK, diff=GOOD, checks=[PASSING]), SupervisorConfig(breakpoints=rules)
    )
    fired = [t.text for t in decision.trail if t.stage.value == "breakpoint"]
    assert [line.split(" fired")[0] for line in fired] == ["rule big", "rule first"]
    assert decision.rule == "big"
