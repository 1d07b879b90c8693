"""`orch run` with max_parallel above 1, for real: the CLI in a subprocess, the command agent,
a real git repository and its worktrees. Agents overlap (seen in their own start and end marks
and the recorded task times, never a wall-clock assert), each leaves one reviewable commit on its branch, a cancel
stops every running agent, kill -9 then `orch resume` loses nothing, and a dependent task
starts from its dependency's work."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.test_checkpoints import git
from tests.integration.test_crash_resume import ORCH, marked, orch
from tests.support import wait_until

pytestmark = pytest.mark.integration


def tasks_file(count: int, deps: dict[int, int] | None = None) -> str:
    parts = ["# Tasks - 2026-12-02\n"]
    for n in range(1, count + 1):
        dep = f"**Depends On:** {deps[n]}\n" if deps and n in deps else ""
        parts.append(f"## Task {n}: task {n}\n{dep}**Claude Instruction:**\ndo {n}\n---\n")
    return "".join(parts)


def project(tmp_path: Path, agent: str, tasks: str, parallel: int = 4, extra: str = "") -> Path:
    """The repository under ``tmp_path``; the agent may also write to ``tmp_path/marks`` (its
    record of runs, for the test), which the sandbox otherwise keeps read-only."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.txt").write_text("app\n")
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", "first")
    (tmp_path / "marks").mkdir()
    (tmp_path / "agent.py").write_text(agent.replace("MARKS", str(tmp_path / "marks")))
    (tmp_path / "tasks.md").write_text(tasks)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [{sys.executable}, {tmp_path / 'agent.py'}]\n  timeout_s: 300\n"
        f"paths:\n  workdir: project\n  state_dir: state\nmax_parallel: {parallel}\n"
        f"safety:\n  writable_outside: [{tmp_path / 'marks'}]\n{extra}"
    )
    return repo


def events(root: Path) -> list[dict[str, object]]:
    return list(json.loads(orch(root, "logs", "-n", "5000", "--json").stdout))


def spans(root: Path) -> dict[tuple[str, int], tuple[datetime, datetime]]:
    """(task, attempt) -> when it started and finished, as the session recorded them."""
    started: dict[tuple[str, int], datetime] = {}
    out: dict[tuple[str, int], tuple[datetime, datetime]] = {}
    for e in events(root):
        key = (str(e["task"]), int(str(e["attempt"]))) if e["attempt"] is not None else None
        if key is None:
            continue
        at = datetime.fromisoformat(str(e["at"]))
        if e["kind"] == "task_started":
            started[key] = at
        elif e["kind"] == "task_finished":
            out[key] = (started[key], at)
    return out


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    points = sorted(
        [(s, 1) for s, _ in intervals] + [(f, -1) for _, f in intervals], key=lambda p: (p[0], p[1])
    )
    now = best = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def branches(repo: Path) -> list[str]:
    return sorted(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/orch/").split())


SLEEPER = """
import os, pathlib, sys, time
sys.stdin.read()
task = os.environ["ORCH_TASK_ID"]
marks = pathlib.Path("MARKS")
(marks / f"{task}.start").write_text(str(time.time_ns()))
open(f"out-{task}.txt", "w").write(f"task {task} ports {os.environ['ORCH_PORT_BASE']}\\n")
time.sleep(1)  # the live file watch of its worktree sees the file meanwhile
(marks / f"{task}.end").write_text(str(time.time_ns()))
"""


def agents_at_once(marks: Path) -> int:
    """The most agents that ran at once, from their own clocks (start and end marks)."""
    points = [(int(p.read_text()), 1 if p.suffix == ".start" else -1) for p in marks.glob("*.*")]
    now = best = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):
        now += step
        best = max(best, now)
    return best


