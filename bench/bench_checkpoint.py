"""Checkpoint cost per task: the snapshot before an attempt, and the whole per-attempt work
(before, after, and the comparison for discarded edits), on a small repository and on a
10k-file repository where each task changes one file.

Prints medians over 100 tasks and the ratio to the 150 ms target; asserts nothing.
Usage: python bench/bench_checkpoint.py [--tasks N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from orchcore.checkpoints import check_attempt
from orchcore.ports.checkpoints import Moment

TARGET_MS = 150.0
GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


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


def measure(root: Path, files: int, tasks: int) -> tuple[float, float, float]:
    repo = make_repo(root, files)
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(root / "state"), str(repo)))
    start = time.perf_counter()
    checkpoints.take("warm", "0", 1, Moment.BEFORE)  # the first one hashes every file
    first = time.perf_counter() - start
    takes, whole = [], []
    for n in range(1, tasks + 1):
        start = time.perf_counter()
        before = checkpoints.take("bench", str(n), 1, Moment.BEFORE)
        took = time.perf_counter() - start
        (repo / "pkg00" / "module_0.py").write_text(f"VALUE = {n}\n")  # the agent's small change
        start_after = time.perf_counter()
        check_attempt(checkpoints, before, guard=True)
        whole.append(took + time.perf_counter() - start_after)
        takes.append(took)
    return first * 1000, statistics.median(takes) * 1000, statistics.median(whole) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for files in (10, 10_000):
            first, take, whole = measure(Path(folder), files, args.tasks)
            print(
                f"{files:>6} files: first checkpoint {first:7.1f} ms; per task (median of {args.tasks}): "
                f"checkpoint {take:6.1f} ms ({take / TARGET_MS:.2f}x the {TARGET_MS:g} ms target), "
                f"before+after+check {whole:6.1f} ms"
            )


if __name__ == "__main__":
    main()
