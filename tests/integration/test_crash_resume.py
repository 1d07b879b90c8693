"""kill -9 of `orch run` while a task runs, then `orch resume`: the interrupted
task runs again as attempt 2, completed tasks never run again, no event is lost;
nothing of the killed attempt survives it, with the sandbox and without."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
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
    pathlib.Path("hanging").write_text(os.environ["ORCHCORE_AGENT_RUN"])
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


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries the run marker ``marker`` (any PID namespace)."""
    needle = f"ORCHCORE_AGENT_RUN={marker}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in entries and pid_alive(int(environ.parent.name)):
            found.append(int(environ.parent.name))
    return found


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
        marker = (tmp_path / "hanging").read_text()
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    assert run.returncode == -signal.SIGKILL
    # the orphaned agent does not outlive the orchestrator
    wait_for(lambda: not marked(marker), "the agent to die with orch", timeout=10)

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


HEARTBEAT_TASKS = """# Tasks - 2026-12-01

## Task 1: The one whose agent leaves a grandchild
**Claude Instruction:**
one
"""

# Attempt 1 starts a grandchild that appends a timestamp to heartbeat.log every 20 ms (in the
# agent's process group, as a build tool's worker would be) and hangs; attempt 2 notes when it began.
HEARTBEAT_AGENT = """
import os, pathlib, subprocess, sys, time
sys.stdin.read()
if os.environ["ORCH_ATTEMPT"] == "1":
    beat = "import os, time\\nwhile True:\\n    open('heartbeat.log', 'a').write(f'{os.getpid()} {time.time()}\\\\n')\\n    time.sleep(0.02)"
    subprocess.Popen([sys.executable, "-c", beat])
    pathlib.Path("hanging").write_text(os.environ["ORCHCORE_AGENT_RUN"])
    time.sleep(120)
else:
    pathlib.Path("attempt2-started").write_text(repr(time.time()))
print("done")
"""


def beats(workdir: Path) -> list[tuple[int, float]]:
    log = workdir / "heartbeat.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [(int(pid), float(at)) for pid, at in (line.split() for line in lines if line.count(" ") == 1)]


def start_and_kill_9(workdir: Path) -> str:
    """`orch run` until the grandchild beats, then SIGKILL orch; the attempt's run marker."""
    run = subprocess.Popen(
        [ORCH, "run", "tasks.md"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: (workdir / "hanging").exists() and len(beats(workdir)) >= 3, "the heartbeat")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    return (workdir / "hanging").read_text()


def stopped_beating(workdir: Path, quiet_s: float = 0.5) -> bool:
    """No beat for ``quiet_s`` seconds (each check looks at the log twice, ``quiet_s`` apart)."""
    first = len(beats(workdir))
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return len(beats(workdir)) == first


def assert_resume_never_overlaps(workdir: Path, marker: str, sandbox_line: str) -> None:
    resumed = orch(workdir, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert sandbox_line in resumed.stdout  # said at start, whatever the mode
    status = json.loads(orch(workdir, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == [("completed", 2)]
    began = float((workdir / "attempt2-started").read_text())
    assert all(at < began for _, at in beats(workdir)), "the old attempt still beat when the new one ran"
    assert marked(marker) == []


def write_project(workdir: Path, sandbox: str) -> None:
    (workdir / "tasks.md").write_text(HEARTBEAT_TASKS)
    (workdir / "agent.py").write_text(HEARTBEAT_AGENT)
    (workdir / "orch.yaml").write_text(
        f"agent:\n  command: [{sys.executable}, agent.py]\n  timeout_s: 300\nsandbox: {sandbox}\n"
    )


@pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)
def test_with_the_sandbox_a_kill_9_takes_the_agents_grandchild_with_it(tmp_path: Path) -> None:
    write_project(tmp_path, "on")

    marker = start_and_kill_9(tmp_path)

    # the PID namespace dies with bwrap, bwrap with orch: nobody has to clean up
    wait_for(lambda: not marked(marker), "the attempt's processes to die with orch", timeout=10)
    assert stopped_beating(tmp_path)
    assert_resume_never_overlaps(tmp_path, marker, "sandbox: on (bubblewrap, network open)")


def test_without_the_sandbox_resume_kills_the_orphaned_grandchild_before_the_next_attempt(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, "off")

    marker = start_and_kill_9(tmp_path)

    # the agent itself dies with orch (setpriv --pdeathsig), its grandchild is orphaned and beats on
    wait_for(lambda: len(marked(marker)) == 1, "only the grandchild to be left", timeout=10)
    (orphan,) = marked(marker)
    assert orphan in {pid for pid, _ in beats(tmp_path)}
    assert not stopped_beating(tmp_path)
    stored = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert [t["state"] for t in stored["tasks"]] == ["running"]

    assert_resume_never_overlaps(tmp_path, marker, "sandbox: off (turned off in the config)")
    assert not pid_alive(orphan)
