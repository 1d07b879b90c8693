"""CLI speed: cold `orch --help`, `orch status` on a 100-task session, and orch's overhead per task
measured from outside: from one agent's exit to the next agent's start.

The agent is a tiny program that appends its own start and end times to a file (a C program when
a C compiler is there, else bash and ``$EPOCHREALTIME``), so everything orch does between two
agents counts: deciding, storing, guards, refs, checkpoints, the sandbox, spawning. The workspace
is a real git repository, as in a user's project. Four set-ups say where the time goes: the
defaults (safety guards on, sandbox auto), sandbox off, safety off, both off; and the floor is the
same agent spawned back to back by a bare Python loop.

Prints medians, p90s and ratios to the targets; asserts nothing (the figures are noisy on a shared
machine: compare ratios taken in the same minute).
Usage: python bench/bench_cli.py [--tasks 100] [--runs 5] [--only overhead] [--profile]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ORCH = str(Path(sys.executable).with_name("orch"))
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
STAMP_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static void stamp(int fd, const char *what) {
    struct timespec t; char line[64];
    clock_gettime(CLOCK_REALTIME, &t);
    int n = snprintf(line, sizeof line, "%s %ld.%09ld\n", what, (long)t.tv_sec, t.tv_nsec);
    if (write(fd, line, (size_t)n) != n) _exit(3);
}
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return 2;
    stamp(fd, "start");
    stamp(fd, "end");
    return 0;
}
"""
SETUPS = {  # name: (safety enabled, sandbox mode)
    "defaults (guards on, sandbox auto)": (True, "auto"),
    "sandbox off": (True, "off"),
    "safety off": (False, "auto"),
    "safety off, sandbox off": (False, "off"),
}
DEFAULTS = SETUPS["defaults (guards on, sandbox auto)"]


