"""The functional core: from a stored snapshot to the next action, and outcomes to mutations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.decide import (
    AwaitApproval,
    Finish,
    Idle,
    StartTask,
    begin,
    blocked_tasks,
    decide,
    finish,
    gate,
    interrupt_running,
    record_result,
)
from orchcore.errors import IllegalTransition
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.ports.agent import AgentResult
from orchcore.records import Attempt, EventKind, Gate, Mutation, Outcome, Session, Snapshot, TaskRun
from orchcore.state import DONE_TASK, SessionState, TaskState
from orchcore.tasks import Plan, Priority, Task

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
P = TaskState.PENDING
DEFAULT = ApprovalPolicy()


def task(
    task_id: str,
    *deps: str,
    priority: Priority = Priority.MEDIUM,
    approval: bool = False,
    type: str = "backend",  # noqa: A002 - the task-file field is called type
) -> Task:
    return Task(
        id=task_id,
        title=f"task {task_id}",
        description="x",
        depends_on=deps,
        priority=priority,
        requires_approval=approval,
        type=type,
    )


def snapshot(
    tasks: list[Task],
    runs: dict[str, TaskRun] | None = None,
    *,
    state: SessionState = SessionState.RUNNING,
    auto_approve: bool = False,
    reason: str = "",
) -> Snapshot:
    session = Session(
        id="s1",
        source="t.md",
        state=state,
        created_at=NOW,
        updated_at=NOW,
        auto_approve=auto_approve,
        reason=reason,
        version=4,
    )
    all_runs = {t.id: TaskRun(t.id) for t in tasks}
    all_runs.update(runs or {})
    return Snapshot(session, Plan(source="t.md", tasks=tuple(tasks)), all_runs)


def run(task_id: str, state: TaskState, *, attempts: int = 0, **kw: bool) -> TaskRun:
    done = tuple(
        Attempt(n + 1, NOW, NOW, Outcome.FAILED if state is TaskState.FAILED else Outcome.SUCCEEDED)
        for n in range(attempts)
    )
    return TaskRun(task_id, state=state, attempts=done, **kw)


def next_action(snap: Snapshot, policy: ApprovalPolicy = DEFAULT) -> object:
    return decide(snap, policy, TaskGraph(snap.plan.tasks))


def apply(snap: Snapshot, mutation: Mutation) -> Snapshot:
    """What a store does with a mutation, for chaining pure steps."""
    runs = dict(snap.runs)
    runs.update({r.task_id: r for r in mutation.runs})
    session = mutation.session or snap.session
    return Snapshot(attrs.evolve(session, version=snap.session.version + 1), snap.plan, runs)


# --- decide ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [s for s in SessionState if s is not SessionState.RUNNING],
)
def test_a_session_that_is_not_running_makes_the_engine_idle(state: SessionState) -> None:
    snap = snapshot([task("1")], state=state, reason="why")
    assert next_action(snap) == Idle(state, "why")


def test_the_best_ready_task_starts_first() -> None:
    snap = snapshot([task("1", priority=Priority.LOW), task("2", priority=Priority.HIGH), task("3", "2")])
    assert next_action(snap) == StartTask("2", 1)


def test_a_task_that_requires_approval_waits_before_it_starts() -> None:
    snap = snapshot([task("1", approval=True)])
    assert next_action(snap) == AwaitApproval("1", Gate.BEFORE)


def test_an_approved_task_starts() -> None:
    snap = snapshot([task("1", approval=True)], {"1": run("1", P, approved=True)})
    assert next_action(snap) == StartTask("1", 1)


def test_auto_approve_on_the_session_skips_the_before_gate() -> None:
    snap = snapshot([task("1", approval=True)], auto_approve=True)
    assert next_action(snap) == StartTask("1", 1)


def test_a_task_still_waiting_for_approval_after_a_resume_is_gated_again_first() -> None:
    tasks = [task("1", priority=Priority.LOW, approval=True), task("2", priority=Priority.HIGH)]
    snap = snapshot(tasks, {"1": run("1", TaskState.WAITING_APPROVAL)})
    assert next_action(snap) == AwaitApproval("1", Gate.BEFORE)


def test_a_completed_checkpoint_task_waits_for_review_once() -> None:
    policy = ApprovalPolicy(checkpoint_after={"docs"})
    tasks = [task("1", type="docs"), task("2")]
    snap = snapshot(tasks, {"1": run("1", TaskState.COMPLETED, attempts=1)})
    assert next_action(snap, policy) == AwaitApproval("1", Gate.AFTER)
    reviewed = snapshot(tasks, {"1": run("1", TaskState.COMPLETED, attempts=1, reviewed=True)})
    assert next_action(reviewed, policy) == StartTask("2", 1)


def test_an_interrupted_task_runs_again_as_the_next_attempt_without_asking_again() -> None:
    snap = snapshot([task("1", approval=True)], {"1": run("1", TaskState.INTERRUPTED, attempts=2)})
    assert next_action(snap) == StartTask("1", 3)


def test_all_tasks_done_or_skipped_finishes_the_session_completed() -> None:
    snap = snapshot(
        [task("1"), task("2", "1")],
        {"1": run("1", TaskState.SKIPPED), "2": run("2", TaskState.COMPLETED, attempts=1)},
    )
    assert next_action(snap) == Finish(SessionState.COMPLETED, "all tasks done")


def test_a_failed_task_finishes_the_session_failed_naming_what_it_blocks() -> None:
    snap = snapshot(
        [task("1"), task("2", "1"), task("3", "2"), task("4")],
        {"1": run("1", TaskState.FAILED, attempts=1), "4": run("4", TaskState.COMPLETED, attempts=1)},
    )
    assert next_action(snap) == Finish(SessionState.FAILED, "task 1 failed; blocked: 2, 3")
    assert blocked_tasks(snap, TaskGraph(snap.plan.tasks)) == {"2": "1", "3": "2"}


def test_independent_tasks_run_before_the_session_fails() -> None:
    snap = snapshot([task("1"), task("2", "1"), task("3")], {"1": run("1", TaskState.FAILED, attempts=1)})
    assert next_action(snap) == StartTask("3", 1)


@pytest.mark.parametrize(
    ("policy", "auto", "gated"),
    [
        (ApprovalPolicy(mode=ApprovalMode.MANUAL), False, {"1", "2"}),
        (ApprovalPolicy(mode=ApprovalMode.MANUAL), True, set()),
        (ApprovalPolicy(mode=ApprovalMode.AUTO), False, set()),
        (ApprovalPolicy(mode=ApprovalMode.REQUIRED), False, {"1"}),
        (ApprovalPolicy(auto_approve={" BACKEND "}), False, set()),
    ],
)
def test_approval_policy_modes(policy: ApprovalPolicy, auto: bool, gated: set[str]) -> None:
    tasks = [task("1", approval=True), task("2")]
    assert {t.id for t in tasks if policy.before(t, auto_approve_run=auto)} == gated


def test_checkpoints_apply_whatever_the_mode() -> None:
    policy = ApprovalPolicy(mode=ApprovalMode.AUTO, checkpoint_after=["Docs"])
    assert policy.after(task("1", type="docs"))
    assert not policy.after(task("2"))


# --- the mutations that record steps -----------------------------------------------------------


def test_gate_before_moves_the_task_to_waiting_approval_and_says_why() -> None:
    snap = snapshot([task("1", approval=True)])
    mutation = gate(snap, AwaitApproval("1", Gate.BEFORE), NOW)
    assert mutation.session is not None
    assert mutation.session.state is SessionState.WAITING_APPROVAL
    assert (mutation.session.waiting_for, mutation.session.gate) == ("1", Gate.BEFORE)
    assert mutation.runs[0].state is TaskState.WAITING_APPROVAL
    assert [e.kind for e in mutation.events] == [EventKind.APPROVAL_NEEDED, EventKind.SESSION_STATE]
    assert mutation.events[0].data == {"gate": "before", "title": "task 1"}


def test_gate_after_keeps_the_task_completed() -> None:
    snap = snapshot([task("1")], {"1": run("1", TaskState.COMPLETED, attempts=1)})
    mutation = gate(snap, AwaitApproval("1", Gate.AFTER), NOW)
    assert mutation.runs[0].state is TaskState.COMPLETED
    assert mutation.session is not None
    assert mutation.session.reason == "checkpoint: review task 1 before the session goes on"


def test_begin_adds_the_next_attempt_and_marks_the_task_running() -> None:
    snap = snapshot([task("1")], {"1": run("1", TaskState.INTERRUPTED, attempts=1)})
    mutation = begin(snap, "1", NOW + timedelta(minutes=1))
    [started] = mutation.runs
    assert started.state is TaskState.RUNNING
    assert [a.number for a in started.attempts] == [1, 2]
    assert started.attempts[-1].started_at == NOW + timedelta(minutes=1)
    assert mutation.events[0].kind is EventKind.TASK_STARTED
    assert mutation.events[0].attempt == 2


@pytest.mark.parametrize(
    "state", [TaskState.COMPLETED, TaskState.FAILED, TaskState.SKIPPED, TaskState.RUNNING]
)
def test_begin_refuses_a_task_that_is_not_pending_or_interrupted(state: TaskState) -> None:
    snap = snapshot([task("1")], {"1": run("1", state, attempts=1)})
    with pytest.raises(IllegalTransition, match=f"task 1 is {state.value}"):
        begin(snap, "1", NOW)


@pytest.mark.parametrize(
    ("session_state", "outcome", "expected"),
    [
        (SessionState.RUNNING, Outcome.SUCCEEDED, TaskState.COMPLETED),
        (SessionState.RUNNING, Outcome.FAILED, TaskState.FAILED),
        (SessionState.RUNNING, Outcome.TIMED_OUT, TaskState.FAILED),
        (SessionState.PAUSED, Outcome.SUCCEEDED, TaskState.COMPLETED),
        (SessionState.CANCELLED, Outcome.SUCCEEDED, TaskState.CANCELLED),
        (SessionState.CANCELLED, Outcome.STOPPED, TaskState.CANCELLED),
    ],
)
def test_record_result_sets_the_task_state_from_the_outcome_and_the_session(
    session_state: SessionState, outcome: Outcome, expected: TaskState
) -> None:
    snap = snapshot([task("1")], {"1": run("1", P)})
    snap = apply(snap, begin(snap, "1", NOW))
    snap = attrs.evolve(snap, session=attrs.evolve(snap.session, state=session_state))
    result = AgentResult(outcome, exit_code=0, reason="done", cost_usd=Decimal("0.10"))
    mutation = record_result(snap, "1", result, NOW + timedelta(seconds=90))
    [finished] = mutation.runs
    assert finished.state is expected
    last = finished.attempts[-1]
    assert (last.outcome, last.cost_usd, last.finished_at) == (
        outcome,
        Decimal("0.10"),
        NOW + timedelta(seconds=90),
    )
    assert mutation.events[0].data["duration_s"] == 90.0


def test_finish_ends_the_session_and_clears_any_wait() -> None:
    snap = snapshot([task("1")], {"1": run("1", TaskState.COMPLETED, attempts=1)})
    mutation = finish(snap, Finish(SessionState.COMPLETED, "all tasks done"), NOW)
    assert mutation.session is not None
    assert (mutation.session.state, mutation.session.reason) == (SessionState.COMPLETED, "all tasks done")


def test_finish_refuses_a_session_that_is_not_running() -> None:
    snap = snapshot([task("1")], state=SessionState.PAUSED)
    with pytest.raises(IllegalTransition, match="the session is paused"):
        finish(snap, Finish(SessionState.COMPLETED, "done"), NOW)


def test_interrupt_running_marks_only_running_tasks_interrupted() -> None:
    tasks = [task("1"), task("2"), task("3")]
    snap = snapshot(tasks, {"1": run("1", TaskState.COMPLETED, attempts=1)})
    snap = apply(snap, begin(snap, "2", NOW))
    mutation = interrupt_running(snap, NOW)
    assert [(r.task_id, r.state) for r in mutation.runs] == [("2", TaskState.INTERRUPTED)]
    assert mutation.runs[0].attempts[-1].outcome is Outcome.INTERRUPTED
    assert interrupt_running(snapshot(tasks), NOW) == Mutation()


def test_interrupt_running_in_a_cancelled_session_cancels_the_task() -> None:
    snap = snapshot([task("1")])
    snap = apply(snap, begin(snap, "1", NOW))
    snap = attrs.evolve(snap, session=attrs.evolve(snap.session, state=SessionState.CANCELLED))
    [cut] = interrupt_running(snap, NOW).runs
    assert cut.state is TaskState.CANCELLED
    assert cut.attempts[-1].outcome is Outcome.INTERRUPTED


# --- decide never breaks the graph's rules -----------------------------------------------------

_STATES = [TaskState.PENDING, TaskState.COMPLETED, TaskState.FAILED, TaskState.SKIPPED, TaskState.INTERRUPTED]


@st.composite
def running_snapshots(draw: st.DrawFn) -> Snapshot:
    n = draw(st.integers(1, 8))
    tasks = []
    for i in range(n):
        deps = (
            draw(st.lists(st.sampled_from([str(j) for j in range(i)]), unique=True, max_size=3)) if i else []
        )
        tasks.append(
            task(str(i), *deps, priority=draw(st.sampled_from(Priority)), approval=draw(st.booleans()))
        )
    runs = {}
    for t in tasks:
        state = draw(st.sampled_from(_STATES))
        attempts = 0 if state is TaskState.PENDING else draw(st.integers(1, 3))
        runs[t.id] = run(t.id, state, attempts=attempts, approved=draw(st.booleans()))
    return snapshot(tasks, runs, auto_approve=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(running_snapshots())
def test_decide_only_starts_a_ready_task_and_finishes_only_when_nothing_can_run(snap: Snapshot) -> None:
    graph = TaskGraph(snap.plan.tasks)
    action = decide(snap, DEFAULT, graph)
    done = {t for t, r in snap.runs.items() if r.state in DONE_TASK}
    runnable = [t for t in snap.plan.ids if snap.runs[t].state in (TaskState.PENDING, TaskState.INTERRUPTED)]
    ready = graph.ready(done, runnable)
    if isinstance(action, StartTask):
        assert action.task_id == ready[0]
        assert action.attempt == snap.runs[action.task_id].attempt + 1
        assert set(graph.dependencies(action.task_id)) <= done
    elif isinstance(action, AwaitApproval):
        assert action.gate is Gate.BEFORE
        assert action.task_id == ready[0]
        assert snap.plan.task(action.task_id).requires_approval
        assert not snap.session.auto_approve
    else:
        assert isinstance(action, Finish)
        assert ready == []
        completed = all(r.state in DONE_TASK for r in snap.runs.values())
        assert action.state is (SessionState.COMPLETED if completed else SessionState.FAILED)
