"""A scripted Supervisor for unit tests of the judgement pipeline: no model, no server.

Each ``judge`` call takes the next step of the script: a :class:`Verdict` (returned as is
when it answers the asked criteria in order, else ``JudgeUnavailable`` as a real adapter
would after a bad answer), a :class:`JudgeUnavailable`, a bare :class:`Judgement` (every
criterion and the overall verdict get it), or a callable that makes one of those from the
request. When the script is used up, ``then`` answers (by default: the judge is unavailable,
so a test that forgot a step sees it in its outcome instead of a made-up verdict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias

import attrs

from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeRequest, JudgeUnavailable, Verdict

Outcome: TypeAlias = Verdict | JudgeUnavailable | Judgement
JudgeStep: TypeAlias = Outcome | Callable[[JudgeRequest], Outcome]
EXHAUSTED = JudgeUnavailable("scripted supervisor: the script is used up")


def verdict_for(
    request: JudgeRequest,
    judgement: Judgement,
    *,
    reason: str = "",
    critique: str = "",
    model: str = "scripted",
) -> Verdict:
    """A verdict that gives every asked criterion, and the whole attempt, ``judgement``."""
    return Verdict(
        overall=judgement,
        criteria=tuple(CriterionVerdict(c, judgement, reason) for c in request.criteria),
        critique=critique,
        model=model,
    )


def _steps(steps: Iterable[JudgeStep]) -> list[JudgeStep]:
    return list(steps)


@attrs.define
class ScriptedSupervisor:
    """Satisfies orchcore.ports.Supervisor from a script; ``requests`` is every request judged."""

    script: list[JudgeStep] = attrs.field(factory=list, converter=_steps)
    window: int | None = 8192
    then: JudgeStep = EXHAUSTED
    requests: list[JudgeRequest] = attrs.field(factory=list)

    @classmethod
    def always(cls, outcome: JudgeStep, window: int | None = 8192) -> ScriptedSupervisor:
        """A supervisor that answers every request with ``outcome``."""
        return cls(window=window, then=outcome)

    def play(self, steps: Iterable[JudgeStep]) -> None:
        """Append steps to the script."""
        self.script.extend(steps)

    def context_window(self) -> int | None:
        return self.window

    def judge(self, request: JudgeRequest) -> Verdict | JudgeUnavailable:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self.then
        outcome = step(request) if callable(step) else step
        if isinstance(outcome, Judgement):
            return verdict_for(request, outcome)
        if isinstance(outcome, Verdict):
            asked = list(request.criteria)
            answered = [c.criterion for c in outcome.criteria]
            if answered != asked:
                return JudgeUnavailable(
                    f"scripted supervisor: the verdict answers {answered!r}, not the asked {asked!r}"
                )
        return outcome


__all__ = ["EXHAUSTED", "JudgeStep", "ScriptedSupervisor", "verdict_for"]
