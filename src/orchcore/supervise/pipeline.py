"""``supervise``: the one entry point the engine calls after an attempt, and its configuration.

Wiring (the engine's part, I/O): after an attempt ends with outcome SUCCEEDED, FAILED,
TIMED_OUT, ERROR or ASKED (not STOPPED, INTERRUPTED or RATE_LIMITED: those are the
engine's own), gather an :class:`~orchcore.supervise.evidence.Evidence` — changed files and
the diff from the attempt's checkpoints, deliverables, the checks run with their timeouts,
the judge through the Supervisor port when the task type is judged — then::

    decision = supervise(task, evidence, settings.supervisor, History(fix_attempts, accepted_types))

Store each of ``decision.results`` as an event (``result.as_data()``) and the decision
itself (action, rule, reason, confidence, trail) as one more, in the same transaction as
the transition it permits, then act: ACCEPT completes the task; RETRY_WITH_FEEDBACK
resumes the agent's session with ``decision.feedback``; STOP_FOR_REVIEW moves it to
``waiting_review`` with ``decision.summary`` and notifies "stopped for review: rule
<rule>, confidence <c>"; FAIL fails it with ``decision.reason``; AWAIT_ANSWER is today's
``waiting_answer`` with ``decision.question``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from orchcore.ports.supervisor import JudgeUnavailable
from orchcore.supervise.breakpoints import DEFAULT_BREAKPOINTS, AttemptView, BreakpointRule, fired_breakpoints
from orchcore.supervise.calibration import IDENTITY, Calibration
from orchcore.supervise.confidence import ConfidenceWeights, score
from orchcore.supervise.decision import (
    Action,
    Decision,
    DecisionConfig,
    History,
    TrailEntry,
    decide_attempt,
    judge_result,
)
from orchcore.supervise.evidence import Evidence
from orchcore.supervise.gates import GateConfig, run_gates
from orchcore.supervise.results import GateResult, Stage
from orchcore.supervise.validator import ValidatorConfig, validate
from orchcore.tasks import Task


@attrs.frozen
class SupervisorConfig:
    """Everything the pipeline may be told, with the documented defaults (docs/supervisor-pipeline.md)."""

    validator: ValidatorConfig = attrs.field(factory=ValidatorConfig)
    gates: GateConfig = attrs.field(factory=GateConfig)
    weights: ConfidenceWeights = attrs.field(factory=ConfidenceWeights)
    calibration: Calibration = IDENTITY
    decision: DecisionConfig = attrs.field(factory=DecisionConfig)
    breakpoints: tuple[BreakpointRule, ...] = DEFAULT_BREAKPOINTS
    checks_by_type: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Gate commands per task type (``"*"``: every type), run after the task's own ``checks:``."""


def check_commands(task: Task, task_checks: Sequence[str], config: SupervisorConfig) -> tuple[str, ...]:
    """The gate commands to run after an attempt of ``task``: its own, then its type's, then the
    ``"*"`` ones, each once, in that order."""
    by_type = config.checks_by_type
    found = [*task_checks, *by_type.get(task.type, ()), *by_type.get("*", ())]
    return tuple(dict.fromkeys(c.strip() for c in found if c.strip()))


def _trail(results: tuple[GateResult, ...]) -> list[TrailEntry]:
    return [TrailEntry(r.stage, r.line) for r in results]


def supervise(
    task: Task, evidence: Evidence, config: SupervisorConfig | None = None, history: History | None = None
) -> Decision:
    """What to do with one attempt of ``task``: validator, gates, judge, confidence, decision and
    breakpoints in that order, with the trail of what each said. Pure and deterministic."""
    config = config or SupervisorConfig()
    history = history or History()
    validation = validate(task, evidence, config.validator)
    gates = run_gates(task, evidence, config.gates)
    judged = judge_result(evidence.judge)
    results = (*validation.results, *gates, *((judged,) if judged else ()))
    confidence = score(task, evidence, validation.results, gates, config.weights, config.calibration)
    trail = _trail(results)
    if isinstance(evidence.judge, JudgeUnavailable):
        trail.append(TrailEntry(Stage.JUDGE, f"judge unavailable: {evidence.judge.reason}; gates only"))
    elif evidence.judge is None:
        trail.append(TrailEntry(Stage.JUDGE, "judge not asked: gates only"))
    trail.append(TrailEntry(Stage.CONFIDENCE, confidence.line))
    decision = decide_attempt(evidence, results, confidence.value, history, config.decision)
    if decision.action is Action.AWAIT_ANSWER:
        decision = attrs.evolve(decision, question=validation.question or decision.question)
    trail.append(TrailEntry(Stage.DECISION, f"{decision.action.value}: {decision.reason}"))
    if decision.action is Action.ACCEPT or (
        decision.action is Action.FAIL and decision.rule != "safety-violation"
    ):
        retries_left = max(config.decision.max_fix_attempts - history.fix_attempts, 0)
        view = AttemptView(task, evidence, confidence.value, results, retries_left, history.accepted_types)
        fired = fired_breakpoints(config.breakpoints, view)
        trail += [TrailEntry(Stage.BREAKPOINT, f"rule {f.name} fired: {f.reason}") for f in fired]
        if fired:
            first = fired[0]
            reason = (
                f"stopped for review: rule {first.name}, confidence {confidence.value:.2f} ({first.reason})"
            )
            decision = attrs.evolve(decision, action=Action.STOP_FOR_REVIEW, reason=reason, rule=first.name)
            trail.append(TrailEntry(Stage.DECISION, f"{decision.action.value}: {reason}"))
    return attrs.evolve(decision, results=results, trail=tuple(trail), raw_confidence=confidence.raw)