def test_four_at_once_on_twenty_tasks_overlap_and_leave_twenty_reviewable_branches(tmp_path: Path) -> None:
    repo = project(tmp_path, SLEEPER, tasks_file(20))
    done = orch(tmp_path, "run", "tasks.md")
    assert done.returncode == 0, done.stderr
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert status["session"]["state"] == "completed"
    sid = status["session"]["id"]
    times = spans(tmp_path)
    assert sorted(times) == sorted((str(n), 1) for n in range(1, 21))
    assert agents_at_once(tmp_path / "marks") == 4  # never more agents than max_parallel, and that many
    # a task whose agent is done frees its slot while orch records its commit: 4 or a few more
    assert most_at_once(list(times.values())) >= 4
    assert branches(repo) == sorted(f"orch/{sid}/{n}" for n in range(1, 21))
    base = git(repo, "rev-parse", "main").strip()
    for n in range(1, 21):
        branch = f"orch/{sid}/{n}"
        assert git(repo, "rev-list", "--count", f"{base}..{branch}").strip() == "1"
        assert git(repo, "log", "-1", "--format=%an", branch).strip() == "orch"
        assert git(repo, "diff", "--name-only", base, branch).split() == [f"out-{n}.txt"]
    # the user's tree is untouched; each running task had a port range of its own
    assert not list(repo.glob("out-*.txt"))
    assert git(repo, "status", "--porcelain").strip() == ""
    files = json.loads(orch(tmp_path, "status", "--json").stdout)["files"]  # watched in each worktree
    assert files == {str(n): f"1 file: +out-{n}.txt" for n in range(1, 21)}
    shown = orch(tmp_path, "diff", "7")
    assert shown.returncode == 0, shown.stderr
    assert "+task 7 ports 200" in shown.stdout


HANGER = """
import os, pathlib, sys, time
sys.stdin.read()
task, attempt = os.environ["ORCH_TASK_ID"], os.environ["ORCH_ATTEMPT"]
root = pathlib.Path("MARKS")
with open(root / "runs.log", "a") as f:
    f.write(f"{task} {attempt}\\n")
if int(task) > 4 and attempt == "1":
    (root / f"hanging-{task}").write_text(os.environ["ORCHCORE_AGENT_RUN"])
    time.sleep(300)
open(f"out-{task}.txt", "w").write(f"task {task} attempt {attempt}\\n")
"""


def hanging(root: Path) -> list[str]:
    return [p.read_text() for p in sorted((root / "marks").glob("hanging-*"))]


