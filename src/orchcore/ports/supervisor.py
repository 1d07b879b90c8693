"""The Supervisor port: a judge (a local LLM through Ollama, first) that reads an attempt's
evidence and says, per acceptance criterion, whether the work meets it.

The judge is advice, never a gate the run waits on: an adapter that cannot get a
verdict (server down, model not pulled, too slow, invalid JSON after its retries)
returns ``JudgeUnavailable`` with the reason, and the decision falls back to the
mechanical gates. The prompt is rendered and fitted to ``context_window()`` by
orchcore before ``judge`` is called; the adapter only adds the output schema.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs


class Judgement(enum.StrEnum):
    """What the judge says of one criterion, or of the attempt as a whole."""

    MET = "met"
    NOT_MET = "not_met"
    UNSURE = "unsure"


@attrs.frozen
class CriterionVerdict:
    """The judge's answer for one acceptance criterion, with its reason."""

    criterion: str
    judgement: Judgement
    reason: str = ""


@attrs.frozen
class JudgeRequest:
    """One attempt to judge: the rendered prompt and the criteria the verdict must answer, in order.

    ``criteria`` may be empty (a task without acceptance criteria): the verdict is then
    overall only. ``system`` and ``prompt`` are already within the model's window.
    """

    task_id: str
    attempt: int
    criteria: tuple[str, ...]
    system: str
    prompt: str


@attrs.frozen
class Verdict:
    """The judge's structured answer: per criterion (same order as asked), overall, and a critique
    to give the agent on a retry. ``prompt_tokens`` is what the model counted (corrects estimates)."""

    overall: Judgement
    criteria: tuple[CriterionVerdict, ...] = ()
    critique: str = ""
    model: str = ""
    duration_s: float = 0.0
    prompt_tokens: int | None = None


@attrs.frozen
class JudgeUnavailable:
    """No verdict: why (shown in status and the report as "judge unavailable: <reason>")."""

    reason: str
    hint: str = ""
    """What the user can do, e.g. ``ollama pull qwen2.5-coder:32b``."""


class Supervisor(Protocol):
    """Judges attempts. ``judge`` raises nothing for a judge that cannot answer: it returns
    ``JudgeUnavailable`` (after the adapter's own retries with backoff)."""

    def context_window(self) -> int | None:
        """The model's context length in tokens (None if it cannot be learned now)."""
        ...

    def judge(self, request: JudgeRequest) -> Verdict | JudgeUnavailable:
        """The verdict on one attempt, or why there is none."""
        ...
