"""Checkpoint cost per attempt: the snapshot before it, the one after it and the comparison for
discarded edits and moved refs (what the engine does around every agent run), at 10 / 1,000 /
10,000 files where each task changes one file.

Prints, per size, the median and p90 wall time of the whole per-attempt work and its CPU time
(orch's and its children's, less inflated than wall time on a loaded machine), for the adapter as it is
and for the git command sequence it replaced (same repository, same minute, so the ratio holds
on a noisy machine), the processes each spawns per attempt (counted by an audit hook), and the
ratio to the 1 ms target. Asserts nothing. The repositories live under $TMPDIR: with
TMPDIR=/dev/shm the figures leave out the disk file system's cost of creating files.
Usage: python bench/bench_checkpoint.py [--tasks N] [--sizes 10,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from orchcore.checkpoints import check_attempt
from orchcore.ports.checkpoints import Moment

TARGET_MS = 1.0
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
SPAWNS = [0]


def count_spawns(event: str, _args: tuple[Any, ...]) -> None:
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork"):
        SPAWNS[0] += 1


def make_repo(root: Path, files: int) -> Path:
    repo = root / f"repo-{files}"
    for i in range(files):
        path = repo / f"pkg{i % 100:02d}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n" * 5)
    (repo / ".gitignore").write_text("*.log\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "all"]):
        subprocess.run(["git", *argv], cwd=repo, env=GIT_ENV, check=True)
    (repo / "untracked.txt").write_text("not committed\n")
    (repo / "build.log").write_text("ignored\n")
    return repo


def agent_edit(repo: Path, n: int) -> float:
    """The agent's small change (not counted: it is the agent's time); returns its duration."""
    start = time.perf_counter()
    (repo / "pkg00" / "module_0.py").write_text(f"VALUE = {n}\n")
    return time.perf_counter() - start


def adapter_attempt(repo: Path, state: Path) -> Callable[[int], float]:
    """One attempt as the engine runs it: take before, the agent's edit, then check_attempt;
    returns the seconds spent outside the agent's edit."""
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(state), str(repo)))
    checkpoints.take("warm", "0", 1, Moment.BEFORE)  # the first one hashes every file

    def attempt(n: int) -> float:
        start = time.perf_counter()
        before = checkpoints.take("bench", str(n), 1, Moment.BEFORE)
        edit = agent_edit(repo, n)
        check_attempt(checkpoints, before, guard=True)
        return time.perf_counter() - start - edit

    return attempt


def git_cli_attempt(repo: Path, state: Path) -> Callable[[int], float]:
    """The same attempt as the git command sequence of the process-per-snapshot adapter."""
    shadow = state / "cli.git"
    env = {**GIT_ENV, "GIT_OPTIONAL_LOCKS": "0"}
    subprocess.run(["git", "init", "-q", "--bare", str(shadow)], env=env, check=True)

    def git(*args: str, user: bool = False) -> str:
        where = ["-C", str(repo)] if user else [f"--git-dir={shadow}", f"--work-tree={repo}"]
        done = subprocess.run(["git", *where, *args], cwd=repo, env=env, capture_output=True, text=True)
        return done.stdout

    def take(seq: int) -> tuple[str, dict[str, str]]:
        git("add", "-A", "--ignore-errors", "--", ".")
        tree = git("write-tree").strip()
        refs = dict(
            line.split(" ")[::-1]
            for line in git("for-each-ref", "--format=%(objectname) %(refname)", user=True).splitlines()
        )
        refs["HEAD"] = "ref: " + git("symbolic-ref", "-q", "HEAD", user=True).strip()
        commit = git("commit-tree", tree, "-m", json.dumps({"refs": refs})).strip()
        git("for-each-ref", "--format=%(refname)", "refs/checkpoints/bench/")
        git("update-ref", f"refs/checkpoints/bench/{seq:06d}", commit, "")
        return commit, refs

    take(0)

    def attempt(n: int) -> float:
        start = time.perf_counter()
        before, _ = take(2 * n)
        edit = agent_edit(repo, n)
        after, _ = take(2 * n + 1)
        paths = [line.split("\t")[-1] for line in git("diff-tree", "-r", before, after).splitlines()]
        if paths:
            git("ls-tree", "-r", "-z", "HEAD", "--", *paths, user=True)
        return time.perf_counter() - start - edit

    return attempt


class Figures(NamedTuple):
    """Per attempt: median and p90 wall ms, CPU ms (orch's and its children's: what a quiet
    machine would wait for), processes spawned."""

    median: float
    p90: float
    cpu: float
    spawns: float

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.median:7.2f} ms (p90 {self.p90:7.2f}), CPU {self.cpu:7.2f} ms, "
            f"{self.spawns:4.1f} processes; {self.median / TARGET_MS:6.1f}x / CPU {self.cpu / TARGET_MS:6.1f}x the target"
        )


def cpu_s() -> float:
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def measure(attempt: Callable[[int], float], tasks: int) -> Figures:
    SPAWNS[0] = 0
    cpu = cpu_s()
    times = [attempt(n) * 1000 for n in range(1, tasks + 1)]
    cpu = (cpu_s() - cpu) * 1000 / tasks
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
    return Figures(statistics.median(times), p90, cpu, SPAWNS[0] / tasks)


def stat_walk_ms(repo: Path) -> float:
    """The floor of any snapshot that trusts a stat cache: one lstat per file, in Python."""
    start = time.perf_counter()
    for path in repo.rglob("*"):
        path.lstat()
    return (time.perf_counter() - start) * 1000


def spawn_ms() -> float:
    """What one process costs on this machine (the issue's floor: 0.6 ms for `true`)."""
    times = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run(["true"], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def create_file_ms(folder: Path) -> float:
    """What writing one new small file costs here (a checkpoint writes about 7 per attempt:
    its commits, changed trees, ref and index); on a file system busy with deletions, ext4's
    inode allocator makes this the largest part of a checkpoint."""
    times = []
    for n in range(20):
        start = time.perf_counter()
        (folder / f"object-{n}.tmp").write_bytes(b"x" * 200)
        (folder / f"object-{n}.tmp").rename(folder / f"object-{n}")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--sizes", default="10,1000,10000")
    args = parser.parse_args()
    sys.addaudithook(count_spawns)
    print(f"per attempt: before + after + check, median (p90) of {args.tasks}; target {TARGET_MS:g} ms")
    with tempfile.TemporaryDirectory() as folder:
        print(
            f"this machine now: spawning `true` {spawn_ms():.2f} ms, "
            f"writing a new small file {create_file_ms(Path(folder)):.2f} ms"
        )
        for files in (int(size) for size in args.sizes.split(",")):
            root = Path(folder) / str(files)
            repo = make_repo(root, files)
            start = time.perf_counter()
            ours = adapter_attempt(repo, root / "state")
            first = (time.perf_counter() - start) * 1000
            new = measure(ours, args.tasks)
            old = measure(git_cli_attempt(repo, root / "cli"), args.tasks)
            print(
                f"{files:>6} files ({first:.0f} ms for the first checkpoint, {stat_walk_ms(repo):.1f} ms to lstat "
                f"every file from Python):\n  {new.line('in-process  ')}\n  {old.line('git commands')}\n"
                f"  in-process is {old.median / new.median:.1f}x faster (CPU {old.cpu / new.cpu:.1f}x)"
            )


if __name__ == "__main__":
    main()
