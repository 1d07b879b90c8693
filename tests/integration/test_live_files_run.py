"""Live file tracking through `orch run`: what the agent writes shows in the run's output as it
happens (a forbidden path flagged at once) and in `orch status`, per task; `watch: {enabled:
false}` turns it off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
# writes, waits long enough for the engine's poll to see it, then changes one file again
AGENT = (
    "#!/bin/sh\nmkdir -p db/migrations\necho 'x = 1' > app.py\necho 'drop' > db/migrations/0002_drop.py\n"
    "sleep 1.5\necho 'x = 2' >> app.py\nsleep 0.5\necho done\n"
)
TASKS = "# Tasks\n\n## Task 1: Models\n**Type:** backend\n**Description:** add the models\n"


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], cwd=root, capture_output=True, text=True, timeout=120, check=False)


def project(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "agent.sh").write_text(AGENT)
    (root / "tasks.md").write_text(TASKS)
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}]\n  timeout_s: 60\n"
        f"paths:\n  state_dir: {tmp_path / 'state'}\napproval:\n  mode: auto\nsafety:\n  enabled: false\n"
        f"sandbox: off\nsupervisor:\n  enabled: false\n{extra}"
    )
    return root


def test_the_files_an_agent_writes_are_seen_while_it_runs_and_a_forbidden_one_is_flagged(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    # flagged in the run's own output, before the task finished
    flagged = [line for line in run.stdout.splitlines() if "⚑" in line]
    assert flagged, run.stdout
    assert "db/migrations/0002_drop.py" in flagged[0]
    finished_at = next(i for i, line in enumerate(run.stdout.splitlines()) if "task 1 completed" in line)
    assert run.stdout.splitlines().index(flagged[0]) < finished_at
    status = orch(root, "status")
    # app.py was made, then changed again: still new in this attempt, named last as the latest change
    line = "files: 2 files: +db/migrations/0002_drop.py +app.py; ⚑ forbidden: db/migrations/0002_drop.py"
    assert line in status.stdout, status.stdout
    shown = json.loads(orch(root, "status", "--json").stdout)
    assert "db/migrations/0002_drop.py" in shown["files"]["1"]


def test_with_watch_off_nothing_is_tracked(tmp_path: Path) -> None:
    root = project(tmp_path, "watch:\n  enabled: false\n")
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "⚑" not in run.stdout
    assert json.loads(orch(root, "status", "--json").stdout)["files"] == {}


def test_a_file_written_as_the_agent_exits_is_that_tasks_not_the_next_ones(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "agent.sh").write_text('#!/bin/sh\necho "$ORCH_TASK_ID" > "out-$ORCH_TASK_ID.txt"\n')
    (root / "tasks.md").write_text(
        TASKS + "\n## Task 2: Views\n**Type:** backend\n**Description:** add the views\n"
    )
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    files = json.loads(orch(root, "status", "--json").stdout)["files"]
    assert files == {"1": "1 file: +out-1.txt", "2": "1 file: +out-2.txt"}
