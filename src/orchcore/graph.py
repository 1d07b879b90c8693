"""The task graph: dependency checks and the order tasks become ready in.

Ready means every dependency is satisfied; among ready tasks the higher priority
runs first and file order breaks ties.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Iterable, Sequence

from orchcore.errors import Problem
from orchcore.tasks import Task, id_problem

#: How many known ids a message about an unknown one lists: enough to show the style, never all.
SHOWN_IDS = 10


def graph_problems(tasks: Sequence[Task], filename: str, *, field: str = "depends_on") -> list[Problem]:
    """Duplicate ids, unknown or self dependencies, and cycles (named in order).

    ``field`` is the dependency field's name as the file spells it.
    """
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for task in tasks:
        bad_id = id_problem(task.id)
        if bad_id is not None:
            problems.append(Problem(filename, task.line, "id", bad_id))
        if task.id in first_line:
            problems.append(
                Problem(
                    filename,
                    task.line,
                    "id",
                    f"task {task.id} is defined twice (first at line {first_line[task.id]}), expected unique ids",
                )
            )
        else:
            first_line[task.id] = task.line
    known = _KnownIds(first_line)
    for task in tasks:
        where = task.depends_on_line or task.line
        for dep in task.depends_on:
            if dep == task.id:
                problems.append(Problem(filename, where, field, f"task {task.id} depends on itself"))
            elif dep not in first_line:
                problems.append(
                    Problem(
                        filename,
                        where,
                        field,
                        f"task {task.id} depends on unknown task {dep!r}, {known.expected(dep)}",
                    )
                )
    problems.extend(
        Problem(
            filename,
            first_line[cycle[0]],
            field,
            "dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
        )
        for cycle in find_cycles(tasks)
    )
    return problems


class _KnownIds:
    """What an unknown-dependency message suggests, in bounded space whatever the task count."""

    def __init__(self, ids: Collection[str]) -> None:
        self._folded: dict[str, str] = {}
        for task_id in ids:
            self._folded.setdefault(_folded(task_id), task_id)
        shown = list(itertools.islice(ids, SHOWN_IDS))
        more = len(ids) - len(shown)
        self._listed = ", ".join(shown) + (f" (and {more:,} more)" if more else "")

    def expected(self, unknown: str) -> str:
        """'did you mean X?' when one id matches but for case or punctuation, else a few ids."""
        near = self._folded.get(_folded(unknown))
        if near is not None:
            return f"did you mean {near!r}?"
        return f"expected one of: {self._listed}"


def _folded(task_id: str) -> str:
    return "".join(c for c in task_id.casefold() if c.isalnum())


def find_cycles(tasks: Sequence[Task]) -> list[list[str]]:
    """Each dependency cycle once, as task ids in dependency order (iterative DFS)."""
    # a duplicated id keeps the dependencies of every task using it, so no cycle hides behind it
    deps: dict[str, list[str]] = {}
    for t in tasks:
        deps.setdefault(t.id, []).extend(d for d in t.depends_on if d != t.id)
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    cycles: list[list[str]] = []
    for root in deps:
        if colour[root] != white:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                colour[node] = grey
                path.append(node)
            children = deps[node]
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if child not in colour:
                    continue
                if colour[child] == white:
                    stack.append((child, 0))
                elif colour[child] == grey:
                    cycles.append(path[path.index(child) :])
            else:
                colour[node] = black
                path.pop()
    return cycles


class TaskGraph:
    """An acyclic plan indexed for scheduling. Build once per plan; it never changes."""

    __slots__ = ("_dependents", "_deps", "_ids", "_index", "_keys")

    def __init__(self, tasks: Sequence[Task]) -> None:
        self._ids = tuple(t.id for t in tasks)
        self._index = {task_id: i for i, task_id in enumerate(self._ids)}
        self._keys = tuple((t.priority.rank, i) for i, t in enumerate(tasks))
        self._deps = tuple(tuple(self._index[d] for d in t.depends_on if d in self._index) for t in tasks)
        dependents: list[list[int]] = [[] for _ in tasks]
        for i, deps in enumerate(self._deps):
            for d in deps:
                dependents[d].append(i)
        self._dependents = tuple(tuple(x) for x in dependents)

    @property
    def ids(self) -> tuple[str, ...]:
        """Task ids in file order: position ``i`` is ``ids[i]``."""
        return self._ids

    def position(self, task_id: str) -> int:
        """Where ``task_id`` is in file order (KeyError if the plan has no such task)."""
        return self._index[task_id]

    def dependencies_at(self, position: int) -> tuple[int, ...]:
        """Positions of the tasks the task at ``position`` waits for."""
        return self._deps[position]

    def dependents_at(self, position: int) -> tuple[int, ...]:
        """Positions of the tasks that wait for the task at ``position``."""
        return self._dependents[position]

    def rank_at(self, position: int) -> tuple[int, int]:
        """The scheduling key of the task at ``position``: lower runs first."""
        return self._keys[position]

    def ready(self, satisfied: Collection[str], candidates: Iterable[str]) -> list[str]:
        """Candidates whose dependencies are all satisfied, best first."""
        index = self._index
        found = []
        for task_id in candidates:
            i = index[task_id]
            if all(self._ids[d] in satisfied for d in self._deps[i]):
                found.append(i)
        found.sort(key=self._keys.__getitem__)
        return [self._ids[i] for i in found]

    def dependencies(self, task_id: str) -> tuple[str, ...]:
        """The ids ``task_id`` waits for."""
        return tuple(self._ids[d] for d in self._deps[self._index[task_id]])

    def blocked_by(self, task_id: str, unsatisfiable: Collection[str]) -> str | None:
        """The first dependency of ``task_id`` that can no longer be satisfied, if any."""
        for d in self._deps[self._index[task_id]]:
            if self._ids[d] in unsatisfiable:
                return self._ids[d]
        return None

    def schedule(self, done: Collection[str] = ()) -> list[str]:
        """The order the remaining tasks run in if every one succeeds (heap-based walk)."""
        waiting = [0] * len(self._ids)
        heap: list[tuple[tuple[int, int], int]] = []
        finished = {self._index[t] for t in done if t in self._index}
        for i, deps in enumerate(self._deps):
            if i in finished:
                continue
            waiting[i] = sum(1 for d in deps if d not in finished)
            if waiting[i] == 0:
                heap.append((self._keys[i], i))
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            _, i = heapq.heappop(heap)
            order.append(self._ids[i])
            for j in self._dependents[i]:
                if j in finished:
                    continue
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(heap, (self._keys[j], j))
        return order
