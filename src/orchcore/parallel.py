"""Running several tasks at once: which ready tasks start now, and each one's port range.

Pure functions over the stored snapshot, as ``decide`` is: the engine that drives N agents
(next) calls ``tasks_to_start`` between steps and ``assign_ports`` when it creates a task's
worktree. With ``max_parallel`` 1 the answer is exactly what ``decide`` starts today.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from orchcore.budget import BudgetStatus
from orchcore.decide import StartTask, decide
from orchcore.errors import ConfigError
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy
from orchcore.ports.worktrees import PortRange
from orchcore.progress import Progress
from orchcore.records import Snapshot
from orchcore.state import DONE_TASK, TaskState
from orchcore.tasks import Task

_HIGHEST_PORT = 65535
_CANDIDATE = frozenset({TaskState.PENDING, TaskState.INTERRUPTED})


def assign_ports(port_base: int, ports_per_task: int, taken: Collection[PortRange]) -> PortRange:
    """The lowest range of ``ports_per_task`` ports from ``port_base`` that no range in ``taken``
    (the running tasks') overlaps; ConfigError when none fits below port 65536."""
    if ports_per_task < 1 or not 1 <= port_base <= _HIGHEST_PORT:
        raise ConfigError(
            f"worktrees: port_base {port_base} / ports_per_task {ports_per_task} is not a range"
        )
    found = PortRange(port_base, ports_per_task)
    for slot in range(len(taken) + 1):  # k ranges block at most k slots: one of k + 1 is free
        found = PortRange(port_base + slot * ports_per_task, ports_per_task)
        if not any(r.base <= found.last and found.base <= r.last for r in taken):
            break
    if found.last > _HIGHEST_PORT:
        raise ConfigError(
            f"worktrees: no free range of {ports_per_task} ports from {port_base} below 65536 "
            f"for {len(taken) + 1} tasks at once; lower port_base, ports_per_task or max_parallel"
        )
    return found


def task_commit_message(session_id: str, task: Task) -> str:
    """The message of orch's one commit for ``task`` on its branch: its title, then who made it."""
    return f"{task.title or task.id}\n\norch: session {session_id}, task {task.id}\n"


def scopes_overlap(first: Task, second: Task) -> bool:
    """Whether two tasks name the same deliverable (or one inside the other's folder)."""
    for a in first.deliverables:
        for b in second.deliverables:
            x, y = a.strip("/"), b.strip("/")
            if x == y or x.startswith(y + "/") or y.startswith(x + "/"):
                return True
    return False


def tasks_to_start(
    snap: Snapshot,
    policy: ApprovalPolicy,
    graph: TaskGraph,
    max_parallel: int,
    running: Collection[str],
    budget: BudgetStatus | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> tuple[StartTask, ...]:
    """The tasks to start now beside ``running``, best first, at most ``max_parallel`` in all.

    Nothing starts unless ``decide`` would start a task (a pause, cancel, budget halt, a task
    waiting on a human or for its retry time all start nothing); then more ready tasks follow
    in the graph's order (priority, then file order) until the slots are full, one needing
    approval first is reached, or one would share a deliverable with a task already running
    or chosen (that one waits its turn).
    """
    slots = max_parallel - len(running)
    if slots <= 0:
        return ()
    if not isinstance(decide(snap, policy, graph, budget, now, progress), StartTask):
        return ()
    chosen: list[StartTask] = []
    busy = [snap.plan.task(t) for t in running]
    for task_id in _ready_in_order(snap, graph, now, exclude=running):  # decide's pick comes first
        if len(chosen) >= slots:
            break
        run, task = snap.runs[task_id], snap.plan.task(task_id)
        needs_approval = not run.approved and run.state is TaskState.PENDING
        if needs_approval and policy.before(task, auto_approve_run=snap.session.auto_approve):
            break  # the session stops for its approval next: nothing after it jumps the queue
        if any(scopes_overlap(task, other) for other in busy):
            continue
        chosen.append(StartTask(task_id, run.attempt + 1))
        busy.append(task)
    return tuple(chosen)


def _ready_in_order(
    snap: Snapshot, graph: TaskGraph, now: datetime | None, exclude: Collection[str]
) -> Iterable[str]:
    """Tasks that may start (dependencies done, retry time passed) in the graph's order."""
    done = {t for t, r in snap.runs.items() if r.state in DONE_TASK}
    ready: list[int] = []
    for i, task_id in enumerate(graph.ids):
        run = snap.runs[task_id]
        if task_id in exclude or run.state not in _CANDIDATE:
            continue
        retry_at = run.attempts[-1].retry_at if run.attempts else None
        if retry_at is not None and now is not None and retry_at > now:  # as decide: no now, no wait
            continue
        if all(graph.ids[d] in done for d in graph.dependencies_at(i)):
            ready.append(i)
    return (graph.ids[i] for i in sorted(ready, key=graph.rank_at))
