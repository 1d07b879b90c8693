"""How an attempt ended, from the agent's result and what its stream told: pure decisions the engine applies.

The engine's shell gathers (the agent's result, the streamed events, the refs and the
checkpoint after the attempt); these functions decide what that means: the cost and
turns the attempt is recorded with, whether a safety violation fails it, and which
question (if any) it waits on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from orchcore.budget import RunningCost
from orchcore.ports.agent import AgentResult
from orchcore.ports.agent_events import Asked, Finished, TypedAgentEvent, UsageReport
from orchcore.questions import question_in
from orchcore.records import Event, EventKind, Outcome
from orchcore.safety.events import SafetyEvent, SafetyLayer, violation


@attrs.define
class Streamed:
    """What an attempt's stream said that its result may not: the cost so far (latest per
    message), the agent's final ``Finished`` and the question it ``Asked``."""

    cost: RunningCost = attrs.field(factory=RunningCost)
    finished: Finished | None = None
    asked: str | None = None

    def note(self, event: TypedAgentEvent) -> None:
        """Take one event into account."""
        match event:
            case UsageReport(message_id=message_id, cost_usd=cost) if cost is not None:
                self.cost.add(message_id, cost)
            case Finished():
                self.finished = event
            case Asked(text=text):
                self.asked = text
            case _:
                pass


def with_stream(result: AgentResult, streamed: Streamed) -> AgentResult:
    """``result`` completed with what the stream said: the agent's own figures win, then its
    ``Finished``, then the streamed usage priced message by message."""
    finished = streamed.finished
    cost: Decimal | None = result.cost_usd
    if cost is None and finished is not None:
        cost = finished.cost_usd
    if cost is None and streamed.cost.by_message:
        cost = streamed.cost.so_far
    turns = result.turns if result.turns is not None else (finished.turns if finished else None)
    session = result.agent_session_id or (finished.agent_session_id if finished else None)
    if (cost, turns, session) == (result.cost_usd, result.turns, result.agent_session_id):
        return result
    return attrs.evolve(result, cost_usd=cost, turns=turns, agent_session_id=session)


def attempt_violations(
    stream: SafetyEvent | None, ref_lines: Iterable[str], checkpoint: Iterable[str]
) -> list[SafetyEvent]:
    """Every violation of one attempt: the stream guard's, each moved git ref, what the
    checkpoint comparison found (in that order: the first one names the failure)."""
    found = [stream] if stream is not None else []
    found += [violation(SafetyLayer.REFS, line, "git ref changed") for line in ref_lines]
    found += [violation(SafetyLayer.CHECKPOINT, "", text) for text in checkpoint]
    return found


def failed_for_safety(
    result: AgentResult,
    violations: Sequence[SafetyEvent],
    restored: Sequence[str],
    *,
    task_id: str,
    attempt: int,
    at: datetime,
) -> tuple[AgentResult, tuple[Event, ...]]:
    """Whatever the agent says, a forbidden attempt fails its task (a human must look): the
    failed result and one safety event per violation. No violation: ``result`` unchanged."""
    if not violations:
        return result, ()
    note = f" (restored from the checkpoint: {', '.join(restored)})" if restored else ""
    failed = attrs.evolve(
        result,
        outcome=Outcome.FAILED,
        reason=f"safety violation: {violations[0].failure}{note}",
        retryable=False,
        retry_at=None,
        final_text="",
    )
    events = tuple(
        Event(
            EventKind.SAFETY,
            at,
            task_id,
            attempt,
            attrs.evolve(v, reason=v.reason + note).as_data() | {"restored": list(restored)},
        )
        for v in violations
    )
    return failed, events


def question_to_wait_for(
    result: AgentResult, boxed: str | None, asked: str | None, *, supervised: bool
) -> str | None:
    """The question a finished attempt waits on: the question box's, the one the agent ``Asked``,
    else its final message's last paragraph if that is a question. Without the supervisor, a
    courtesy question after the work ("Anything else?") is no question: the task is done."""
    if result.outcome is not Outcome.SUCCEEDED:
        return None
    if asked is not None and boxed is None:
        return asked
    question = boxed or question_in(result.final_text)
    if question is None or supervised:
        return question
    from orchcore.supervise.validator import is_courtesy_question  # the supervisor loads only when used

    return None if is_courtesy_question(question) else question
