"""The orchestrator's own overhead per task, in process: the engine with the real
SQLite store and file logs, and an agent that finishes instantly (no process).

Prints the median of several runs; asserts nothing. Usage: python bench/bench_engine.py [TASKS]
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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    times = [one_run(n) for _ in range(RUNS)]
    per_task = statistics.median(times) / n * 1000
    print(f"{n} tasks, instant agent, SQLite store, median of {RUNS} runs")
    print(f"  whole session:         {statistics.median(times) * 1000:8.1f} ms")
    print(f"  overhead per task:     {per_task:8.3f} ms  (target <= 5 ms: {5 / per_task:.1f}x under)")
    print("  (per task: 2 transactions, a decision over the whole plan, the prompt, a log path)")


if __name__ == "__main__":
    main()
