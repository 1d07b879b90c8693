"""Speed at scale: `orch run` of 100 / 1,000 / 10,000 serial tasks with a near-instant agent.

The agent is a tiny shell command that writes a nanosecond timestamp when it starts and
another when it ends, so what orch costs per task is read from the agent's own clock:
the gap between one agent's end and the next one's start (spawn, sandbox, guards,
checkpoints, store, decision: everything orch does between two agents). Prints, per
size: run wall, that gap (median and p90), peak RSS of the orch process, `orch status`
and `orch report` wall on the finished session; then how the per-task cost at the
largest size compares with the smallest (issue 9's target: within 20 %). Asserts nothing.

Usage: python bench/bench_scale.py [--sizes 100,1000,10000] [--guards on|off]
(the default config, guards and checkpoints on; 10,000 tasks take a while).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

ORCH = str(Path(sys.executable).with_name("orch"))
RUNS_OF_READS = 5  # status / report are timed this many times each, median kept
GAP_TARGET_MS = 3.0  # issue 9: orch's work per task, guards on
STATUS_TARGET_MS = 100.0  # issue 9: `orch status` at 1,000 tasks


@attrs.frozen
class SizeResult:
    tasks: int
    wall_s: float
    gaps_ms: list[float]
    agent_ms: list[float]
    peak_rss_mb: float
    status_ms: float
    report_ms: float

    @property
    def median_gap_ms(self) -> float:
        return statistics.median(self.gaps_ms)

    @property
    def p90_gap_ms(self) -> float:
        return statistics.quantiles(self.gaps_ms, n=10)[-1] if len(self.gaps_ms) >= 2 else self.gaps_ms[0]

    @property
    def drift(self) -> float:
        """Median gap of the last tenth of the run over that of the first: > 1 means a step
        costs more as the session grows (whole-plan work), whatever the machine's load."""
        tenth = max(len(self.gaps_ms) // 10, 1)
        return statistics.median(self.gaps_ms[-tenth:]) / statistics.median(self.gaps_ms[:tenth])


def task_file(n: int) -> str:
    """``n`` tasks; two in three depend on the one before (as bench_cli.py's plan)."""
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        dep = f"**Depends On:** {i - 1}\n" if i > 1 and i % 3 else ""
        parts.append(
            f"## Task {i}: task number {i}\n**Type:** backend\n{dep}**Claude Instruction:**\ndo {i}\n\n---\n"
        )
    return "\n".join(parts)


def config(stamps: Path, state: Path, guards: bool) -> str:
    """The default config but for the agent (a timestamping `sh`) and where state goes."""
    date = shutil.which("date") or "/bin/date"
    script = f"{date} +%s%N >> {stamps}; {date} +%s%N >> {stamps}"
    return (
        f"agent:\n  command: [/bin/sh, -c, '{script}']\n  timeout_s: 60\n"
        f"paths:\n  state_dir: {state}\n"
        f"safety:\n  enabled: {'true' if guards else 'false'}\n  writable_outside: [{stamps.parent}]\n"
    )


def run_orch(root: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `orch run` to its end."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [ORCH, "run", "tasks.md", "--auto-approve", "--new"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"orch run failed ({child.returncode}): {errors.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux reports kilobytes


def read_wall(argv: list[str], root: Path) -> float:
    """Median wall milliseconds of a read-only command on the finished session."""
    times = []
    for _ in range(RUNS_OF_READS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def one_size(n: int, guards: bool) -> SizeResult:
    root = Path(tempfile.mkdtemp(prefix="orch-scale-"))
    outside = Path(tempfile.mkdtemp(prefix="orch-scale-out-"))  # neither workspace nor state
    try:
        stamps = outside / "stamps" / "agent.ns"
        stamps.parent.mkdir()
        state = outside / "state"
        subprocess.run(["git", "init", "-q", str(root)], check=True)  # a user's repository, as orch expects
        (root / "orch.yaml").write_text(config(stamps, state, guards))
        (root / "tasks.md").write_text(task_file(n))
        wall, rss = run_orch(root)
        marks = [int(line) for line in stamps.read_text().split()]
        if len(marks) != 2 * n:
            raise SystemExit(f"{n} tasks: expected {2 * n} agent timestamps, found {len(marks)}")
        starts, ends = marks[0::2], marks[1::2]
        gaps = [(starts[i + 1] - ends[i]) / 1e6 for i in range(n - 1)]
        agent = [(e - s) / 1e6 for s, e in zip(starts, ends, strict=True)]
        status_ms = read_wall([ORCH, "status"], root)
        report_ms = read_wall([ORCH, "report"], root)
        return SizeResult(n, wall, gaps, agent, rss, status_ms, report_ms)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated task counts")
    parser.add_argument("--guards", choices=["on", "off"], default="on", help="safety.enabled (default: on)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    guards = args.guards == "on"
    print(f"orch run, N serial tasks of a timestamping `sh` agent, guards {args.guards}, default config")
    print(
        f"  {'tasks':>6} {'wall':>9} {'wall/task':>10} {'gap p50':>9} {'gap p90':>9}"
        f" {'drift':>6} {'agent p50':>10} {'peak RSS':>9} {'status':>9} {'report':>9}"
    )
    results = []
    for n in sizes:
        r = one_size(n, guards)
        results.append(r)
        print(
            f"  {n:>6} {r.wall_s:>8.2f}s {r.wall_s / n * 1000:>8.2f}ms {r.median_gap_ms:>7.2f}ms"
            f" {r.p90_gap_ms:>7.2f}ms {r.drift:>5.2f}x {statistics.median(r.agent_ms):>8.2f}ms {r.peak_rss_mb:>7.1f}MB"
            f" {r.status_ms:>7.1f}ms {r.report_ms:>7.1f}ms",
            flush=True,
        )
    print("  gap: one agent's end to the next one's start, on the agent's own clock (all of orch's work)")
    print(
        "  drift: median gap of the run's last tenth over its first (1.00x: a step's cost ignores the plan)"
    )
    for r in results:
        status = (
            f"; status {r.status_ms:.1f} ms (target <= {STATUS_TARGET_MS:.0f} ms at 1,000 tasks:"
            f" {STATUS_TARGET_MS / r.status_ms:.2f}x)"
            if r.tasks == 1000
            else ""
        )
        print(
            f"  {r.tasks:>6} tasks: gap p50 {r.median_gap_ms:.2f} ms (target <= {GAP_TARGET_MS:.0f} ms:"
            f" {GAP_TARGET_MS / r.median_gap_ms:.2f}x, >= 1 meets it){status}"
        )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratio = large.median_gap_ms / small.median_gap_ms
        print(
            f"  per-task cost at {large.tasks:,} vs {small.tasks:,} tasks: {ratio:.2f}x"
            f" (target: within 20 %, i.e. <= 1.20x; {'met' if ratio <= 1.2 else 'missed'})"
        )


if __name__ == "__main__":
    main()
