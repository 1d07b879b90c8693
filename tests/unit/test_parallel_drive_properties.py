"""Properties of the engine driving N attempts at once, over random task graphs: real threads
(the Workers adapter), the in-memory store, an agent that takes a random few milliseconds, and a
Worktrees fake that records what it was asked. However the attempts interleave: never more than
``max_parallel`` run at once, no task starts before its dependencies have finished, every task
gets one worktree, from a base holding its dependencies' commits, and one commit of its own."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.store import InMemoryStore
from adapters.system.clock import SystemClock
from adapters.system.workers import ThreadWorkers
from orchcore.budget import BudgetPolicy
from orchcore.engine import Engine
from orchcore.parallel_drive import ParallelDrive
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, UsageReport
from orchcore.ports.worktrees import Applied, PortRange, Worktree, WorktreeSetup
from orchcore.records import Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import MemoryLogs, SequentialIds


@attrs.define
class RecordedWorktrees:
    """The Worktrees port in memory: a commit is ``c<task>``, a merge names what it holds."""

    made: dict[str, Worktree] = attrs.field(factory=dict)
    created: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def base_commit(self) -> str:
        return "base"

    def create(
        self, session_id: str, task_id: str, base: str, ports: PortRange, setup: WorktreeSetup
    ) -> Worktree:
        with self.lock:
            assert task_id not in self.made, f"a second worktree for task {task_id}"
            tree = Worktree(
                session_id, task_id, f"/nonexistent/wt/{task_id}", f"orch/{session_id}/{task_id}", base, ports
            )
            self.made[task_id] = tree
            self.created.append(task_id)
            return tree

    def combine(self, commits: Sequence[str], message: str) -> str:
        return commits[0] if len(commits) == 1 else "m(" + ",".join(sorted(commits)) + ")"

    def worktrees(self, session_id: str) -> Sequence[Worktree]:
        return sorted(self.made.values(), key=lambda t: t.task_id)

    def find(self, session_id: str, task_id: str) -> Worktree | None:
        return self.made.get(task_id)

    def commit(self, worktree: Worktree, message: str) -> str | None:
        return f"c{worktree.task_id}"

    def diff(self, worktree: Worktree, *, stat: bool = False) -> str:
        return ""

    def files(self, worktree: Worktree) -> Sequence[str]:
        return ()

    def apply(self, worktree: Worktree) -> Applied:
        return Applied()

    def remove(self, worktree: Worktree) -> None:
        self.made.pop(worktree.task_id, None)


@attrs.define
class TimedAgent:
    """Sleeps a random few milliseconds; records how many ran at once and what had finished."""

    seed: int
    running: set[str] = attrs.field(factory=set)
    finished: set[str] = attrs.field(factory=set)
    most: int = 0
    seen_done_at_start: dict[str, frozenset[str]] = attrs.field(factory=dict)
    ports: dict[str, str] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def check(self) -> None:
        return None

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        with self.lock:
            self.running.add(request.task_id)
            self.most = max(self.most, len(self.running))
            self.seen_done_at_start[request.task_id] = frozenset(self.finished)
            self.ports[request.task_id] = request.env.get("ORCH_PORT_BASE", "")
        time.sleep(random.Random(f"{self.seed}-{request.task_id}").uniform(0, 0.01))  # noqa: S311 - timing, not secrets
        with self.lock:
            self.running.discard(request.task_id)
            self.finished.add(request.task_id)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Plan, int]:
    count = draw(st.integers(1, 9))
    tasks = []
    for n in range(count):
        deps = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=3)) if n else []
        tasks.append(
            Task(id=f"t{n}", title=f"task {n}", description="do it", depends_on=tuple(f"t{d}" for d in deps))
        )
    return Plan("tasks.md", tuple(tasks)), draw(st.integers(2, 4))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 1000))
def test_n_at_once_respects_the_slots_the_graph_and_one_worktree_per_task(
    case: tuple[Plan, int], seed: int
) -> None:
    plan, slots = case
    store, clock, ids = InMemoryStore(), SystemClock(), SequentialIds()
    snap = create_session(store, plan, ids, clock)
    send_command(store, snap.session.id, Command.START, clock)
    worktrees, agent = RecordedWorktrees(), TimedAgent(seed)
    engine = Engine(
        store,
        agent,
        clock,
        ids,
        MemoryLogs(),
        poll_interval_s=0.005,
        parallel=ParallelDrive(slots, worktrees, ThreadWorkers()),
    )
    outcome = engine.run(snap.session.id)
    assert outcome.session.state is SessionState.COMPLETED
    done = engine.store.load(snap.session.id)
    assert all(done.run(t.id).state is TaskState.COMPLETED for t in plan.tasks)
    assert agent.most <= slots
    assert sorted(worktrees.created) == sorted(t.id for t in plan.tasks)  # one each, never two
    for task in plan.tasks:
        assert set(task.depends_on) <= agent.seen_done_at_start[task.id]  # started after its dependencies
        base = worktrees.made[task.id].base
        deps = sorted(f"c{d}" for d in task.depends_on)
        assert base == ("base" if not deps else deps[0] if len(deps) == 1 else "m(" + ",".join(deps) + ")")
    assert all(agent.ports.values())  # every agent was given its port range


@attrs.define
class StreamingSpender:
    """Streams one usage report of ``step`` dollars every millisecond, cumulative per attempt,
    until told to stop (or ``cap`` reports): N of these at once spend side by side. Waits at
    the start until ``together`` attempts run, so they all overlap."""

    step: Decimal
    together: int
    cap: int = 400
    running: int = 0
    stopped: dict[str, str] = attrs.field(factory=dict)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def check(self) -> None:
        return None

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        with self.lock:
            self.running += 1
        deadline = time.monotonic() + 10
        while self.running < self.together and time.monotonic() < deadline:
            time.sleep(0.001)
        message = f"{request.task_id}-{request.attempt}"
        for n in range(1, self.cap + 1):
            reason = on_event(UsageReport(message, "m", input_tokens=n, cost_usd=self.step * n))
            if reason is not None:
                self.stopped[request.task_id] = reason
                return AgentResult(Outcome.STOPPED, reason=reason, cost_usd=self.step * n)
            time.sleep(0.001)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=self.step * self.cap)


@pytest.mark.parametrize("scope", ["day", "session"])
def test_n_agents_spending_at_once_pass_the_limit_by_at_most_one_report_each(scope: str) -> None:
    """The invariant of a serial run (the spend passes the limit by at most one agent event)
    holds per agent when four spend at once: each attempt's budget check counts what the others
    have spent meanwhile, streamed or finished, so four agents cannot each spend the whole limit."""
    limit, step, slots = Decimal(1), Decimal("0.01"), 4
    tasks = tuple(Task(id=f"t{n}", title=f"task {n}", description="spend") for n in range(8))
    plan = Plan("tasks.md", tasks, max_cost_usd=limit if scope == "session" else None)
    store, clock, ids = InMemoryStore(), SystemClock(), SequentialIds()
    snap = create_session(store, plan, ids, clock)
    send_command(store, snap.session.id, Command.START, clock)
    agent = StreamingSpender(step, together=slots)
    engine = Engine(
        store,
        agent,
        clock,
        ids,
        MemoryLogs(),
        budget=BudgetPolicy(daily_limit_usd=limit if scope == "day" else None),
        poll_interval_s=0.005,
        parallel=ParallelDrive(slots, RecordedWorktrees(), ThreadWorkers()),
    )
    outcome = engine.run(snap.session.id)
    assert outcome.session.state is SessionState.HALTED
    done = engine.store.load(snap.session.id)
    spent = sum((a.cost_usd or Decimal(0) for r in done.runs.values() for a in r.attempts), Decimal(0))
    assert limit <= spent <= limit + slots * step, f"{slots} agents spent ${spent} against a ${limit} limit"
    assert len(agent.stopped) == slots  # every running agent was stopped, none started after
    assert all("budget" in why or "spent" in why for why in agent.stopped.values()), agent.stopped
