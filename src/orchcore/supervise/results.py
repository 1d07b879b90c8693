"""What one validator rule or quality gate said of an attempt: a typed value stored as an event.

The engine stores each result as one event (``GateResult.as_data()``, a new
``EventKind.GATE`` is proposed), so ``orch status``, ``orch explain`` and the
report show every rule with its output tail; the decision reads the same values.
"""

from __future__ import annotations

import enum

import attrs

from orchcore.records import JsonObject
from orchcore.safety.events import redact

_TAIL_LIMIT = 2000


class Stage(enum.StrEnum):
    """Which part of the pipeline spoke, in the order they run."""

    VALIDATOR = "validator"
    GATE = "gate"
    JUDGE = "judge"
    CONFIDENCE = "confidence"
    DECISION = "decision"
    BREAKPOINT = "breakpoint"


class Remedy(enum.StrEnum):
    """What a failure of the rule calls for: the agent can fix it, or a human must look."""

    RETRY = "retry"  # feedback to the agent: the failing output, then the same session resumes
    REVIEW = "review"  # a human decides (a migration edited, a secret on disk)
    ASK = "ask"  # the agent asked a real question instead of doing the work: wait for an answer


def _tail(text: str) -> str:
    text = redact(text)
    return text if len(text) <= _TAIL_LIMIT else "…" + text[-(_TAIL_LIMIT - 1) :]


@attrs.frozen
class GateResult:
    """One rule's verdict: ``name`` is stable (config and ``orch explain`` use it), ``detail`` one line
    for people, ``output_tail`` the end of what showed it (a check's output, the offending lines),
    redacted and cut to 2000 characters."""

    name: str
    passed: bool
    detail: str = ""
    output_tail: str = attrs.field(default="", converter=_tail)
    stage: Stage = Stage.GATE
    remedy: Remedy = Remedy.RETRY

    @property
    def line(self) -> str:
        """``gate checks: failed (pytest -q exited 1)``: one line for status and the trail."""
        verdict = "passed" if self.passed else "failed"
        return f"{self.stage.value} {self.name}: {verdict}" + (f" ({self.detail})" if self.detail else "")

    def as_data(self) -> JsonObject:
        """The event data this is stored as."""
        return {
            "stage": self.stage.value,
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "output_tail": self.output_tail,
            "remedy": self.remedy.value,
            "text": self.line,
        }


def passed(name: str, detail: str = "", *, stage: Stage = Stage.GATE) -> GateResult:
    """A passing result."""
    return GateResult(name, True, detail, stage=stage)


def failed(
    name: str, detail: str, output_tail: str = "", *, stage: Stage = Stage.GATE, remedy: Remedy = Remedy.RETRY
) -> GateResult:
    """A failing result and what it calls for."""
    return GateResult(name, False, detail, output_tail, stage=stage, remedy=remedy)
