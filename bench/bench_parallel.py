"""orch's own overhead per parallel task, before any agent runs: a worktree created from the
session's base (with a copied ``.env`` and one setup command), the task's change recorded as
orch's one commit, and the worktree and branch removed, at 1 and 20 tasks in a row, plus
``tasks_to_start`` (the pure scheduler) over a 20-task plan.

Prints the median and p90 wall time per task of each phase and of the whole, the git processes
spawned per task (counted by an audit hook), and the ratio of the per-task cost at 20 tasks to
the cost at 1 (does a repository with many worktrees make each one dearer?).

Then the whole thing, end to end: the real ``orch run`` CLI on ``--run-tasks`` independent tasks
whose agent sleeps ``--sleep`` seconds, serial (max_parallel 1, in the user's tree) and at
``--parallel`` (each in its own worktree). Prints both walls, the speed-up, the most
agents that ran at once (from their own start and end marks), and orch's overhead per task: the wall
beyond what the agents' sleeping alone needs (tasks x sleep serial; ceil(tasks / N) x sleep in
parallel), divided by the tasks. The parallel project then runs a next session (``--new``), as a
user's next day does: its state database and settings cache exist by then. Asserts nothing.
Usage: python bench/bench_parallel.py [--tasks 1,20] [--files 200] [--run-tasks 20] [--parallel 4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from adapters.worktrees import GitWorktrees, worktrees_dir
from orchcore.graph import TaskGraph
from orchcore.parallel import assign_ports, tasks_to_start
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.ports.worktrees import PortRange, WorktreeSetup
from orchcore.records import Session, Snapshot, TaskRun
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task

GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}
PHASES = ("create+setup", "commit", "remove")
SPAWNS = [0]


def count_spawns(event: str, _args: tuple[Any, ...]) -> None:
    if event in ("subprocess.Popen", "os.posix_spawn"):
        SPAWNS[0] += 1


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    for i in range(files):
        path = repo / f"pkg{i % 20:02d}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n" * 5)
    (repo / ".gitignore").write_text(".env\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "all"]):
        subprocess.run(["git", *argv], cwd=repo, env=GIT_ENV, check=True)
    (repo / ".env").write_text("API_KEY=bench\n")
    return repo


def one_round(worktrees: GitWorktrees, tasks: int) -> tuple[dict[str, list[float]], float]:
    """``tasks`` tasks in a row, each through every phase; seconds per phase per task, spawns/task."""
    setup = WorktreeSetup(copy=(".env",), commands=('test -n "$ORCH_PORT_BASE"',))
    base = worktrees.base_commit()
    times: dict[str, list[float]] = {phase: [] for phase in PHASES}
    spawns_before = SPAWNS[0]
    running: list[PortRange] = []
    trees = []
    for n in range(tasks):
        ports = assign_ports(20000, 10, running)
        running.append(ports)
        start = time.perf_counter()
        tree = worktrees.create("bench", f"t{n}", base, ports, setup)
        times["create+setup"].append(time.perf_counter() - start)
        (Path(tree.path) / "pkg00" / "module_0.py").write_text(f"VALUE = 'task {n}'\n")
        (Path(tree.path) / f"new_{n}.py").write_text("NEW = 1\n")
        start = time.perf_counter()
        worktrees.commit(tree, f"orch: session bench, task t{n}")
        times["commit"].append(time.perf_counter() - start)
        trees.append(tree)
    for tree in trees:  # all worktrees exist at once, as N running tasks' do
        start = time.perf_counter()
        worktrees.remove(tree)
        times["remove"].append(time.perf_counter() - start)
    return times, (SPAWNS[0] - spawns_before) / tasks


def scheduler_us(count: int, max_parallel: int, rounds: int = 200) -> float:
    plan = Plan("p.md", tuple(Task(f"t{n}", f"Task {n}") for n in range(count)))
    graph = TaskGraph(plan.tasks)
    runs = {t: TaskRun(t) for t in plan.ids}
    now = datetime(2026, 12, 2, tzinfo=UTC)
    snap = Snapshot(Session("s", "p.md", SessionState.RUNNING, now, now), plan, runs)
    policy = ApprovalPolicy(mode=ApprovalMode.AUTO)
    start = time.perf_counter()
    for _ in range(rounds):
        tasks_to_start(snap, policy, graph, max_parallel, ())
    return (time.perf_counter() - start) / rounds * 1e6


ORCH = str(Path(sys.executable).with_name("orch"))
AGENT = (
    'cat >/dev/null\ndate +%s%N > "$2/$ORCH_TASK_ID.start"\nsleep "$1"\n'
    'echo "task $ORCH_TASK_ID" > "out-$ORCH_TASK_ID.txt"\ndate +%s%N > "$2/$ORCH_TASK_ID.end"\n'
)


@attrs.frozen
class Timeline:
    """Where the wall went, read from the agents' own clocks: before the first agent started,
    from an agent's end to the start of the next one in its slot (each start paired with the
    latest end before it not yet taken), and after the last agent ended."""

    before_first_s: float
    gaps_s: tuple[float, ...]
    after_last_s: float


def timeline(marks: Path, started_ns: int, ended_ns: int) -> Timeline:
    starts = sorted(int(p.read_text()) for p in marks.glob("*.start"))
    ends = sorted(int(p.read_text()) for p in marks.glob("*.end"))
    free = list(ends)
    gaps = []
    for start in starts:
        before = [e for e in free if e <= start]
        if before:  # a slot freed by that agent's end: the gap is orch's, between two agents
            free.remove(before[-1])
            gaps.append((start - before[-1]) / 1e9)
    return Timeline((starts[0] - started_ns) / 1e9, tuple(gaps), (ended_ns - ends[-1]) / 1e9)


def end_to_end(root: Path, tasks: int, parallel: int, sleep_s: float) -> tuple[float, int, int, Timeline]:
    """``orch run`` of ``tasks`` sleeping tasks at ``parallel`` in a new project: wall seconds,
    most at once, branches, and the timeline from the agents' clocks."""
    repo = root / "project"
    repo.mkdir(parents=True)
    marks = root / "marks"  # outside the workspace: the agents may write there (safety.writable_outside)
    marks.mkdir()
    (repo / "app.txt").write_text("app\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *argv], cwd=repo, env=GIT_ENV, check=True)
    (root / "agent.sh").write_text(AGENT)
    body = "".join(
        f"## Task {n}: task {n}\n**Claude Instruction:**\ndo {n}\n---\n" for n in range(1, tasks + 1)
    )
    (root / "tasks.md").write_text("# Tasks - 2026-12-02\n" + body)
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}, '{sleep_s}', {marks}]\n  timeout_s: 300\n"
        f"paths:\n  workdir: project\n  state_dir: state\nmax_parallel: {parallel}\n"
        f"safety:\n  writable_outside: [{marks}]\n"
    )
    return run_again(root)


