"""The decision engine: what happens after an attempt, from the validator's, the gates' and the
judge's results, the confidence and how many retries were used.

In order, the first that applies:

1. a safety violation got through: **fail** (``safety-violation``);
2. a result whose remedy is REVIEW failed (forbidden path, schema drop, secret): **stop for
   review**, named by that result — before a question, so a secret on disk is never left
   waiting behind an answer;
3. the agent asked a real question instead of working: **await answer** (the engine moves the
   task to ``waiting_answer`` as it does today);
4. a validator rule, a gate or the judge (overall or a criterion not met) failed: **retry with
   feedback** while ``fix_attempts < max_fix_attempts``, else **fail** — which the
   ``gate_failing_after_retries`` breakpoint (on by default) turns into a stop for review;
5. otherwise **accept**, unless a breakpoint fires (see :mod:`orchcore.supervise.breakpoints`).
"""

from __future__ import annotations

import enum

import attrs

from orchcore.ports.supervisor import Judgement, JudgeUnavailable, Verdict
from orchcore.records import JsonObject
from orchcore.supervise.evidence import Evidence
from orchcore.supervise.results import GateResult, Remedy, Stage, failed, passed


class Action(enum.StrEnum):
    """What the engine does next with the task."""

    ACCEPT = "accept"  # completed
    RETRY_WITH_FEEDBACK = "retry_with_feedback"  # resume the agent's session with ``feedback`` as the prompt
    STOP_FOR_REVIEW = "stop_for_review"  # waiting_review: ``orch approve`` accepts, ``orch reject`` retries
    FAIL = "fail"  # failed
    AWAIT_ANSWER = "await_answer"  # waiting_answer with ``question``


@attrs.frozen
class TrailEntry:
    """One line of the decision trail for ``orch explain``: which stage said what."""

    stage: Stage
    text: str


@attrs.frozen
class Decision:
    """The supervisor's answer for one attempt.

    ``rule`` names what decided (a gate, a breakpoint rule, ``safety-violation``); ``feedback``
    is the retry prompt's body; ``summary`` the evidence in a few lines for a reviewer;
    ``results`` every validator/gate/judge result, each to be stored as an event.
    """

    action: Action
    reason: str
    confidence: float
    rule: str = ""
    feedback: str = ""
    summary: str = ""
    question: str = ""
    results: tuple[GateResult, ...] = ()
    trail: tuple[TrailEntry, ...] = ()
    raw_confidence: float | None = None
    """The confidence before calibration: what ``orch calibrate`` fits (None: same as ``confidence``)."""

    @property
    def line(self) -> str:
        """``stopped for review: rule low-confidence, confidence 0.42`` or ``accept (confidence 0.91)``:
        what status and notifications say."""
        if self.action is Action.STOP_FOR_REVIEW:
            return f"stopped for review: rule {self.rule}, confidence {self.confidence:.2f}"
        return f"{self.action.value} (confidence {self.confidence:.2f}): {self.reason}"

    def as_data(self) -> JsonObject:
        """The event data the decision is stored as (the results are stored as events of their own)."""
        return {
            "action": self.action.value,
            "rule": self.rule,
            "reason": self.reason,
            "confidence": round(self.confidence, 4),
            "raw_confidence": round(
                self.confidence if self.raw_confidence is None else self.raw_confidence, 4
            ),
            "summary": self.summary,
            "question": self.question,
            "trail": [{"stage": t.stage.value, "text": t.text} for t in self.trail],
            "text": self.line,
        }


@attrs.frozen
class History:
    """What the supervisor needs from before this attempt: retries with feedback already given to
    this task (an ``orch reject`` counts as one), and task types accepted earlier in the project."""

    fix_attempts: int = 0
    accepted_types: frozenset[str] = frozenset()


@attrs.frozen
class DecisionConfig:
    """How many retries with feedback a task gets, and how long the feedback may be (characters)."""

    max_fix_attempts: int = 2
    feedback_chars: int = 6000


