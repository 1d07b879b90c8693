"""Command speed at 1,000 tasks: cold `orch --help`, `orch status` (text and JSON), and the
documented `orch approve` + `orch resume` path, each a fresh process as a user types it.

Prints the median and best of several runs and the ratio to the issue-9 targets (a ratio >= 1
meets it); asserts nothing. `--help` is also timed with PYTHONDONTWRITEBYTECODE=1, which is
what a user's environment may set: it is only as fast as the other if the install byte-compiled.
Usage: python bench/bench_commands.py [--tasks N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ORCH = str(Path(sys.executable).with_name("orch"))
HELP_TARGET_MS = 50.0
STATUS_TARGET_MS = 100.0


Sample = tuple[float, float]  # (wall ms, CPU ms of the child: steadier on a busy machine)


def wall_ms(argv: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Milliseconds from spawn to exit of one command, and the CPU it used; output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return wall, cpu


def serial_task_file(n: int) -> str:
    """``n`` tasks in a chain, so that without --auto-approve each waits for approval in turn."""
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        dep = f"**Depends On:** {i - 1}\n" if i > 1 else ""
        parts.append(
            f"## Task {i}: task number {i}\n**Type:** backend\n{dep}**Claude Instruction:**\ndo {i}\n\n---\n"
        )
    return "\n".join(parts)


def line(name: str, samples: list[Sample], target: float | None = None) -> None:
    """One figure: median and best wall time, median CPU, and the target over the median wall."""
    walls = [wall for wall, _ in samples]
    median = statistics.median(walls)
    cpu = statistics.median(cpu for _, cpu in samples)
    ratio = f"  (target <= {target:.0f} ms: {target / median:.2f}x)" if target else ""
    print(f"  {name:<44} median {median:7.1f} ms  best {min(walls):7.1f} ms  cpu {cpu:7.1f} ms{ratio}")


def timed(runs: int, once: Callable[[], Sample]) -> list[Sample]:
    return [once() for _ in range(runs)]


def bench_help(root: Path, runs: int, env: dict[str, str]) -> None:
    """Cold `orch --help`: first with its help cache empty each time (typer builds the text), then
    with PYTHONDONTWRITEBYTECODE=1 (as the install left the bytecode: slow if it did not
    byte-compile), then with Python free to write its caches; the last two answered by the cache."""

    def empty_cache() -> Sample:
        cache = tempfile.mkdtemp(prefix="help-cache-", dir=root)
        try:
            return wall_ms([ORCH, "--help"], root, {**env, "XDG_CACHE_HOME": cache})
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    line("cold `orch --help`, help cache empty", timed(runs, empty_cache), HELP_TARGET_MS)
    no_pyc = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    wall_ms([ORCH, "--help"], root, no_pyc)  # warm the OS file cache once
    line(
        "cold `orch --help`, PYTHONDONTWRITEBYTECODE=1",
        timed(runs, lambda: wall_ms([ORCH, "--help"], root, no_pyc)),
        HELP_TARGET_MS,
    )
    pyc = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall_ms([ORCH, "--help"], root, pyc)
    line("cold `orch --help`", timed(runs, lambda: wall_ms([ORCH, "--help"], root, pyc)), HELP_TARGET_MS)


def bench_completed_session(root: Path, tasks: int, runs: int, env: dict[str, str]) -> None:
    """`orch status` on a finished session of ``tasks`` tasks (every task has its events)."""
    orch = [ORCH, "run", "tasks.md", "--auto-approve", "--new"]
    subprocess.run(orch, cwd=root, check=True, stdout=subprocess.DEVNULL, env=env)
    for argv, name in (
        (["status"], "`orch status`"),
        (["status", "--json"], "`orch status --json`"),
        (["sessions"], "`orch sessions`"),
    ):
        target = STATUS_TARGET_MS if argv[0] == "status" else None
        line(
            f"{name}, {tasks} tasks done", timed(runs, lambda a=argv: wall_ms([ORCH, *a], root, env)), target
        )


def bench_approve_resume(root: Path, tasks: int, runs: int, env: dict[str, str]) -> None:
    """The documented human path: a task waits, `orch approve`, `orch resume` runs it (agent `true`)
    and stops at the next task's approval (approval.mode manual: every task waits)."""
    manual = {**env, "ORCH_APPROVAL_MODE": "manual"}
    subprocess.run(
        [ORCH, "run", "tasks.md", "--new"], cwd=root, check=True, stdout=subprocess.DEVNULL, env=manual
    )
    approves, resumes = [], []
    for _ in range(runs):
        approves.append(wall_ms([ORCH, "approve"], root, manual))
        resumes.append(wall_ms([ORCH, "resume"], root, manual))
    waiting = timed(runs, lambda: wall_ms([ORCH, "status"], root, manual))
    line(f"`orch status`, {tasks} tasks, one waiting", waiting, STATUS_TARGET_MS)
    line(f"`orch approve`, {tasks} tasks", approves, STATUS_TARGET_MS)
    line(f"`orch resume` (one `true` task), {tasks} tasks", resumes)
    both = [(a[0] + r[0], a[1] + r[1]) for a, r in zip(approves, resumes, strict=True)]
    line("`orch approve` + `orch resume`", both, 2 * STATUS_TARGET_MS)


def modules_imported(args: list[str], root: Path, env: dict[str, str]) -> int:
    """How many modules `orch ARGS` imports (from ``-X importtime``): the same on any machine."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", ORCH, *args],
        cwd=root,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return sum(
        1 for text in done.stderr.splitlines() if text.startswith("import time:") and "self [us]" not in text
    )


def bench_modules(root: Path, env: dict[str, str]) -> None:
    """Modules each command imports, a figure no load on the machine changes (a task waits
    for approval when this starts, so approve and resume act)."""
    manual = {**env, "ORCH_APPROVAL_MODE": "manual"}
    print("  modules imported:")
    for args in (["--help"], ["status"], ["sessions"], ["approve"], ["resume"]):
        print(f"    `orch {' '.join(args)}`: {modules_imported(args, root, manual)}")


def byte_compile() -> None:
    """Write the bytecode of orch's own packages first: a checkout used with
    PYTHONDONTWRITEBYTECODE=1 (as here) has none, and every command would compile ~200
    modules again, which is not what an installed orch does."""
    import compileall
    import importlib.util

    for package in ("apps", "orchcore", "adapters"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    byte_compile()
    root = Path(tempfile.mkdtemp(prefix="orch-bench-commands-"))
    state = Path(tempfile.mkdtemp(prefix="orch-bench-commands-state-"))  # outside the workspace
    try:
        true = shutil.which("true") or "/bin/true"
        config = state / "orch.yaml"  # outside the workspace, as orch advises
        config.write_text(
            f"agent:\n  command: [{true}]\n  timeout_s: 30\npaths:\n  state_dir: {state}\n  workdir: {root}\n"
        )
        (root / "tasks.md").write_text(serial_task_file(args.tasks))
        env = {**os.environ, "ORCH_CONFIG": str(config)}  # noqa: TID251 - the children inherit it
        env["XDG_CACHE_HOME"] = str(state / "cache")  # the help cache: not the user's
        print(f"{args.runs} runs each; {args.tasks} tasks; agent `true`")
        bench_help(root, args.runs, env)
        bench_completed_session(root, args.tasks, args.runs, env)
        bench_approve_resume(root, args.tasks, args.runs, env)
        bench_modules(root, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
