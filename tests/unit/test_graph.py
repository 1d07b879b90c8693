"""The task graph: which tasks are ready, in what order, and which cycles exist."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.graph import TaskGraph, find_cycles, graph_problems
from orchcore.tasks import Priority, Task

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW


def task(task_id: str, *deps: str, priority: Priority = M, line: int = 0) -> Task:
    return Task(id=task_id, title=f"task {task_id}", depends_on=deps, priority=priority, line=line)


def test_ready_puts_high_priority_first_then_file_order() -> None:
    tasks = [task("a", priority=L), task("b", priority=M), task("c", priority=H), task("d", priority=H)]
    graph = TaskGraph(tasks)
    assert graph.ready(set(), ["a", "b", "c", "d"]) == ["c", "d", "b", "a"]


def test_a_task_is_not_ready_until_all_its_dependencies_are_satisfied() -> None:
    graph = TaskGraph([task("1"), task("2"), task("3", "1", "2", priority=H)])
    assert graph.ready(set(), ["1", "2", "3"]) == ["1", "2"]
    assert graph.ready({"1"}, ["2", "3"]) == ["2"]
    assert graph.ready({"1", "2"}, ["3"]) == ["3"]


def test_ready_only_considers_the_candidates_given() -> None:
    graph = TaskGraph([task("1"), task("2")])
    assert graph.ready(set(), ["2"]) == ["2"]
    assert graph.ready(set(), []) == []


def test_schedule_follows_dependencies_before_priority() -> None:
    tasks = [task("1", priority=L), task("2", "1", priority=H), task("3", priority=M)]
    # 2 is high but waits for 1; among the ready ones 3 (medium) beats 1 (low)
    assert TaskGraph(tasks).schedule() == ["3", "1", "2"]


def test_schedule_leaves_out_tasks_already_done() -> None:
    graph = TaskGraph([task("1"), task("2", "1"), task("3", "2")])
    assert graph.schedule(done=["1"]) == ["2", "3"]
    assert graph.schedule(done=["1", "2", "3"]) == []


def test_blocked_by_names_the_first_unsatisfiable_dependency() -> None:
    graph = TaskGraph([task("1"), task("2"), task("3", "1", "2")])
    assert graph.blocked_by("3", {"2"}) == "2"
    assert graph.blocked_by("3", set()) is None
    assert graph.dependencies("3") == ("1", "2")


def test_cycles_are_named_in_dependency_order() -> None:
    assert find_cycles([task("1", "2"), task("2", "3"), task("3", "1")]) == [["1", "2", "3"]]
    assert find_cycles([task("1", "3"), task("2", "1"), task("3", "2")]) == [["1", "3", "2"]]


def test_self_dependency_and_unknown_ids_are_problems_not_cycles() -> None:
    tasks = [task("1", "1", line=1), task("2", "9", line=5)]
    assert find_cycles(tasks) == []
    messages = [(p.line, p.message) for p in graph_problems(tasks, "f.md")]
    assert messages == [
        (1, "task 1 depends on itself"),
        (5, "task 2 depends on unknown task '9', expected one of: 1, 2"),
    ]


def test_a_cycle_hidden_behind_a_duplicated_id_is_still_found() -> None:
    tasks = [task("1", "2", line=1), task("2", "1", line=3), task("1", line=5)]
    messages = [p.message for p in graph_problems(tasks, "f.md")]
    assert "dependency cycle: 1 -> 2 -> 1" in messages
    assert any("defined twice" in m for m in messages)


# --- properties --------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> list[Task]:
    """Random acyclic plans: a task depends only on tasks earlier in a random order."""
    n = draw(st.integers(1, 12))
    ids = [f"t{i}" for i in range(n)]
    rank = draw(st.permutations(range(n)))
    tasks = []
    for i in range(n):
        earlier = [ids[j] for j in range(n) if rank[j] < rank[i]]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=4)) if earlier else []
        tasks.append(task(ids[i], *deps, priority=draw(st.sampled_from(Priority))))
    return tasks


GRAPH = settings(max_examples=200, deadline=None)


@GRAPH
@given(dags())
def test_a_dag_has_no_cycles(tasks: list[Task]) -> None:
    assert find_cycles(tasks) == []
    assert graph_problems(tasks, "f.md") == []


@GRAPH
@given(dags(), st.data())
def test_adding_a_back_edge_makes_a_cycle_that_find_cycles_names(
    tasks: list[Task], data: st.DataObject
) -> None:
    # pick a dependency chain a -> ... -> b and add b -> a
    with_deps = [t for t in tasks if t.depends_on]
    if not with_deps:
        tasks = [*tasks, task("extra", tasks[0].id)]
        with_deps = [tasks[-1]]
    start = data.draw(st.sampled_from(with_deps))
    path = [start.id]
    by_id = {t.id: t for t in tasks}
    while by_id[path[-1]].depends_on:
        path.append(data.draw(st.sampled_from(by_id[path[-1]].depends_on)))
    end = by_id[path[-1]]
    closed = [t if t.id != end.id else task(t.id, *t.depends_on, start.id) for t in tasks]
    cycles = find_cycles(closed)
    assert cycles
    for cycle in cycles:
        # each named cycle is real: every task in it depends on the next one
        deps = {t.id: t.depends_on for t in closed}
        for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            assert b in deps[a]
    assert any(p.message.startswith("dependency cycle: ") for p in graph_problems(closed, "f.md"))


@GRAPH
@given(dags())
def test_schedule_is_a_topological_order_of_every_task_once(tasks: list[Task]) -> None:
    order = TaskGraph(tasks).schedule()
    assert sorted(order) == sorted(t.id for t in tasks)
    position = {task_id: i for i, task_id in enumerate(order)}
    for t in tasks:
        for dep in t.depends_on:
            assert position[dep] < position[t.id]


@GRAPH
@given(dags())
def test_schedule_always_runs_the_best_ready_task_next(tasks: list[Task]) -> None:
    graph = TaskGraph(tasks)
    done: list[str] = []
    remaining = [t.id for t in tasks]
    while remaining:
        best = graph.ready(set(done), remaining)[0]
        done.append(best)
        remaining.remove(best)
    assert graph.schedule() == done


@GRAPH
@given(dags())
def test_ready_is_sorted_by_priority_then_file_order(tasks: list[Task]) -> None:
    graph = TaskGraph(tasks)
    ready = graph.ready(set(), [t.id for t in tasks])
    position = {t.id: i for i, t in enumerate(tasks)}
    keys = [(next(t for t in tasks if t.id == r).priority.rank, position[r]) for r in ready]
    assert keys == sorted(keys)
    assert set(ready) == {t.id for t in tasks if not t.depends_on}