def wall(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def task_file(n: int) -> str:
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        dep = f"**Depends On:** {i - 1}\n" if i > 1 and i % 3 else ""
        parts.append(
            f"## Task {i}: task number {i}\n**Type:** backend\n{dep}**Claude Instruction:**\ndo {i}\n\n---\n"
        )
    return "\n".join(parts)


def stamp_agent(folder: Path) -> list[str]:
    """The agent's argv before the stamps file: a compiled C program, else bash."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is not None:
        source, binary = folder / "stamp.c", folder / "stamp"
        source.write_text(STAMP_C)
        if subprocess.run([cc, "-O2", "-o", str(binary), str(source)], check=False).returncode == 0:
            return [str(binary)]
    bash = shutil.which("bash") or "/bin/bash"
    script = 'echo "start $EPOCHREALTIME" >> "$1"; echo "end $EPOCHREALTIME" >> "$1"'
    return [bash, "-c", script, "stamp"]


def gaps(stamps: Path) -> list[float]:
    """Seconds from each agent's end to the next agent's start, in the order they ran."""
    starts, ends = [], []
    for line in stamps.read_text().splitlines():
        what, _, at = line.partition(" ")
        (starts if what == "start" else ends).append(float(at))
    return [start - end for end, start in zip(ends, starts[1:], strict=False)]


def repository(folder: Path) -> None:
    """A small real project: a few files, two commits, a branch, an annotated tag, packed refs."""
    (folder / "src").mkdir(parents=True)
    for i in range(20):
        (folder / "src" / f"module_{i}.py").write_text(f"VALUE = {i}\n" * 50)
    (folder / ".gitignore").write_text("*.log\n")
    for argv in (
        [*GIT, "init", "-q", "-b", "main"],
        [*GIT, "add", "-A"],
        [*GIT, "commit", "-q", "-m", "first"],
        [*GIT, "tag", "-a", "-m", "one", "v1"],
        [*GIT, "pack-refs", "--all"],
        [*GIT, "branch", "feature"],
        [*GIT, "commit", "-q", "--allow-empty", "-m", "second"],
    ):
        subprocess.run(argv, cwd=folder, check=True, stdout=subprocess.DEVNULL)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Bench:
    """One scratch area: a git workspace, orch's state and config outside it, the stamp agent."""

    def __init__(self, root: Path, tasks: int) -> None:
        self.root, self.tasks = root, tasks
        self.workspace = root / "project"
        self.out = root / "out"  # where the agent writes its stamps (writable in the sandbox too)
        self.out.mkdir()
        repository(self.workspace)
        self.agent = stamp_agent(self.out)
        (root / "tasks.md").write_text(task_file(tasks))

    def config(self, setup: tuple[bool, str], state: Path, stamps: Path) -> Path:
        safety, sandbox = setup
        settings = {
            "agent": {"command": [*self.agent, str(stamps)], "timeout_s": 30},
            "paths": {"state_dir": str(state), "workdir": str(self.workspace)},
            "safety": {"enabled": safety, "writable_outside": [str(self.out)]},
            "sandbox": {"mode": sandbox},
        }
        path = self.root / "orch.yaml"  # outside the workspace, where agents cannot reach it
        path.write_text(json.dumps(settings, indent=1))  # JSON is YAML
        return path

    def run(
        self, setup: tuple[bool, str], index: int, wrapper: Sequence[str] = (), keep: bool = False
    ) -> tuple[list[float], float, float]:
        """One `orch run` of every task: the gaps between agents, its wall time and CPU time (orch and
        every process it started: on a busy machine CPU time says more than wall time)."""
        state = self.root / f"state-{index}"
        stamps = self.out / f"stamps-{index}.txt"
        config = str(self.config(setup, state, stamps))
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [*wrapper, ORCH, "run", str(self.root / "tasks.md"), "-c", config, "--auto-approve", "--new"],
            cwd=self.workspace,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        took = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        status = json.loads(
            subprocess.run(
                [ORCH, "status", "-c", config, "--json"], cwd=self.workspace, check=True, capture_output=True
            ).stdout
        )
        assert status["session"]["state"] == "completed", status["session"]
        found = gaps(stamps)
        assert len(found) == self.tasks - 1, f"{len(found)} gaps for {self.tasks} tasks"
        if not keep:
            shutil.rmtree(state, ignore_errors=True)
        return found, took, cpu_s

    def floor(self) -> list[float]:
        """The same agent spawned back to back by a bare Python loop: what no orchestrator can beat."""
        stamps = self.out / "stamps-bare.txt"
        for _ in range(self.tasks):
            subprocess.run([*self.agent, str(stamps)], check=True, cwd=self.workspace)
        return gaps(stamps)


def overhead(bench: Bench, runs: int) -> None:
    floor = bench.floor()
    floor_ms = statistics.median(floor) * 1000
    print(f"per-task overhead, agent exit -> next agent start, {bench.tasks} tasks x {runs} runs")
    print(f"  agent: {bench.agent[0]}; workspace: a git repository")
    print(f"  {'':36s} {'median':>8s} {'p90':>8s} {'-floor':>8s} {'wall':>8s} {'CPU':>8s}  (ms per task)")
    print(f"  {'bare loop (the spawn floor)':36s} {floor_ms:8.2f} {percentile(floor, 0.9) * 1000:8.2f}")
    index = 0
    results = {}
    for name, setup in SETUPS.items():
        found: list[float] = []
        walls, cpus = [], []
        for _ in range(runs):
            index += 1
            run_gaps, took, cpu_s = bench.run(setup, index)
            found += run_gaps
            walls.append(took / bench.tasks)
            cpus.append(cpu_s / bench.tasks)
        median = statistics.median(found) * 1000
        results[name] = median
        print(
            f"  {name:36s} {median:8.2f} {percentile(found, 0.9) * 1000:8.2f} {median - floor_ms:8.2f}"
            f" {statistics.median(walls) * 1000:8.2f} {statistics.median(cpus) * 1000:8.2f}"
            f"  target <= 3 ms: {3 / median:.2f}x"
        )
    base = results["safety off, sandbox off"]
    for name in ("defaults (guards on, sandbox auto)", "sandbox off", "safety off"):
        print(f"  ... {name} costs {results[name] - base:+6.2f} ms per task over safety off, sandbox off")
    print("  (CPU: orch and every process it started, per task; checkpoints are on in every set-up)")


def profile(bench: Bench) -> None:
    """One run with the defaults under cProfile (top of orch's own code), and its spawns under strace."""
    prof = bench.root / "run.prof"
    bench.run(DEFAULTS, 900, wrapper=[sys.executable, "-m", "cProfile", "-o", str(prof)])
    import pstats  # only here: the figures above do not need it

    print(f"cProfile of one run with the defaults ({bench.tasks} tasks), by cumulative time, orch's code:")
    stats = pstats.Stats(str(prof))
    stats.sort_stats("cumulative").print_stats(r"/(orchcore|adapters)/", 25)
    strace = shutil.which("strace")
    if strace is None:
        print("spawns per task: strace is not installed (apt-get install strace), not counted")
        return
    trace = bench.root / "strace.txt"
    bench.run(DEFAULTS, 901, wrapper=[strace, "-f", "-qq", "-e", "trace=execve", "-o", str(trace)])
    programs: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        if "execve(" in line and "= 0" in line:
            program = line.split('execve("', 1)[1].split('"', 1)[0]
            programs[program] = programs.get(program, 0) + 1
    print(f"programs started per task (strace -f -e trace=execve, {bench.tasks} tasks):")
    for program, count in sorted(programs.items(), key=lambda item: -item[1]):
        print(f"  {count / bench.tasks:6.2f}  {program}")


def commands(root: Path, runs: int) -> None:
    """Cold `orch --help` and `orch status` on the session of the last run."""
    config = str(root / "orch.yaml")
    wall([ORCH, "--help"], root)  # warm the OS file cache once
    helps = [wall([ORCH, "--help"], root) for _ in range(runs)]
    statuses = [wall([ORCH, "status", "-c", config], root) for _ in range(runs)]
    statuses_json = [wall([ORCH, "status", "-c", config, "--json"], root) for _ in range(runs)]
    help_ms = statistics.median(helps) * 1000
    status_ms = statistics.median(statuses) * 1000
    print(f"commands, medians of {runs}")
    print(f"  cold `orch --help`:               {help_ms:7.1f} ms  (target <= 50 ms: {50 / help_ms:.2f}x)")
    print(
        f"  `orch status`:                    {status_ms:7.1f} ms  (target <= 100 ms: {100 / status_ms:.2f}x)"
    )
    print(f"  `orch status --json`:             {statistics.median(statuses_json) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["overhead", "commands"], default=None)
    parser.add_argument("--profile", action="store_true", help="also cProfile and strace one run")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    try:
        bench = Bench(root, args.tasks)
        if args.only != "commands":
            overhead(bench, args.runs)
        if args.profile:
            profile(bench)
        if args.only != "overhead":
            bench.run(DEFAULTS, 0, keep=True)  # a session for status to show
            commands(root, args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