def run_until_four_hang(root: Path, then: Callable[[subprocess.Popen[str]], object]) -> int:
    """`orch run` until four agents hang at once, then ``then`` (a signal, a command); its exit code."""
    run = start(root, "run", "tasks.md")
    try:
        wait_until(lambda: len(hanging(root)) == 4, "four agents hanging at once", timeout=60)
        then(run)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    return run.returncode


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ORCH, *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_kill_9_of_a_parallel_run_then_resume_keeps_every_completed_task(
    tmp_path: Path, sandbox: str
) -> None:
    repo = project(tmp_path, HANGER, tasks_file(8), extra=f"sandbox: {sandbox}\n")
    assert run_until_four_hang(tmp_path, lambda run: run.send_signal(signal.SIGKILL)) == -signal.SIGKILL
    markers = hanging(tmp_path)
    # no agent outlives orch, sandboxed or not (resume reaps any left from their records)
    wait_until(lambda: not any(marked(m) for m in markers), "the orphaned agents to die", timeout=20)
    before = json.loads(orch(tmp_path, "status", "--json").stdout)
    sid = before["session"]["id"]
    assert [t["state"] for t in before["tasks"]] == ["completed"] * 4 + ["running"] * 4
    kept = {n: git(repo, "rev-parse", f"orch/{sid}/{n}").strip() for n in range(1, 5)}

    resumed = start(tmp_path, "resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert not any(marked(m) for m in markers)
    after = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert after["session"]["state"] == "completed"
    assert [(t["state"], t["attempts"]) for t in after["tasks"]] == [("completed", 1)] * 4 + [
        ("completed", 2)
    ] * 4
    runs = sorted((tmp_path / "marks" / "runs.log").read_text().split("\n")[:-1])
    assert runs == sorted([f"{n} 1" for n in range(1, 9)] + [f"{n} 2" for n in range(5, 9)])
    # the completed tasks' commits are as they were; one branch and one worktree per task
    assert {n: git(repo, "rev-parse", f"orch/{sid}/{n}").strip() for n in range(1, 5)} == kept
    assert branches(repo) == sorted(f"orch/{sid}/{n}" for n in range(1, 9))
    listed = [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]
    assert len(listed) == 1 + 8
    base = git(repo, "rev-parse", "main").strip()
    for n in range(5, 9):
        assert git(repo, "show", f"orch/{sid}/{n}:out-{n}.txt") == f"task {n} attempt 2\n"
        assert git(repo, "rev-list", "--count", f"{base}..orch/{sid}/{n}").strip() == "1"
    interrupted = [
        e for e in events(tmp_path) if e["kind"] == "task_state" and e["data"]["state"] == "interrupted"
    ]  # type: ignore[index]
    assert sorted(str(e["task"]) for e in interrupted) == ["5", "6", "7", "8"]


def test_a_cancel_stops_every_running_agent(tmp_path: Path) -> None:
    repo = project(tmp_path, HANGER, tasks_file(8))
    cancelled: list[subprocess.CompletedProcess[str]] = []
    run_until_four_hang(tmp_path, lambda _: cancelled.append(orch(tmp_path, "cancel")))
    assert cancelled[0].returncode == 0, cancelled[0].stderr
    for marker in hanging(tmp_path):
        assert not marked(marker)
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert status["session"]["state"] == "cancelled"
    assert [t["state"] for t in status["tasks"]] == ["completed"] * 4 + ["cancelled"] * 4
    # the cancelled tasks' worktrees and branches are gone; the completed ones stay for review
    sid = status["session"]["id"]
    assert branches(repo) == sorted(f"orch/{sid}/{n}" for n in range(1, 5))
    listed = git(repo, "worktree", "list", "--porcelain").count("\nworktree ")
    assert listed == 4


def worktrees_listed(repo: Path) -> int:
    """The task worktrees git knows of (the user's own tree is not counted)."""
    return git(repo, "worktree", "list", "--porcelain").count("\nworktree ")


def test_the_next_tasks_worktrees_are_made_while_agents_run_and_a_cancel_removes_them(
    tmp_path: Path,
) -> None:
    repo = project(tmp_path, HANGER, tasks_file(12))

    def cancel_once_made_ahead(_: subprocess.Popen[str]) -> None:
        # tasks 5-8 hang in the four slots: 9-12, ready next, get their worktrees meanwhile
        wait_until(lambda: checked_out(repo) == 12, "12 worktrees: 8 running or done, 4 made ahead")
        cancelled.append(orch(tmp_path, "cancel"))

    cancelled: list[subprocess.CompletedProcess[str]] = []
    run_until_four_hang(tmp_path, cancel_once_made_ahead)
    assert cancelled[0].returncode == 0, cancelled[0].stderr
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    states = [t["state"] for t in status["tasks"]]
    assert states == ["completed"] * 4 + ["cancelled"] * 4 + ["pending"] * 4  # 9-12 never started
    sid = status["session"]["id"]
    assert branches(repo) == sorted(f"orch/{sid}/{n}" for n in range(1, 5))
    assert worktrees_listed(repo) == 4  # nothing is left of the tasks that never started


def test_kill_9_with_worktrees_made_ahead_then_resume_runs_them_there(tmp_path: Path) -> None:
    repo = project(tmp_path, HANGER.replace("int(task) > 4", "4 < int(task) <= 8"), tasks_file(12))

    def kill_once_made_ahead(run: subprocess.Popen[str]) -> None:
        wait_until(lambda: checked_out(repo) == 12, "12 worktrees: 8 running or done, 4 made ahead")
        run.send_signal(signal.SIGKILL)

    assert run_until_four_hang(tmp_path, kill_once_made_ahead) == -signal.SIGKILL
    resumed = start(tmp_path, "resume")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert status["session"]["state"] == "completed"
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == (
        [("completed", 1)] * 4 + [("completed", 2)] * 4 + [("completed", 1)] * 4
    )
    sid = status["session"]["id"]
    assert branches(repo) == sorted(f"orch/{sid}/{n}" for n in range(1, 13))
    assert worktrees_listed(repo) == 12
    base = git(repo, "rev-parse", "main").strip()
    for n in range(9, 13):  # run in the worktree made before the kill: one commit of its own work
        assert git(repo, "diff", "--name-only", base, f"orch/{sid}/{n}").split() == [f"out-{n}.txt"]
        assert git(repo, "rev-list", "--count", f"{base}..orch/{sid}/{n}").strip() == "1"


def checked_out(repo: Path) -> int:
    """The task worktrees whose checkout is complete (git lists one as its checkout begins)."""
    lines = git(repo, "worktree", "list", "--porcelain").splitlines()
    paths = [Path(line.removeprefix("worktree ")) for line in lines if line.startswith("worktree ")]
    return sum((path / "app.txt").is_file() for path in paths[1:])


DEPENDENT = """
import os, pathlib, sys
sys.stdin.read()
task = os.environ["ORCH_TASK_ID"]
if task == "1":
    pathlib.Path("lib.txt").write_text("made by task 1\\n")
elif task == "2":
    pathlib.Path("other.txt").write_text("made by task 2\\n")
else:
    assert pathlib.Path("lib.txt").read_text() == "made by task 1\\n", "task 1's work is not in my base"
    assert pathlib.Path("other.txt").read_text() == "made by task 2\\n", "task 2's work is not in my base"
    pathlib.Path("uses.txt").write_text("built on 1 and 2\\n")
"""


def test_a_dependent_task_starts_from_its_dependencies_work_and_its_branch_holds_only_its_own(
    tmp_path: Path,
) -> None:
    text = tasks_file(3).replace("## Task 3: task 3\n", "## Task 3: task 3\n**Depends On:** 1, 2\n")
    repo = project(tmp_path, DEPENDENT, text, parallel=2)
    done = orch(tmp_path, "run", "tasks.md")
    assert done.returncode == 0, done.stdout + done.stderr
    sid = json.loads(orch(tmp_path, "status", "--json").stdout)["session"]["id"]
    diff = json.loads(orch(tmp_path, "diff", "3", "--json").stdout)
    assert diff["files"] == ["uses.txt"]
    assert git(repo, "show", f"orch/{sid}/3:lib.txt") == "made by task 1\n"
    for n in ("1", "2", "3"):  # applied in dependency order, each brings in its own change
        applied = orch(tmp_path, "apply", n)
        assert applied.returncode == 0, applied.stderr
    assert sorted(p.name for p in repo.glob("*.txt")) == ["app.txt", "lib.txt", "other.txt", "uses.txt"]


COMMITTER = """
import os, pathlib, subprocess, sys, time
sys.stdin.read()
task = os.environ["ORCH_TASK_ID"]
pathlib.Path(f"out-{task}.txt").write_text(f"task {task}\\n")
time.sleep(0 if task == "1" else 2)  # task 1's branch gets orch's commit while the others run
if task == "2":  # past the shims and hooks (git by its path, their config dropped): only the refs check sees it
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}  # no guard hooks
    env |= {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b.invalid",
           "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b.invalid"}
    subprocess.run(["/usr/bin/git", "add", "-A"], check=True, env=env)
    tree = subprocess.run(["/usr/bin/git", "write-tree"], check=True, env=env, capture_output=True, text=True).stdout.strip()
    new = subprocess.run(["/usr/bin/git", "commit-tree", tree, "-p", "HEAD", "-m", "mine"], check=True, env=env,
                         capture_output=True, text=True).stdout.strip()
    subprocess.run(["/usr/bin/git", "update-ref", "HEAD", new], check=True, env=env)
"""


def test_a_commit_by_the_agent_in_its_worktree_fails_only_that_task(tmp_path: Path) -> None:
    project(tmp_path, COMMITTER, tasks_file(4), parallel=4)
    orch(tmp_path, "run", "tasks.md")
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    states = {t["id"]: t["state"] for t in status["tasks"]}
    assert states == {"1": "completed", "2": "failed", "3": "completed", "4": "completed"}
    safety = [e for e in events(tmp_path) if e["kind"] == "safety"]
    assert {str(e["task"]) for e in safety} == {"2"}  # the other tasks' branches moving is orch's own doing
    assert any("moved" in json.dumps(e["data"]) for e in safety), [e["data"] for e in safety]


def test_ctrl_c_stops_every_running_agent_and_leaves_their_tasks_to_run_again(tmp_path: Path) -> None:
    project(tmp_path, HANGER, tasks_file(8))
    assert run_until_four_hang(tmp_path, lambda run: run.send_signal(signal.SIGINT)) != 0
    for marker in hanging(tmp_path):
        assert not marked(marker)
    status = json.loads(orch(tmp_path, "status", "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["completed"] * 4 + ["interrupted"] * 4
    assert status["session"]["engine"] is None
