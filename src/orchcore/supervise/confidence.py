"""The confidence scorer: how likely the attempt is good work, in [0, 1], from every signal.

Each signal is a score in [0, 1] with a weight from :class:`ConfidenceWeights`; a
signal with nothing to say (no checks ran, no judge) drops out instead of counting as
0 or 1. The raw confidence is the weighted mean of the signals *and a prior of 0.5*
(weight ``prior``), so an attempt with little evidence sits nearer 0.5 than one whose
checks and judge agree, times ``failure_factor`` (0.5) for each failing validator rule,
gate or judge verdict: one failing check is strong evidence of bad work, however many
other gates pass. Then the fitted :class:`~orchcore.supervise.calibration.Calibration`
maps raw to calibrated (identity until ``orch calibrate`` fits one).

Signals and default weights:

========== ====== ==================================================================
validator  1.0    share of validator rules passed
checks     3.0    share of check commands passed (absent: no checks)
gates      2.0    share of the other gates passed
judge      3.0    half the overall verdict, half the mean per criterion (met 1, unsure
                  0.5, not met 0); absent when the judge was unavailable or not asked
claims     1.0    the agent's own claims against the evidence: "all tests pass" with a
                  failing check, or "created X" for a missing deliverable, is 0; claims
                  the checks bear out are 1; absent when it claims nothing checkable
diff_size  0.5    1 up to the lines expected for the task's complexity (low 200, medium
                  or unknown 600, high 2000), falling as expected/lines beyond
safety     1.0    1 with no safety event, 1/(1+n) for n refusals, 0 for a violation
========== ====== ==================================================================

Flipping any gate from failing to passing never lowers the confidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from orchcore.ports.supervisor import Judgement, Verdict
from orchcore.supervise.calibration import IDENTITY, Calibration, calibrated
from orchcore.supervise.evidence import DeliverableState, Evidence
from orchcore.supervise.results import GateResult
from orchcore.tasks import Complexity, Task

_SCORES = {Judgement.MET: 1.0, Judgement.UNSURE: 0.5, Judgement.NOT_MET: 0.0}
_TESTS_CLAIM = re.compile(
    r"(?i)\b(?:all (?:the )?tests (?:now )?pass|tests (?:now |all )?pass(?:ed|ing)?|tests are (?:all )?(?:passing|green)|"
    r"(?:test )?suite (?:is )?(?:passes|passing|green)|all checks pass)"
)
_CREATED_CLAIM = re.compile(r"(?i)\b(?:created|added|wrote|implemented)\s+`?([\w./-]+\.\w+)`?")
_EXPECTED_LINES = {Complexity.LOW: 200, Complexity.MEDIUM: 600, Complexity.HIGH: 2000, None: 600}


@attrs.frozen
class ConfidenceWeights:
    """How much each signal counts (0 switches it off); ``prior`` pulls thin evidence towards 0.5;
    ``failure_factor`` (clamped to [0, 1]) is what each failing rule leaves of the confidence."""

    validator: float = 1.0
    checks: float = 3.0
    gates: float = 2.0
    judge: float = 3.0
    claims: float = 1.0
    diff_size: float = 0.5
    safety: float = 1.0
    prior: float = 2.0
    failure_factor: float = 0.5
    """Each failing validator rule, gate or judge verdict multiplies the confidence by this."""


@attrs.frozen
class Signal:
    """One signal's score in [0, 1], its weight, and what it read."""

    name: str
    score: float
    weight: float
    detail: str = ""


@attrs.frozen
class Confidence:
    """The scorer's answer: ``value`` calibrated, ``raw`` before calibration, and each signal."""

    value: float
    raw: float
    signals: tuple[Signal, ...] = ()

    @property
    def line(self) -> str:
        """``confidence 0.84 (raw 0.84): checks 1.00, gates 1.00, ...`` for the trail."""
        parts = ", ".join(f"{s.name} {s.score:.2f}" for s in self.signals)
        return f"confidence {self.value:.2f} (raw {self.raw:.2f}): {parts}"


def _share(results: Sequence[GateResult]) -> float:
    return sum(r.passed for r in results) / len(results)


