"""Progress, the incremental index behind ``decide``: after any sequence of task
transitions it answers exactly what a full rescan of every task answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.budget import BudgetStatus, Level, total
from orchcore.decide import (
    Action,
    AwaitAnswer,
    AwaitApproval,
    Finish,
    Halt,
    StartTask,
    Wait,
    decide,
    failure_summary,
)
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.progress import Progress
from orchcore.records import Attempt, Gate, Session, Snapshot, TaskRun
from orchcore.runtable import RunTable
from orchcore.state import DONE_TASK, SessionState, TaskState
from orchcore.tasks import Plan, Priority, Task
from orchcore.testing.strategies import plans

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RETRY_TIMES = [None, NOW - timedelta(hours=1), NOW, NOW + timedelta(minutes=5), NOW + timedelta(hours=1)]
COSTS = [None, Decimal("0.10"), Decimal("0.25"), Decimal(0)]
EXCEEDED = BudgetStatus(Decimal(5), Decimal(5), Level.EXCEEDED, "day")


def reference_decide(
    snap: Snapshot,
    policy: ApprovalPolicy,
    graph: TaskGraph,
    budget: BudgetStatus | None,
    now: datetime | None,
) -> Action:
    """``decide`` as it was before Progress: every task rescanned on every call (the oracle)."""
    session = snap.session
    if session.state is not SessionState.RUNNING:
        raise AssertionError("the oracle is only asked about running sessions")
    runs = snap.runs
    for task_id in snap.plan.ids:
        run = runs[task_id]
        if run.state is TaskState.WAITING_APPROVAL:
            return AwaitApproval(task_id, Gate.BEFORE)
        if run.state is TaskState.WAITING_ANSWER:
            return AwaitAnswer(task_id)
        if run.state is TaskState.WAITING_REVIEW:
            return AwaitApproval(task_id, Gate.REVIEW)
        if run.state is TaskState.COMPLETED and not run.reviewed and policy.after(snap.plan.task(task_id)):
            return AwaitApproval(task_id, Gate.AFTER)
    satisfied = {t for t, r in runs.items() if r.state in DONE_TASK}
    candidates = [t for t in snap.plan.ids if runs[t].state in (TaskState.PENDING, TaskState.INTERRUPTED)]
    waiting: list[tuple[datetime, str]] = []
    if now is not None:
        due = []
        for task_id in candidates:
            attempts = runs[task_id].attempts
            retry_at = attempts[-1].retry_at if attempts else None
            if retry_at is not None and retry_at > now:
                waiting.append((retry_at, task_id))
            else:
                due.append(task_id)
        candidates = due
    ready = graph.ready(satisfied, candidates)
    if not ready and waiting:
        until, task_id = min(waiting)
        return Wait(until, task_id, runs[task_id].reason)
    if ready and budget is not None and budget.level is Level.EXCEEDED:
        return Halt(budget)
    if ready:
        task_id = ready[0]
        run = runs[task_id]
        task = snap.plan.task(task_id)
        if (
            not run.approved
            and run.state is TaskState.PENDING
            and policy.before(task, auto_approve_run=session.auto_approve)
        ):
            return AwaitApproval(task_id, Gate.BEFORE)
        return StartTask(task_id, run.attempt + 1)
    if all(r.state in DONE_TASK for r in runs.values()):
        return Finish(SessionState.COMPLETED, "all tasks done")
    return Finish(SessionState.FAILED, failure_summary(snap, graph))


@st.composite
def _runs(draw: st.DrawFn, task_id: str) -> TaskRun:
    attempts = tuple(
        Attempt(
            n,
            NOW - timedelta(hours=2),
            retry_at=draw(st.sampled_from(RETRY_TIMES)),
            cost_usd=draw(st.sampled_from(COSTS)),
        )
        for n in range(1, draw(st.integers(min_value=0, max_value=2)) + 1)
    )
    return TaskRun(
        task_id,
        draw(st.sampled_from(TaskState)),
        approved=draw(st.booleans()),
        reviewed=draw(st.booleans()),
        attempts=attempts,
        reason=draw(st.sampled_from(["", "rate limited"])),
    )


_policies = st.builds(
    ApprovalPolicy,
    mode=st.sampled_from(ApprovalMode),
    checkpoint_after=st.frozensets(st.sampled_from(["any", "code", "docs", "test"]), max_size=2),
)


def _fresh_answers(progress: Progress) -> tuple[object, ...]:
    return (progress.attention, progress.retrying, progress.best_ready(), progress.done_count, progress.spent)


def _brute_force(
    plan: Plan, graph: TaskGraph, policy: ApprovalPolicy, runs: Mapping[str, TaskRun]
) -> tuple[object, ...]:
    """The answers Progress keeps, each computed from the runs alone."""
    ids = plan.ids
    done = {i for i, t in enumerate(ids) if runs[t].state in DONE_TASK}
    attention = {
        i
        for i, t in enumerate(ids)
        if runs[t].state in (TaskState.WAITING_APPROVAL, TaskState.WAITING_ANSWER, TaskState.WAITING_REVIEW)
        or (runs[t].state is TaskState.COMPLETED and not runs[t].reviewed and policy.after(plan.task(t)))
    }

    def retry_at(t: str) -> datetime | None:
        return runs[t].attempts[-1].retry_at if runs[t].attempts else None

    candidates = [i for i, t in enumerate(ids) if runs[t].state in (TaskState.PENDING, TaskState.INTERRUPTED)]
    retrying = {i for i in candidates if retry_at(ids[i]) is not None}
    ready = [i for i in candidates if i not in retrying and all(d in done for d in graph.dependencies_at(i))]
    best = min(ready, key=graph.rank_at) if ready else None
    spent = total(a.cost_usd for r in runs.values() for a in r.attempts)
    return (attention, retrying, best, len(done), spent)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    plan=plans(max_tasks=9),
    policy=_policies,
    chunk=st.integers(min_value=1, max_value=4),
    auto_approve=st.booleans(),
)
def test_progress_and_decide_agree_with_a_full_rescan_after_any_sequence_of_transitions(
    data: st.DataObject, plan: Plan, policy: ApprovalPolicy, chunk: int, auto_approve: bool
) -> None:
    graph = TaskGraph(plan.tasks)
    session = Session("s1", plan.source, SessionState.RUNNING, NOW, NOW, auto_approve=auto_approve)
    runs: Mapping[str, TaskRun] = RunTable((TaskRun(t) for t in plan.ids), chunk=chunk)
    progress = Progress(plan, graph, policy, runs)
    for step in range(data.draw(st.integers(min_value=1, max_value=12), label="steps")):
        changed = data.draw(st.lists(st.sampled_from(plan.ids), min_size=1, max_size=3), label=f"step {step}")
        new = [data.draw(_runs(t)) for t in changed]
        if data.draw(st.booleans(), label="as a plain dict"):  # what a custom store may return
            runs = {**runs, **{r.task_id: r for r in new}}
        else:
            runs = RunTable.of(runs).updated(new)
        snap = Snapshot(session, plan, runs)
        for budget in (None, EXCEEDED):
            for now in (None, NOW):
                assert decide(snap, policy, graph, budget, now, progress) == reference_decide(
                    snap, policy, graph, budget, now
                )
        assert _fresh_answers(progress) == _brute_force(plan, graph, policy, runs)
        assert _fresh_answers(progress) == _fresh_answers(Progress(plan, graph, policy, runs))


def test_decide_refuses_a_progress_built_for_another_policy() -> None:
    plan = Plan("p.md", (Task("1", "One", priority=Priority.HIGH),))
    graph = TaskGraph(plan.tasks)
    runs = {"1": TaskRun("1")}
    progress = Progress(plan, graph, ApprovalPolicy(), runs)
    snap = Snapshot(Session("s1", "p.md", SessionState.RUNNING, NOW, NOW), plan, runs)
    with pytest.raises(ValueError, match="another graph or policy"):
        decide(snap, ApprovalPolicy(mode=ApprovalMode.MANUAL), graph, progress=progress)
    assert decide(snap, ApprovalPolicy(), graph, progress=progress) == StartTask("1", 1)
