"""No process of an attempt outlives it: what an agent that exits normally left behind is killed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.process import RUN_MARKER, PidWindow, run_marked, run_process
from orchcore.sandbox import agent_sandbox

pytestmark = pytest.mark.integration

ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}
LEAVES_A_DAEMON = """
import os, subprocess
quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
for _ in range(3):
    subprocess.run(["true"])  # pids go by: the daemon is not the agent's next pid
subprocess.Popen(["setsid", "sleep", "3141"], **quiet)
print(os.environ["ORCHCORE_AGENT_RUN"], flush=True)
"""


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="orch-leftovers-", dir="/var/tmp"))
    (path / "work").mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def alive_with(entry: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                stat = (environ.parent / "stat").read_text()
                if stat.rpartition(")")[2].split()[0] not in ("Z", "X"):
                    found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_daemon_left_by_an_agent_that_exited_is_killed_with_its_attempt(
    root: Path, sandboxed: bool
) -> None:
    if sandboxed and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    (root / "work" / "agent.py").write_text(LEAVES_A_DAEMON)
    sandbox = agent_sandbox(workdir=str(root / "work"), home=None) if sandboxed else None
    lines: list[str] = []

    result = run_process(
        [sys.executable, "agent.py"],
        cwd=str(root / "work"),
        env=ENV,
        stdin_text=None,
        log_path=str(root / "state" / "t.log"),
        timeout_s=30,
        on_line=lambda line: lines.append(line) or None,
        on_tick=lambda: None,
        sandbox=sandbox,
    )

    assert result.exit_code == 0, result
    (marker,) = lines
    assert alive_with(f"{RUN_MARKER}={marker}") == []


def test_the_pid_window_holds_every_pid_given_out_since_the_first_and_no_older_one() -> None:
    window = PidWindow(first=1000, forks=50)
    assert window.holds(1000, last=1200, forks=300, pid_max=32768)
    assert window.holds(1200, last=1200, forks=300, pid_max=32768)
    assert not window.holds(999, last=1200, forks=300, pid_max=32768)
    assert not window.holds(1201, last=1200, forks=300, pid_max=32768)


def test_the_pid_window_wraps_with_the_pids() -> None:
    window = PidWindow(first=32700, forks=0)
    assert window.holds(32767, last=400, forks=500, pid_max=32768)
    assert window.holds(301, last=400, forks=500, pid_max=32768)
    assert not window.holds(500, last=400, forks=500, pid_max=32768)
    assert not window.holds(32000, last=400, forks=500, pid_max=32768)


def test_after_a_whole_cycle_of_pids_every_pid_may_be_the_attempts() -> None:
    window = PidWindow(first=1000, forks=0)
    assert window.holds(10, last=1200, forks=40000, pid_max=32768)
    unknown = PidWindow(first=1000, forks=None)
    assert unknown.holds(10, last=1200, forks=100, pid_max=32768)


def test_the_kernel_counters_the_window_reads_are_there() -> None:
    before = PidWindow.now(first=1)
    subprocess.run(["true"], check=True)
    assert before.forks is not None, "/proc/stat has no processes line"
    assert (PidWindow.now(first=1).forks or 0) > before.forks


def test_run_marked_gives_the_run_its_marker_and_nothing_of_the_run_outlives_it(root: Path) -> None:
    (root / "work" / "agent.py").write_text(LEAVES_A_DAEMON)
    lines: list[str] = []

    def seen(line: str) -> None:
        lines.append(line)

    result = run_marked(
        [sys.executable, "agent.py"],
        env=ENV,  # no marker in it: run_marked sets one
        agent="some-cli",
        task_id="t7",
        cwd=str(root / "work"),
        stdin_text=None,
        log_path=str(root / "state" / "t.log"),
        timeout_s=30,
        on_line=seen,
        on_tick=lambda: None,
    )
    assert result.exit_code == 0, result
    (marker,) = lines  # the marker the agent and its daemon inherited
    assert len(marker) == 32
    assert alive_with(f"{RUN_MARKER}={marker}") == []