def run_again(root: Path) -> tuple[float, int, int, Timeline]:
    """One more session of the project ``end_to_end`` made (``--new``), as a user's next day's
    run: its state database and settings cache exist."""
    marks = root / "marks"
    for mark in marks.glob("*.*"):
        mark.unlink()
    repo = root / "project"
    before = set(branch_list(repo))
    started_ns = time.time_ns()
    start = time.perf_counter()
    done = subprocess.run(
        [ORCH, "run", "tasks.md", "--new"], cwd=root, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    ended_ns = time.time_ns()
    if done.returncode != 0:
        raise SystemExit(f"orch run failed (exit {done.returncode}): {done.stderr[-500:]}")
    points = [(int(p.read_text()), 1 if p.suffix == ".start" else -1) for p in marks.glob("*.*")]
    now = most = 0  # agents at once, from their own clocks
    for _, step in sorted(points):
        now += step
        most = max(most, now)
    made = [b for b in branch_list(repo) if b not in before]
    return wall, most, len(made), timeline(marks, started_ns, ended_ns)


def branch_list(repo: Path) -> list[str]:
    return subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/heads/orch/"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="1,20", help="task counts, comma-separated")
    parser.add_argument("--files", type=int, default=200, help="files in the repository")
    parser.add_argument("--repeat", type=int, default=3, help="rounds at each task count (1 task: x5)")
    parser.add_argument(
        "--run-tasks", type=int, default=20, help="tasks of the end-to-end `orch run` (0: skip)"
    )
    parser.add_argument("--parallel", type=int, default=4, help="max_parallel of the end-to-end run")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds each end-to-end agent sleeps")
    args = parser.parse_args()
    sys.addaudithook(count_spawns)
    per_task_total: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        repo = make_repo(Path(tmp), args.files)
        worktrees = GitWorktrees(str(repo), worktrees_dir(str(Path(tmp) / "state"), str(repo)))
        print(
            f"repository: {args.files} files; per task: create (copy .env, 1 setup command), commit, remove"
        )
        for tasks in (int(t) for t in args.tasks.split(",")):
            merged: dict[str, list[float]] = {phase: [] for phase in PHASES}
            spawns = 0.0
            rounds = args.repeat * (5 if tasks == 1 else 1)
            for _ in range(rounds):
                times, spawns = one_round(worktrees, tasks)
                for phase in PHASES:
                    merged[phase].extend(times[phase])
            totals = [sum(merged[p][i] for p in PHASES) for i in range(len(merged["commit"]))]
            per_task_total[tasks] = statistics.median(totals)
            cells = "  ".join(
                f"{p} {statistics.median(merged[p]) * 1e3:6.1f} ms (p90 {p90(merged[p]) * 1e3:6.1f})"
                for p in PHASES
            )
            print(
                f"{tasks:3d} task(s), {rounds} round(s): {cells}  | total {per_task_total[tasks] * 1e3:6.1f} ms/task"
                f"  | {spawns:.0f} processes/task"
            )
    counts = sorted(per_task_total)
    if len(counts) > 1:
        low, high = counts[0], counts[-1]
        print(f"per-task cost at {high} tasks / at {low}: {per_task_total[high] / per_task_total[low]:.2f}x")
    for count, slots in ((20, 4), (1000, 8)):
        print(
            f"tasks_to_start over {count} pending tasks, max_parallel {slots}: {scheduler_us(count, slots):.0f} us"
        )
    if args.run_tasks > 0:
        run_end_to_end(args.run_tasks, args.parallel, args.sleep)


def run_end_to_end(tasks: int, parallel: int, sleep_s: float) -> None:
    print(f"end to end: `orch run`, {tasks} independent tasks, each agent sleeps {sleep_s:g} s")
    walls: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-parallel-run-", dir="/var/tmp") as tmp:
        for slots in (1, parallel):
            walls[slots] = show(
                f"max_parallel {slots}",
                end_to_end(Path(tmp) / f"n{slots}", tasks, slots, sleep_s),
                tasks,
                slots,
                sleep_s,
            )
        again = show(
            f"max_parallel {parallel}, the next session in that project (database and settings cache made)",
            run_again(Path(tmp) / f"n{parallel}"),
            tasks,
            parallel,
            sleep_s,
        )
    print(
        f"  speed-up at max_parallel {parallel}: {walls[1] / walls[parallel]:.2f}x in a new project,"
        f" {walls[1] / again:.2f}x in the next session (ideal {min(parallel, tasks)}x)"
    )


def show(title: str, run: tuple[float, int, int, Timeline], tasks: int, slots: int, sleep_s: float) -> float:
    """Print one end-to-end run; its wall."""
    wall, most, branches, seen = run
    ideal = math.ceil(tasks / slots) * sleep_s
    print(
        f"  {title}: wall {wall:6.2f} s (agents alone: {ideal:5.1f} s)  agents at once {most}"
        f"  branches {branches}  orch overhead {(wall - ideal) / tasks * 1e3:6.0f} ms/task"
    )
    gaps = sorted(seen.gaps_s)
    print(
        f"    from the agents' clocks: first agent after {seen.before_first_s * 1e3:.0f} ms;"
        f" agent end -> next start in its slot median {statistics.median(gaps) * 1e3:.0f} ms,"
        f" p90 {p90(gaps) * 1e3:.0f} ms; exit {seen.after_last_s * 1e3:.0f} ms after the last agent"
    )
    return wall


if __name__ == "__main__":
    main()
