"""Where every task of a session stands, kept up to date from one snapshot to the next.

``decide`` used to rescan every task on every step (what waits on a human, what
is done, which pending tasks have their dependencies done, what the session
spent), so a step cost O(plan). A ``Progress`` keeps those answers as counters
and sets, and ``sync`` moves them to a newer snapshot's runs by visiting only
the runs that changed and the tasks that depend on them. It is a cache: its
answers always equal those recomputed from the runs alone (a property test
holds it to that).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from orchcore.budget import total
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy
from orchcore.records import TaskRun
from orchcore.runtable import RunTable
from orchcore.state import DONE_TASK, TaskState
from orchcore.tasks import Plan

_CANDIDATE = frozenset({TaskState.PENDING, TaskState.INTERRUPTED})  # may start (another attempt)
_HUMAN = frozenset({TaskState.WAITING_APPROVAL, TaskState.WAITING_ANSWER, TaskState.WAITING_REVIEW})


def _retry_at(run: TaskRun) -> datetime | None:
    return run.attempts[-1].retry_at if run.attempts else None


class Progress:
    """Counters and sets over one plan's task runs: built once per session drive, then synced.

    ``attention``: positions of tasks a human must act on (waiting for approval or
    an answer, or completed and due a checkpoint review). ``retrying``: candidates
    whose last attempt set a time to retry. ``best_ready()``: the best candidate
    without a retry time whose dependencies are all done. ``spent``: what the
    session's attempts cost.
    """

    __slots__ = (
        "_after",
        "_cost",
        "_done",
        "_heap",
        "_ready",
        "_retry",
        "_runs",
        "_states",
        "_unmet",
        "attention",
        "done_count",
        "graph",
        "plan",
        "policy",
        "retrying",
        "spent",
    )

    def __init__(
        self, plan: Plan, graph: TaskGraph, policy: ApprovalPolicy, runs: Mapping[str, TaskRun]
    ) -> None:
        self.plan, self.graph, self.policy = plan, graph, policy
        self._after = [policy.after(plan.task(task_id)) for task_id in graph.ids]
        self._build(runs)

    def _build(self, runs: Mapping[str, TaskRun]) -> None:
        graph = self.graph
        ids = graph.ids
        count = len(ids)
        self._states = [TaskState.PENDING] * count
        self._retry: list[datetime | None] = [None] * count
        self._cost = [Decimal(0)] * count
        self._done = [False] * count
        self._unmet = [len(graph.dependencies_at(i)) for i in range(count)]
        self._ready: set[int] = set()
        self._heap: list[tuple[tuple[int, int], int]] = []
        self.attention: set[int] = set()
        self.retrying: set[int] = set()
        self.done_count = 0
        self.spent = Decimal(0)
        self._runs: Mapping[str, TaskRun] = runs
        for i, task_id in enumerate(ids):
            self._record(i, runs[task_id])
        for i in range(count):
            if self._done[i]:
                for j in graph.dependents_at(i):
                    self._unmet[j] -= 1
        for i in range(count):
            self._place(i)
        heapq.heapify(self._heap)

    def sync(self, runs: Mapping[str, TaskRun]) -> Progress:
        """Bring every answer up to date with ``runs`` (a later state of the same session); self."""
        if runs is self._runs:
            return self
        changed: Iterable[str] | None = None
        if isinstance(runs, RunTable):
            changed = runs.changed_from(self._runs)
        elif len(runs) == len(self._runs) and all(t in runs for t in self._runs):
            changed = [t for t, run in runs.items() if self._runs[t] != run]
        if changed is None:  # not the same tasks: start over
            self._build(runs)
            return self
        self._runs = runs
        for task_id in changed:
            self._change(self.graph.position(task_id), runs[task_id])
        heap, ready = self._heap, self._ready
        while heap and heap[0][1] not in ready:  # entries of tasks no longer ready go lazily
            heapq.heappop(heap)
        return self

    def best_ready(self) -> int | None:
        """Position of the best candidate with all dependencies done and no retry time, if any."""
        return self._heap[0][1] if self._heap else None

    def unmet(self, position: int) -> int:
        """How many dependencies of the task at ``position`` are not done."""
        return self._unmet[position]

    def retry_at(self, position: int) -> datetime | None:
        """When the last attempt of the task at ``position`` may be retried (None: no time set)."""
        return self._retry[position]

    @property
    def all_done(self) -> bool:
        return self.done_count == len(self._done)

    def _record(self, i: int, run: TaskRun) -> None:
        """Note ``run`` as the task's own state (not yet what it means for its dependents)."""
        self._states[i] = run.state
        self._retry[i] = _retry_at(run)
        cost = total(a.cost_usd for a in run.attempts)
        self.spent += cost - self._cost[i]
        self._cost[i] = cost
        done = run.state in DONE_TASK
        if done != self._done[i]:
            self._done[i] = done
            self.done_count += 1 if done else -1
        reviewed = run.reviewed
        human = run.state in _HUMAN or (run.state is TaskState.COMPLETED and not reviewed and self._after[i])
        if human:
            self.attention.add(i)
        else:
            self.attention.discard(i)

    def _change(self, i: int, run: TaskRun) -> None:
        was_done = self._done[i]
        self._record(i, run)
        if self._done[i] != was_done:
            step = -1 if self._done[i] else 1
            for j in self.graph.dependents_at(i):
                self._unmet[j] += step
                self._place(j, push=True)
        self._place(i, push=True)

    def _place(self, i: int, *, push: bool = False) -> None:
        """Put the task at ``i`` into the sets its state says (``push``: keep the heap a heap)."""
        candidate = self._states[i] in _CANDIDATE
        if candidate and self._retry[i] is not None:
            self.retrying.add(i)
        else:
            self.retrying.discard(i)
        if candidate and self._retry[i] is None and self._unmet[i] == 0:
            if i not in self._ready:
                self._ready.add(i)
                entry = (self.graph.rank_at(i), i)
                if push:
                    heapq.heappush(self._heap, entry)
                else:
                    self._heap.append(entry)
        else:
            self._ready.discard(i)
