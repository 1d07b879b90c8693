"""Task ids become file names (logs, prompts): `orch run` with the command agent and a real state dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchcore.tasks import MAX_ID_LENGTH

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
AGENT = "import os, sys\nsys.stdin.read()\nprint('ran', os.environ['ORCH_TASK_ID'])\n"


def orch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def project(tmp_path: Path, *task_ids: str) -> Path:
    tasks = "".join(
        f"## Task {tid}: Task {n}\n**Claude Instruction:**\nsay hi\n---\n" for n, tid in enumerate(task_ids)
    )
    (tmp_path / "tasks.md").write_text(f"# Tasks - 2026-11-23\n\n{tasks}")
    (tmp_path / "agent.py").write_text(AGENT)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [{sys.executable}, agent.py]\n  timeout_s: 60\npaths:\n  state_dir: .orch\n"
    )
    return tmp_path


def test_an_id_at_the_length_limit_runs_and_its_log_and_prompt_are_written(tmp_path: Path) -> None:
    long_id = "a-very-long-task-id-" + "x" * (MAX_ID_LENGTH - 20)
    cwd = project(tmp_path, long_id)
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    logs = list((cwd / ".orch").rglob("*.log"))
    task_logs = [p for p in logs if p.name.startswith("task-")]
    assert len(task_logs) == 1
    assert task_logs[0].read_text().strip() == f"ran {long_id}"
    assert len(task_logs[0].name) < 80
    assert list((cwd / ".orch").rglob("*.prompt.md"))
    shown = orch(cwd, "logs", long_id)
    assert shown.returncode == 0, shown.stderr
    assert f"ran {long_id}" in shown.stdout


def test_an_id_too_long_to_store_is_refused_before_any_session_exists(tmp_path: Path) -> None:
    cwd = project(tmp_path, "1", "x" * 240)
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    assert done.returncode == 2
    assert f"tasks.md:7: id: found an id of 240 characters, expected at most {MAX_ID_LENGTH}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (cwd / ".orch" / "state.db").exists() or "no sessions" in orch(cwd, "sessions").stdout


def test_ids_that_differ_only_by_case_or_slash_keep_separate_logs(tmp_path: Path) -> None:
    cwd = project(tmp_path, "Auth", "auth", "api/v1", "api_v1")
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    assert done.returncode == 0, done.stderr
    for task_id in ("Auth", "auth", "api/v1", "api_v1"):
        shown = orch(cwd, "logs", task_id)
        assert shown.returncode == 0, shown.stderr
        assert [line for line in shown.stdout.splitlines() if line.startswith("ran")] == [f"ran {task_id}"]
    assert len({p.name.casefold() for p in (cwd / ".orch").rglob("task-*.log")}) == 4