def judge_result(judge: Verdict | JudgeUnavailable | None) -> GateResult | None:
    """The judge's verdict as a result (failing when overall or any criterion is not met); None when
    there is no verdict."""
    if not isinstance(judge, Verdict):
        return None
    unmet = [c for c in judge.criteria if c.judgement is Judgement.NOT_MET]
    if judge.overall is not Judgement.NOT_MET and not unmet:
        return passed("judge", f"overall {judge.overall.value}", stage=Stage.JUDGE)
    lines = [f"not met: {c.criterion}" + (f" ({c.reason})" if c.reason else "") for c in unmet]
    detail = "; ".join(lines[:3]) or f"overall {judge.overall.value}"
    tail = "\n".join([*lines, judge.critique] if judge.critique else lines)
    return failed("judge", detail, tail, stage=Stage.JUDGE)


def feedback(results: tuple[GateResult, ...], judge: Verdict | JudgeUnavailable | None, limit: int) -> str:
    """The retry prompt's body: each failing result with its output tail, then the judge's critique,
    each part cut so the whole stays within ``limit`` characters."""
    failing = [r for r in results if not r.passed and r.stage is not Stage.JUDGE]
    parts = [f"## {r.name}: {r.detail}\n{r.output_tail}".rstrip() for r in failing]
    if isinstance(judge, Verdict):
        unmet = [f"- {c.criterion}: {c.reason}" for c in judge.criteria if c.judgement is not Judgement.MET]
        critique = "\n".join([*unmet, judge.critique]).strip()
        if critique:
            parts.append("## the reviewer's critique\n" + critique)
    if not parts:
        return ""
    share = max(limit // len(parts), 200)
    cut = [p if len(p) <= share else p[: share - 12] + "\n[…cut…]" for p in parts]
    head = "Your last attempt did not pass these checks. Fix them, then finish:\n\n"
    return (head + "\n\n".join(cut))[: max(limit, len(head) + 200)]


def summary(evidence: Evidence, results: tuple[GateResult, ...], confidence: float) -> str:
    """A reviewer's few lines: what changed, what failed, what the judge said, the confidence."""
    added = sum(f.lines_added for f in evidence.changed)
    removed = sum(f.lines_removed for f in evidence.changed)
    lines = [f"{len(evidence.changed)} files changed (+{added} -{removed}); confidence {confidence:.2f}"]
    lines += [r.line for r in results if not r.passed]
    judge = evidence.judge
    if isinstance(judge, JudgeUnavailable):
        lines.append(f"judge unavailable: {judge.reason}")
    elif isinstance(judge, Verdict):
        lines.append(
            f"judge: {judge.overall.value}" + (f" ({judge.critique[:200]})" if judge.critique else "")
        )
    else:
        lines.append("judge: not asked (gates only)")
    return "\n".join(lines)


def decide_attempt(
    evidence: Evidence,
    results: tuple[GateResult, ...],
    confidence: float,
    history: History,
    config: DecisionConfig,
) -> Decision:
    """The decision before breakpoints (rules 1-5 of the module docstring)."""
    brief = summary(evidence, results, confidence)
    if evidence.violations:
        why = evidence.violations[0].failure
        return Decision(
            Action.FAIL, f"safety violation: {why}", confidence, "safety-violation", summary=brief
        )
    review = next((r for r in results if not r.passed and r.remedy is Remedy.REVIEW), None)
    if review is not None:
        return Decision(Action.STOP_FOR_REVIEW, review.detail, confidence, review.name, summary=brief)
    asked = next((r for r in results if not r.passed and r.remedy is Remedy.ASK), None)
    if asked is not None:
        return Decision(Action.AWAIT_ANSWER, asked.detail, confidence, asked.name, question=asked.output_tail)
    failing = [r for r in results if not r.passed]
    if failing and history.fix_attempts < config.max_fix_attempts:
        text = feedback(results, evidence.judge, config.feedback_chars)
        number = history.fix_attempts + 1
        reason = f"retry {number} of {config.max_fix_attempts}: " + ", ".join(r.name for r in failing)
        return Decision(Action.RETRY_WITH_FEEDBACK, reason, confidence, failing[0].name, feedback=text)
    if failing:
        names = ", ".join(r.name for r in failing)
        reason = f"still failing after {history.fix_attempts} retries: {names}"
        return Decision(Action.FAIL, reason, confidence, failing[0].name, summary=brief)
    return Decision(Action.ACCEPT, "every check passed", confidence, summary=brief)
