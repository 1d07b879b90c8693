"""``record_checked``: any decision on any attempt, in any session state the engine can meet,
becomes a legal transition with its GATE and SUPERVISION events (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchcore.ports.agent import AgentResult
from orchcore.records import Attempt, EventKind, Gate, Outcome, Session, Snapshot, TaskRun
from orchcore.state import SessionState, TaskState
from orchcore.supervise import Action, Decision, Evidence, GateResult, Stage
from orchcore.supervision import Checked, fix_history, record_checked
from orchcore.tasks import Plan, Task

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PLAN = Plan("t.md", (Task(id="1", title="one", description="x"),))
EXPECTED = {
    Action.ACCEPT: TaskState.COMPLETED,
    Action.RETRY_WITH_FEEDBACK: TaskState.PENDING,
    Action.STOP_FOR_REVIEW: TaskState.WAITING_REVIEW,
    Action.FAIL: TaskState.FAILED,
}


def snapshot(session_state: SessionState) -> Snapshot:
    session = Session("s1", "t.md", session_state, NOW, NOW)
    run = TaskRun("1", state=TaskState.RUNNING, attempts=(Attempt(1, NOW),))
    return Snapshot(session, PLAN, {"1": run})


results = st.lists(
    st.builds(
        GateResult, st.sampled_from(["check:x", "scope", "deliverables"]), st.booleans(), st.text(max_size=20)
    ),
    max_size=4,
)


@given(
    action=st.sampled_from(Action),
    session_state=st.sampled_from([SessionState.RUNNING, SessionState.PAUSED, SessionState.CANCELLED]),
    outcome=st.sampled_from([Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.ERROR]),
    gates=results,
)
def test_every_decision_is_a_legal_transition_with_its_events(
    action: Action, session_state: SessionState, outcome: Outcome, gates: list[GateResult]
) -> None:
    decision = Decision(
        action, "why", 0.5, rule="r", feedback="fix it", question="Which one?", results=tuple(gates)
    )
    checked = Checked(Evidence("1", 1, outcome=outcome), decision)
    result = AgentResult(outcome, exit_code=0 if outcome is Outcome.SUCCEEDED else 1, reason="agent said")
    mutation = record_checked(snapshot(session_state), "1", result, NOW, checked)
    (run,) = mutation.runs
    kinds = [e.kind for e in mutation.events]
    assert kinds.count(EventKind.SUPERVISION) == 1
    assert kinds.count(EventKind.GATE) == len(gates)
    assert run.attempts[-1].finished_at == NOW
    assert run.attempts[-1].retry_at is None  # the supervisor decides retries, not the retry policy
    session = mutation.session or snapshot(session_state).session
    if session_state is SessionState.CANCELLED:
        assert run.state is TaskState.CANCELLED
        return
    if action is Action.AWAIT_ANSWER:
        # a paused session keeps the question too: resuming asks it
        asked = outcome is Outcome.SUCCEEDED and session_state in (SessionState.RUNNING, SessionState.PAUSED)
        assert run.state is (TaskState.WAITING_ANSWER if asked else _plain(outcome))
        if asked:
            assert run.question
            assert session.state is (
                SessionState.WAITING_ANSWER if session_state is SessionState.RUNNING else SessionState.PAUSED
            )
        return
    if action is Action.ACCEPT:
        assert run.state is _plain(outcome)
        return
    assert run.state is EXPECTED[action]
    if action is Action.STOP_FOR_REVIEW and session_state is SessionState.RUNNING:
        assert session.state is SessionState.WAITING_APPROVAL
        assert session.waiting_for == "1"
        assert session.gate is Gate.REVIEW
        assert EventKind.APPROVAL_NEEDED in kinds
    else:
        assert session.state is session_state  # a paused session stays paused; resume gates it
    supervised = next(e for e in mutation.events if e.kind is EventKind.SUPERVISION)
    assert supervised.data["feedback"] == ("fix it" if action is Action.RETRY_WITH_FEEDBACK else "")
    assert fix_history(mutation.events, "1").feedback == supervised.data["feedback"]


def _plain(outcome: Outcome) -> TaskState:
    """What record_result makes of an attempt the supervisor accepted as it was."""
    return TaskState.COMPLETED if outcome is Outcome.SUCCEEDED else TaskState.FAILED


def test_a_gate_result_is_stored_as_its_data() -> None:
    gate = GateResult("check:pytest", False, "exited 1", "E assert", stage=Stage.GATE)
    checked = Checked(Evidence("1", 1), Decision(Action.FAIL, "still failing", 0.2, results=(gate,)))
    mutation = record_checked(
        snapshot(SessionState.RUNNING), "1", AgentResult(Outcome.SUCCEEDED), NOW, checked
    )
    (stored,) = [e for e in mutation.events if e.kind is EventKind.GATE]
    assert stored.data == gate.as_data()
    assert stored.attempt == 1
