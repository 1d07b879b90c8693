"""Which tasks start side by side, and each one's port range: pure functions, held to
properties (never more than max_parallel, never before dependencies, today's order at 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.budget import BudgetStatus, Level
from orchcore.decide import StartTask, decide
from orchcore.errors import ConfigError
from orchcore.graph import TaskGraph
from orchcore.parallel import assign_ports, scopes_overlap, task_commit_message, tasks_to_start
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.ports.worktrees import PortRange
from orchcore.records import Session, Snapshot, TaskRun
from orchcore.state import DONE_TASK, SessionState, TaskState
from orchcore.tasks import Plan, Priority, Task
from orchcore.testing.strategies import plans, task_runs

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
AUTO = ApprovalPolicy(mode=ApprovalMode.AUTO)
EXCEEDED = BudgetStatus(Decimal(5), Decimal(5), Level.EXCEEDED, "day")


def _snap(plan: Plan, runs: dict[str, TaskRun], state: SessionState = SessionState.RUNNING) -> Snapshot:
    return Snapshot(Session("s1", plan.source, state, NOW, NOW), plan, runs)


def _independent(count: int) -> Plan:
    return Plan("p.md", tuple(Task(f"t{n:02}", f"Task {n}") for n in range(count)))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), plan=plans(max_tasks=8), auto=st.booleans())
def test_with_one_slot_it_starts_exactly_what_decide_starts(
    data: st.DataObject, plan: Plan, auto: bool
) -> None:
    runs = {t: data.draw(task_runs(t)) for t in plan.ids}
    snap = Snapshot(Session("s1", plan.source, SessionState.RUNNING, NOW, NOW, auto_approve=auto), plan, runs)
    graph = TaskGraph(plan.tasks)
    for now in (None, NOW):
        action = decide(snap, ApprovalPolicy(), graph, None, now)
        expected = (action,) if isinstance(action, StartTask) else ()
        assert tasks_to_start(snap, ApprovalPolicy(), graph, 1, (), None, now) == expected


@settings(max_examples=200, deadline=None)
@given(data=st.data(), plan=plans(max_tasks=9), max_parallel=st.integers(min_value=1, max_value=4))
def test_a_parallel_run_never_exceeds_its_slots_nor_starts_a_task_before_its_dependencies(
    data: st.DataObject, plan: Plan, max_parallel: int
) -> None:
    graph = TaskGraph(plan.tasks)
    runs = {t: TaskRun(t) for t in plan.ids}
    running: list[str] = []
    for _ in range(3 * len(plan.ids) + 1):
        starts = tasks_to_start(_snap(plan, runs), AUTO, graph, max_parallel, running)
        assert len(running) + len(starts) <= max_parallel
        for start in starts:
            assert all(runs[d].state in DONE_TASK for d in plan.task(start.task_id).depends_on)
            assert not any(scopes_overlap(plan.task(start.task_id), plan.task(r)) for r in running)
            runs[start.task_id] = TaskRun(start.task_id, TaskState.RUNNING)
            running.append(start.task_id)
        if not running:
            break
        finished = data.draw(st.sampled_from(running), label="finishes")
        running.remove(finished)
        runs[finished] = TaskRun(finished, TaskState.COMPLETED)
    assert all(r.state is TaskState.COMPLETED for r in runs.values()), "every task ran in the end"


def test_independent_tasks_fill_the_slots_in_priority_then_file_order() -> None:
    plan = _independent(6)
    plan = attrs.evolve(
        plan, tasks=(*plan.tasks[:4], attrs.evolve(plan.tasks[4], priority=Priority.HIGH), plan.tasks[5])
    )
    runs = {t: TaskRun(t) for t in plan.ids}
    starts = tasks_to_start(_snap(plan, runs), AUTO, TaskGraph(plan.tasks), 4, ())
    assert [s.task_id for s in starts] == ["t04", "t00", "t01", "t02"]
    runs["t04"] = TaskRun("t04", TaskState.RUNNING)
    more = tasks_to_start(_snap(plan, runs), AUTO, TaskGraph(plan.tasks), 4, ("t04",))
    assert [s.task_id for s in more] == ["t00", "t01", "t02"]


@pytest.mark.parametrize("state", [SessionState.PAUSED, SessionState.CANCELLED])
def test_a_paused_or_cancelled_session_starts_nothing(state: SessionState) -> None:
    plan = _independent(3)
    runs = {t: TaskRun(t) for t in plan.ids}
    assert tasks_to_start(_snap(plan, runs, state), AUTO, TaskGraph(plan.tasks), 3, ()) == ()


def test_a_spent_budget_starts_nothing() -> None:
    plan = _independent(3)
    runs = {t: TaskRun(t) for t in plan.ids}
    assert tasks_to_start(_snap(plan, runs), AUTO, TaskGraph(plan.tasks), 3, (), EXCEEDED) == ()


def test_a_task_needing_approval_stops_the_queue_behind_it() -> None:
    plan = _independent(3)
    plan = attrs.evolve(
        plan, tasks=(plan.tasks[0], attrs.evolve(plan.tasks[1], requires_approval=True), plan.tasks[2])
    )
    runs = {t: TaskRun(t) for t in plan.ids}
    starts = tasks_to_start(_snap(plan, runs), ApprovalPolicy(), TaskGraph(plan.tasks), 3, ())
    assert [s.task_id for s in starts] == ["t00"]


def test_tasks_sharing_a_deliverable_do_not_run_at_once() -> None:
    tasks = (
        Task("a", "A", deliverables=("src/api/",)),
        Task("b", "B", deliverables=("src/api/users.py",)),
        Task("c", "C", deliverables=("docs/api.md",)),
    )
    plan = Plan("p.md", tasks)
    runs = {t: TaskRun(t) for t in plan.ids}
    starts = tasks_to_start(_snap(plan, runs), AUTO, TaskGraph(tasks), 3, ())
    assert [s.task_id for s in starts] == ["a", "c"]


@settings(max_examples=300, deadline=None)
@given(
    base=st.integers(min_value=1024, max_value=60000),
    size=st.integers(min_value=1, max_value=50),
    steps=st.lists(st.one_of(st.just("start"), st.integers(min_value=0, max_value=20)), max_size=40),
)
def test_running_tasks_never_share_a_port(base: int, size: int, steps: list[str | int]) -> None:
    running: list[PortRange] = []
    for step in steps:
        if step == "start":
            if base + (len(running) + 1) * size - 1 > 65535:  # the lowest free range may be past the end
                try:
                    found = assign_ports(base, size, running)
                except ConfigError as exc:
                    assert "below 65536" in str(exc)  # noqa: PT017 - the message is the behaviour
                    continue
            else:
                found = assign_ports(base, size, running)
            assert found.base >= base
            assert found.last <= 65535
            assert found.size == size
            assert all(found.last < r.base or r.last < found.base for r in running)
            running.append(found)
        elif running:
            running.pop(int(step) % len(running))


def test_ports_go_to_the_lowest_free_range_again_once_a_task_ends() -> None:
    first = assign_ports(20000, 10, [])
    second = assign_ports(20000, 10, [first])
    assert (first.base, second.base) == (20000, 20010)
    assert assign_ports(20000, 10, [second]).base == 20000


def test_the_task_commit_message_names_the_title_session_and_task() -> None:
    message = task_commit_message("s1", Task("3", "Add login"))
    assert message.splitlines() == ["Add login", "", "orch: session s1, task 3"]
