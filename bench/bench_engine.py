"""The orchestrator's own overhead per task, in process: the engine with the real
SQLite store and file logs, and an agent that finishes instantly (no process).

Prints the median of several runs per size, and how the cost per task at the largest
size compares with the smallest (flat is the aim: a step must not cost more in a bigger
plan); asserts nothing. Usage: python bench/bench_engine.py [TASKS ...] (default 500)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from adapters.files.logs import FileLogs
from adapters.sqlite.store import SqliteStore
from adapters.system.clock import RandomIds, SystemClock
from orchcore.engine import Engine
from orchcore.service import create_session, send_command
from orchcore.state import Command
from orchcore.tasks import Plan, Priority, Task
from orchcore.testing import ScriptedAgent

RUNS = 5


def plan(n: int) -> Plan:
    tasks = tuple(
        Task(
            str(i),
            f"task {i}",
            priority=Priority.MEDIUM,
            depends_on=(str(i - 1),) if i > 1 and i % 3 else (),
            instruction="x",
        )
        for i in range(1, n + 1)
    )
    return Plan("bench.md", tasks)


def one_run(n: int) -> float:
    with tempfile.TemporaryDirectory() as root:
        store = SqliteStore(str(Path(root) / "state.db"))
        clock, ids = SystemClock(), RandomIds()
        sid = create_session(store, plan(n), ids, clock).session.id
        send_command(store, sid, Command.START, clock)
        engine = Engine(store, ScriptedAgent(), clock, ids, FileLogs(str(Path(root) / "logs")))
        start = time.perf_counter()
        outcome = engine.run(sid)
        elapsed = time.perf_counter() - start
        assert outcome.tasks_run == n, outcome
        store.close()
        return elapsed


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [500]
    per_task: list[float] = []
    for n in sizes:
        runs = RUNS if n <= 2000 else 1  # the largest plans once: the figure is per task anyway
        times = [one_run(n) for _ in range(runs)]
        per_task.append(statistics.median(times) / n * 1000)
        print(f"{n} tasks, instant agent, SQLite store, median of {runs} runs")
        print(f"  whole session:         {statistics.median(times) * 1000:8.1f} ms")
        print(
            f"  overhead per task:     {per_task[-1]:8.3f} ms  (target <= 5 ms: {5 / per_task[-1]:.1f}x under)"
        )
    print("  (per task: 2 transactions, a decision on what changed, the prompt, a log path)")
    if len(sizes) > 1:
        print(
            f"  per task at {sizes[-1]:,} vs {sizes[0]:,} tasks: {per_task[-1] / per_task[0]:.2f}x (flat: 1.00x)"
        )


if __name__ == "__main__":
    main()
