"""What `orch backup` costs on a state database of a given size, idle and while another process
keeps committing sessions: seconds per copy (median), MB/s, and how many commits the writer
made during the copies (a writer the backup blocked would make none). Asserts nothing.
Usage: python bench/bench_backup.py [--sessions N] [--copies K]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adapters.sqlite import SqliteStore
from adapters.sqlite.backup import backup_database
from orchcore.service import create_session
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, SequentialIds

WRITER = """
import sys, pathlib
from adapters.sqlite import SqliteStore
from orchcore.service import create_session
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, SequentialIds
store, stop = SqliteStore(sys.argv[1]), pathlib.Path(sys.argv[2])
clock, ids = FakeClock(), SequentialIds("w")
n = 0
while not stop.exists():
    n += 1
    create_session(store, Plan(f"w{n}.md", (Task("1", "t"),)), ids, clock)
    print(n, flush=True)
"""


def fill(db: Path, sessions: int) -> None:
    store = SqliteStore(db)
    clock, ids = FakeClock(), SequentialIds()
    tasks = tuple(Task(str(i), "t" * 400, depends_on=(str(i - 1),) if i > 1 else ()) for i in range(1, 30))
    for n in range(sessions):
        create_session(store, Plan(f"day{n}.md", tasks), ids, clock)
    store.close()


def copies(db: Path, out: Path, k: int) -> list[float]:
    times = []
    for i in range(k):
        started = time.perf_counter()
        backup_database(db, out / f"copy{i}.db")
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--copies", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        root = Path(tmp)
        db = root / "state.db"
        fill(db, args.sessions)
        size_mb = db.stat().st_size / 1e6
        idle = statistics.median(copies(db, root, args.copies))
        stop = root / "stop"
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},  # noqa: TID251 - the writer needs this tree
        )
        assert writer.stdout is not None
        writer.stdout.readline()
        busy = statistics.median(copies(db, root, args.copies))
        stop.touch()
        writes = sum(1 for _ in writer.stdout)
        writer.wait()
    print(f"state.db {size_mb:.1f} MB ({args.sessions} sessions of 29 tasks)")
    print(f"backup idle:          {idle * 1000:.0f} ms median ({size_mb / idle:.0f} MB/s)")
    print(
        f"backup while writing: {busy * 1000:.0f} ms median; the writer committed {writes} sessions meanwhile"
    )


if __name__ == "__main__":
    main()
