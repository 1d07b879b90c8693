"""kill -9 of `orch run` while a task runs, then `orch resume`: the interrupted
task runs again as attempt 2, completed tasks never run again, no event is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import wait_until as wait_for

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))

TASKS = """# Tasks - 2026-11-23

## Task 1: First
**Priority:** high
**Claude Instruction:**
one
---
## Task 2: Second, the one that gets killed
**Depends On:** 1
**Claude Instruction:**
two
---
## Task 3: Third
**Depends On:** 2
**Claude Instruction:**
three
"""

# Records every run; on task 2's first attempt, signals it started and hangs.
AGENT = """
import os, sys, time, pathlib
sys.stdin.read()
task, attempt = os.environ["ORCH_TASK_ID"], os.environ["ORCH_ATTEMPT"]
with open("runs.log", "a") as f:
    f.write(f"{task} {attempt} {os.getpid()}\\n")
if task == "2" and attempt == "1":
    pathlib.Path("hanging").write_text(str(os.getpid()))
    time.sleep(120)
print("done", task)
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def orch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_kill_9_mid_task_then_resume_reruns_only_the_interrupted_task(tmp_path: Path) -> None:
    (tmp_path / "tasks.md").write_text(TASKS)
    (tmp_path / "agent.py").write_text(AGENT)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [{sys.executable}, agent.py]\n  timeout_s: 300\n"
    )

    run = subprocess.Popen(
        [ORCH, "run", "tasks.md"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: (tmp_path / "hanging").exists())
        agent_pid = int((tmp_path / "hanging").read_text())
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    assert run.returncode == -signal.SIGKILL
    # the orphaned agent does not outlive the orchestrator
    wait_for(lambda: not pid_alive(agent_pid), timeout=10)

    before = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert [t["state"] for t in before["tasks"]] == ["completed", "running", "pending"]
    assert before["session"]["engine"] is None  # the dead engine's lease is gone

    resumed = orch(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "interrupted earlier; it runs again" in resumed.stdout

    after = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert after["session"]["state"] == "completed"
    assert [(t["id"], t["state"], t["attempts"]) for t in after["tasks"]] == [
        ("1", "completed", 1),
        ("2", "completed", 2),
        ("3", "completed", 1),
    ]
    runs = [line.split()[:2] for line in (tmp_path / "runs.log").read_text().splitlines()]
    assert runs == [["1", "1"], ["2", "1"], ["2", "2"], ["3", "1"]]

    events = json.loads(orch(tmp_path, "logs", "-n", "1000", "--json").stdout)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    story = [
        (e["kind"], e["task"], e["attempt"]) for e in events if e["kind"] in ("task_started", "task_finished")
    ]
    assert story == [
        ("task_started", "1", 1),
        ("task_finished", "1", 1),
        ("task_started", "2", 1),
        ("task_started", "2", 2),
        ("task_finished", "2", 2),
        ("task_started", "3", 1),
        ("task_finished", "3", 1),
    ]
    interrupted = [e for e in events if e["kind"] == "task_state" and e["data"]["state"] == "interrupted"]
    assert [(e["task"], e["attempt"]) for e in interrupted] == [("2", 1)]
