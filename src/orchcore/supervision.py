"""The supervisor's decision on an attempt as stored state: events and the transition it permits.

Pure functions: :func:`record_checked` is :func:`orchcore.decide.record_result` for an attempt the
supervisor judged (ACCEPT completes it, RETRY_WITH_FEEDBACK makes it pending again, STOP_FOR_REVIEW
moves it to ``waiting_review`` and the session waits as for an approval, FAIL fails it,
AWAIT_ANSWER waits for an answer), with one GATE event per result and one SUPERVISION event;
:func:`fix_history` reads back from the events the feedback the next attempt gets.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from orchcore.decide import record_result
from orchcore.ports.agent import AgentResult
from orchcore.ports.supervisor import JudgeUnavailable, Verdict
from orchcore.records import Event, EventKind, Gate, JsonObject, Mutation, Outcome, Snapshot
from orchcore.state import SessionState, Step, TaskState, next_session_state, next_task_state
from orchcore.supervise import Action, Decision, Evidence

_RETRY = Action.RETRY_WITH_FEEDBACK.value


@attrs.frozen
class Checked:
    """An attempt the supervisor judged: the evidence it read and what it decided."""

    evidence: Evidence
    decision: Decision


@attrs.frozen
class FixHistory:
    """What a task's earlier attempts left for the next: retries with feedback so far (a human's
    reject counts as one) and the feedback its next attempt gets ("" when none)."""

    fix_attempts: int = 0
    feedback: str = ""


def _judge_line(judge: Verdict | JudgeUnavailable | None) -> str:
    if isinstance(judge, JudgeUnavailable):
        return f"unavailable: {judge.reason}"
    if isinstance(judge, Verdict):
        return f"{judge.overall.value}" + (f" ({judge.model})" if judge.model else "")
    return "not asked"


def supervision_data(checked: Checked) -> JsonObject:
    """The SUPERVISION event's data: the decision, the gate counts, the judge and the feedback given."""
    decision = checked.decision
    passed = sum(1 for r in decision.results if r.passed)
    return decision.as_data() | {
        "gates_passed": passed,
        "gates_failed": len(decision.results) - passed,
        "judge": _judge_line(checked.evidence.judge),
        "feedback": decision.feedback if decision.action is Action.RETRY_WITH_FEEDBACK else "",
        "turns": checked.evidence.turns,
    }


def supervision_events(checked: Checked, task_id: str, attempt: int, now: datetime) -> tuple[Event, ...]:
    """One GATE event per validator/gate/judge result, then the SUPERVISION event."""
    gates = tuple(Event(EventKind.GATE, now, task_id, attempt, r.as_data()) for r in checked.decision.results)
    return (*gates, Event(EventKind.SUPERVISION, now, task_id, attempt, supervision_data(checked)))


def fix_history(events: Iterable[Event], task_id: str) -> FixHistory:
    """Retries with feedback of ``task_id`` so far, and the feedback for its next attempt: that of
    the latest retry decision or human rejection, until an attempt that got it is judged again
    (an attempt that crashed before it was judged leaves it for the next one)."""
    fixes = 0
    feedback = ""
    rejection = ""
    for event in events:
        if event.task_id != task_id:
            continue
        if event.kind is EventKind.SUPERVISION:
            retried = event.data.get("action") == _RETRY
            fixes += retried
            feedback = str(event.data.get("feedback") or "") if retried else ""
        elif event.kind is EventKind.COMMAND and event.data.get("command") == "reject":
            rejection = str(event.data.get("text") or "no reason given")
        elif event.kind is EventKind.TASK_STATE and rejection:
            if event.data.get("state") == TaskState.PENDING.value:  # a stopped attempt rejected: run again
                fixes += 1
                feedback = f"A human reviewed your last attempt and rejected it: {rejection}"
            rejection = ""
    return FixHistory(fixes, feedback)


def record_checked(
    snap: Snapshot,
    task_id: str,
    result: AgentResult,
    now: datetime,
    checked: Checked,
    *,
    extra: tuple[Event, ...] = (),
) -> Mutation:
    """Record the attempt as the supervisor decided (a cancelled session still cancels the task)."""
    run = snap.run(task_id)
    decision = checked.decision
    events = (*supervision_events(checked, task_id, run.attempt, now), *extra)
    final = attrs.evolve(result, retryable=False, retry_at=None)
    action = decision.action
    if snap.session.state is SessionState.CANCELLED or action is Action.ACCEPT:
        return record_result(snap, task_id, final, now, extra=events)
    if action is Action.AWAIT_ANSWER:
        question = decision.question or decision.reason
        return record_result(snap, task_id, final, now, extra=events, question=question)
    if action is Action.FAIL:
        outcome = Outcome.FAILED if result.outcome is Outcome.SUCCEEDED else result.outcome
        failed = attrs.evolve(final, outcome=outcome, reason=decision.reason)
        return record_result(snap, task_id, failed, now, extra=events)
    step = Step.FIX if action is Action.RETRY_WITH_FEEDBACK else Step.REVIEW
    reason = decision.reason if step is Step.FIX else decision.line
    mutation = record_result(snap, task_id, attrs.evolve(final, reason=reason), now, extra=events)
    state = next_task_state(task_id, TaskState.RUNNING, step)
    task_run = attrs.evolve(mutation.runs[0], state=state)
    finished = tuple(
        attrs.evolve(e, data=e.data | {"state": state.value}) if e.kind is EventKind.TASK_FINISHED else e
        for e in mutation.events
    )
    session = mutation.session if mutation.session is not None else snap.session
    if step is Step.REVIEW and snap.session.state is SessionState.RUNNING:
        gated = next_session_state(snap.session.state, Step.GATE)
        why = f"task {task_id} {decision.line}"
        session = attrs.evolve(session, state=gated, waiting_for=task_id, gate=Gate.REVIEW, reason=why)
        data: JsonObject = {
            "gate": Gate.REVIEW.value,
            "title": snap.plan.task(task_id).title,
            "rule": decision.rule,
            "confidence": round(decision.confidence, 2),
            "text": decision.line,
        }
        finished += (
            Event(EventKind.APPROVAL_NEEDED, now, task_id, run.attempt, data),
            Event(EventKind.SESSION_STATE, now, task_id, data={"state": gated.value, "reason": why}),
        )
    return attrs.evolve(mutation, session=session, runs=(task_run,), events=finished)
