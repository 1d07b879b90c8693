"""Planning and a full schedule walk of 10,000 tasks with random acyclic dependencies.

Prints medians of several runs; asserts nothing. Usage: python bench/bench_graph.py [N]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from orchcore.graph import TaskGraph, graph_problems
from orchcore.taskfile import parse_task_file, render_markdown
from orchcore.tasks import Plan, Priority, Task

RUNS = 7


def make_plan(n: int, seed: int = 7) -> Plan:
    rng = random.Random(seed)
    priorities = list(Priority)
    tasks = []
    for i in range(n):
        deps = sorted({str(rng.randrange(i)) for _ in range(rng.randint(0, 3))}) if i else []
        tasks.append(
            Task(
                id=str(i),
                title=f"task {i}",
                priority=rng.choice(priorities),
                depends_on=tuple(deps),
                instruction="do it",
            )
        )
    return Plan(source="bench.md", tasks=tuple(tasks), date="2026-11-23")


def median_ms(fn: object) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    plan = make_plan(n)
    edges = sum(len(t.depends_on) for t in plan.tasks)
    text = render_markdown(plan)

    def plan_and_walk() -> None:
        assert not graph_problems(plan.tasks, plan.source)
        order = TaskGraph(plan.tasks).schedule()
        assert len(order) == n

    validate = median_ms(lambda: graph_problems(plan.tasks, plan.source))
    build = median_ms(lambda: TaskGraph(plan.tasks))
    graph = TaskGraph(plan.tasks)
    walk = median_ms(graph.schedule)
    total = median_ms(plan_and_walk)
    parse = median_ms(lambda: parse_task_file(text, "bench.md"))
    print(f"tasks: {n}, dependency edges: {edges}, median of {RUNS} runs")
    print(f"  validate (duplicates, unknown deps, cycles): {validate:8.1f} ms")
    print(f"  build task graph:                            {build:8.1f} ms")
    print(f"  full schedule walk:                          {walk:8.1f} ms")
    print(
        f"  planning + walk together:                    {total:8.1f} ms  ({total / 1000:.3f} s; target < 1 s: {1000 / total:.1f}x under)"
    )
    print(f"  parse the {len(text) // 1024} KiB markdown file too:            {parse:8.1f} ms")


if __name__ == "__main__":
    main()