def judge_score(verdict: Verdict) -> float:
    """A verdict as a score: half the overall judgement, half the mean over criteria (overall alone
    when there are none)."""
    overall = _SCORES[verdict.overall]
    if not verdict.criteria:
        return overall
    per = sum(_SCORES[c.judgement] for c in verdict.criteria) / len(verdict.criteria)
    return (overall + per) / 2


def _judge_failed(evidence: Evidence) -> bool:
    judge = evidence.judge
    if not isinstance(judge, Verdict):
        return False
    return judge.overall is Judgement.NOT_MET or any(c.judgement is Judgement.NOT_MET for c in judge.criteria)


def _claims(evidence: Evidence) -> Signal | None:
    message = evidence.final_message
    missing = {d.path for d in evidence.deliverables if d.state is not DeliverableState.PRESENT}
    false_files = [p for p in _CREATED_CLAIM.findall(message) if p in missing]
    if false_files:
        return Signal("claims", 0.0, 0.0, f"claims {false_files[0]} but it is not there")
    if _TESTS_CLAIM.search(message) and evidence.checks:
        if all(c.passed for c in evidence.checks):
            return Signal("claims", 1.0, 0.0, "claims tests pass, and they do")
        return Signal("claims", 0.0, 0.0, "claims tests pass, but a check failed")
    return None


def _diff_size(task: Task, evidence: Evidence) -> Signal:
    expected = _EXPECTED_LINES[task.estimated_complexity]
    lines = evidence.lines_changed
    score = 1.0 if lines <= expected else expected / lines
    return Signal("diff_size", score, 0.0, f"{lines} lines changed, {expected} expected at most")


def _safety(evidence: Evidence) -> Signal:
    if evidence.violations:
        return Signal("safety", 0.0, 0.0, f"{len(evidence.violations)} violations")
    refusals = len(evidence.safety)
    return Signal("safety", 1 / (1 + refusals), 0.0, f"{refusals} refusals")


def signals(
    task: Task, evidence: Evidence, validator: Sequence[GateResult], gates: Sequence[GateResult]
) -> list[Signal]:
    """Every signal that has something to say about this attempt (weights still 0: see ``score``)."""
    checks = [g for g in gates if g.name.startswith("check:")]
    others = [g for g in gates if not g.name.startswith("check:")]
    found = [Signal("validator", _share(validator) if validator else 1.0, 0.0)]
    if checks:
        found.append(
            Signal("checks", _share(checks), 0.0, f"{sum(g.passed for g in checks)}/{len(checks)} passed")
        )
    if others:
        found.append(
            Signal("gates", _share(others), 0.0, f"{sum(g.passed for g in others)}/{len(others)} passed")
        )
    if isinstance(evidence.judge, Verdict):
        found.append(
            Signal("judge", judge_score(evidence.judge), 0.0, f"overall {evidence.judge.overall.value}")
        )
    claims = _claims(evidence)
    if claims is not None:
        found.append(claims)
    found += [_diff_size(task, evidence), _safety(evidence)]
    return found


def score(
    task: Task,
    evidence: Evidence,
    validator: Sequence[GateResult],
    gates: Sequence[GateResult],
    weights: ConfidenceWeights | None = None,
    calibration: Calibration = IDENTITY,
) -> Confidence:
    """The confidence that the attempt is good work: the weighted mean of its signals and the prior,
    then calibrated. Always in [0, 1]."""
    weights = weights or ConfidenceWeights()
    weighted = [
        attrs.evolve(s, weight=max(getattr(weights, s.name), 0.0))
        for s in signals(task, evidence, validator, gates)
    ]
    total = sum(s.weight for s in weighted) + max(weights.prior, 0.0)
    if total <= 0:
        raw = 0.5
    else:
        raw = (sum(s.score * s.weight for s in weighted) + 0.5 * max(weights.prior, 0.0)) / total
    factor = min(max(weights.failure_factor, 0.0), 1.0)
    failures = sum(not r.passed for r in (*validator, *gates)) + _judge_failed(evidence)
    raw = min(max(raw * factor**failures, 0.0), 1.0)
    return Confidence(calibrated(calibration, raw), raw, tuple(weighted))
