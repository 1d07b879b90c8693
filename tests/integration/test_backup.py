"""`orch backup` copies the state database while another process keeps writing to it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.sqlite import SqliteStore
from apps.cli.main import STORE_FAILED, app

pytestmark = pytest.mark.integration

WRITER = """
import sys, pathlib
from adapters.sqlite import SqliteStore
from orchcore.service import create_session
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, SequentialIds
store, stop = SqliteStore(sys.argv[1]), pathlib.Path(sys.argv[2])
clock, ids = FakeClock(), SequentialIds()
tasks = tuple(Task(str(i), "t" * 200, depends_on=(str(i - 1),) if i > 1 else ()) for i in range(1, 40))
n = 0
while not stop.exists():
    n += 1
    create_session(store, Plan(f"day{n}.md", tasks), ids, clock)
    print(n, flush=True)
store.close()
"""


def sessions_in(path: Path) -> int:
    store = SqliteStore(path)
    try:
        return len(store.sessions())
    finally:
        store.close()


def test_backup_while_a_writer_commits_is_a_consistent_verified_copy(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (tmp_path / "orch.yaml").write_text(f"paths:\n  state_dir: {state}\n")
    db, stop = state / "state.db", tmp_path / "stop"
    SqliteStore(db).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert writer.stdout is not None
        for _ in range(5):  # the writer has committed some sessions before the first copy
            writer.stdout.readline()
        copies = []
        for i in range(3):
            dest = tmp_path / f"copy{i}.db"
            result = CliRunner().invoke(app, ["backup", str(dest), "-c", str(tmp_path / "orch.yaml")])
            assert result.exit_code == 0, result.output
            said = re.search(r"schema (\d+), (\d+) sessions, integrity ok", result.stdout)
            assert said is not None, result.stdout
            copies.append((dest, int(said.group(2))))
        assert writer.poll() is None, "the writer kept running through every backup"
    finally:
        stop.touch()
        writer.wait(timeout=60)
        if writer.stdout is not None:
            writer.stdout.close()
    assert writer.returncode == 0
    counts = [count for _, count in copies]
    assert counts == sorted(counts)
    assert counts[0] >= 5
    for dest, count in copies:
        assert not Path(f"{dest}-wal").exists()  # one self-contained file
        conn = sqlite3.connect(dest)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert sessions_in(dest) == count  # orch opens the copy as its state


def test_backup_without_a_database_says_so_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text(f"paths:\n  state_dir: {tmp_path / 'state'}\n")
    result = CliRunner().invoke(app, ["backup", str(tmp_path / "copy.db"), "-c", str(tmp_path / "orch.yaml")])
    assert result.exit_code == STORE_FAILED
    assert "nothing to back up" in result.stderr
    assert not (tmp_path / "copy.db").exists()


def test_backup_refuses_to_overwrite_the_database_and_defaults_to_the_backups_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (tmp_path / "orch.yaml").write_text(f"paths:\n  state_dir: {state}\n")
    SqliteStore(state / "state.db").close()

    same = CliRunner().invoke(app, ["backup", str(state / "state.db"), "-c", str(tmp_path / "orch.yaml")])
    assert same.exit_code == STORE_FAILED
    assert "would overwrite the database itself" in same.stderr

    started = time.time()
    done = CliRunner().invoke(app, ["backup", "-c", str(tmp_path / "orch.yaml")])
    assert done.exit_code == 0, done.output
    made = list((state / "backups").glob("state-*.db"))
    assert len(made) == 1
    assert made[0].stat().st_mtime >= started - 1
    assert "0 sessions, integrity ok" in done.stdout
