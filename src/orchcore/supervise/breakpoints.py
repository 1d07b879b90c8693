"""Breakpoints: declarative rules that stop an otherwise finished attempt for a human's review.

A rule is data (from the settings' ``supervisor.breakpoints`` list, e.g.
``{name: migrations, kind: paths, globs: ["**/migrations/**"]}``); :func:`fired_breakpoints`
evaluates every rule against one attempt and returns those that fired, in the order
configured, each with its reason. The first one names the stop in status,
notifications and the report ("stopped for review: rule migrations, confidence 0.91").

Kinds (``types`` narrows any rule to those task types; empty: every type):

* ``confidence_below``: confidence under ``threshold``;
* ``task_type``: every task of ``types`` stops (``types`` required);
* ``paths``: a changed path matches ``globs``;
* ``diff_lines_over``: more than ``lines`` lines added and removed;
* ``gate_failing_after_retries``: a gate or the judge still fails with no retry left;
* ``judge_unavailable``: the judge was asked and could not answer;
* ``first_of_type``: no task of this type was accepted in the project before.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from orchcore.ports.supervisor import JudgeUnavailable
from orchcore.supervise.evidence import Evidence
from orchcore.supervise.paths import matching
from orchcore.supervise.results import GateResult
from orchcore.tasks import Task


class RuleKind(enum.StrEnum):
    """What a breakpoint rule looks at."""

    CONFIDENCE_BELOW = "confidence_below"
    TASK_TYPE = "task_type"
    PATHS = "paths"
    DIFF_LINES_OVER = "diff_lines_over"
    GATE_FAILING_AFTER_RETRIES = "gate_failing_after_retries"
    JUDGE_UNAVAILABLE = "judge_unavailable"
    FIRST_OF_TYPE = "first_of_type"


@attrs.frozen
class BreakpointRule:
    """One rule: its ``name`` (shown when it fires), its ``kind`` and the parameter that kind reads."""

    name: str
    kind: RuleKind = attrs.field(converter=RuleKind)
    threshold: float = 0.6
    lines: int = 1000
    globs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    types: tuple[str, ...] = attrs.field(default=(), converter=tuple)


DEFAULT_BREAKPOINTS = (
    BreakpointRule("gate-still-failing", RuleKind.GATE_FAILING_AFTER_RETRIES),
    BreakpointRule("low-confidence", RuleKind.CONFIDENCE_BELOW, threshold=0.6),
)
"""Stop when a gate still fails when no retry is left (named first: it is the cause a failing gate's
low confidence only reflects), or the confidence is under 0.6."""


@attrs.frozen
class AttemptView:
    """What the rules read of one attempt: the task, its evidence and what the pipeline found."""

    task: Task
    evidence: Evidence
    confidence: float
    results: tuple[GateResult, ...] = ()
    retries_left: int = 0
    accepted_types: frozenset[str] = frozenset()


@attrs.frozen
class FiredRule:
    """A rule that fired, and why (``confidence 0.42 < 0.6``)."""

    name: str
    kind: RuleKind
    reason: str


def _reason(rule: BreakpointRule, view: AttemptView) -> str | None:
    kind = rule.kind
    if kind is RuleKind.CONFIDENCE_BELOW:
        low = view.confidence < rule.threshold
        return f"confidence {view.confidence:.2f} < {rule.threshold:.2f}" if low else None
    if kind is RuleKind.TASK_TYPE:
        return f"every {view.task.type} task is reviewed" if rule.types else None
    if kind is RuleKind.PATHS:
        hit = matching((f.path for f in view.evidence.changed), rule.globs)
        return f"changed {', '.join(hit[:3])}" if hit else None
    if kind is RuleKind.DIFF_LINES_OVER:
        lines = view.evidence.lines_changed
        return f"{lines} lines changed > {rule.lines}" if lines > rule.lines else None
    if kind is RuleKind.GATE_FAILING_AFTER_RETRIES:
        failing = [r.name for r in view.results if not r.passed]
        return (
            f"still failing with no retry left: {', '.join(failing)}"
            if failing and not view.retries_left
            else None
        )
    if kind is RuleKind.JUDGE_UNAVAILABLE:
        judge = view.evidence.judge
        return f"judge unavailable: {judge.reason}" if isinstance(judge, JudgeUnavailable) else None
    if kind is RuleKind.FIRST_OF_TYPE:
        first = view.task.type not in view.accepted_types
        return f"the first {view.task.type} task in this project" if first else None
    raise AssertionError(kind)  # pragma: no cover - every kind is handled above


def fired_breakpoints(rules: Sequence[BreakpointRule], view: AttemptView) -> tuple[FiredRule, ...]:
    """Every rule of ``rules`` that fires for ``view``, in the order given."""
    fired = []
    for rule in rules:
        if rule.types and view.task.type not in rule.types:
            continue
        reason = _reason(rule, view)
        if reason is not None:
            fired.append(FiredRule(rule.name, rule.kind, reason))
    return tuple(fired)
