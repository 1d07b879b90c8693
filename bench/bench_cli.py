"""CLI speed: cold `orch --help`, `orch status` on a 100-task session, and the
orchestrator's overhead per task for 100 serial tasks whose agent is `true`.

Prints medians of several runs and ratios to the targets; asserts nothing.
Usage: python bench/bench_cli.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ORCH = str(Path(sys.executable).with_name("orch"))
TASKS = 100
RUNS = 7


def wall(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def task_file(n: int) -> str:
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        dep = f"**Depends On:** {i - 1}\n" if i > 1 and i % 3 else ""
        parts.append(
            f"## Task {i}: task number {i}\n**Type:** backend\n{dep}**Claude Instruction:**\ndo {i}\n\n---\n"
        )
    return "\n".join(parts)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    state = Path(tempfile.mkdtemp(prefix="orch-bench-state-"))  # outside the workspace, removed after
    try:
        true = shutil.which("true") or "/bin/true"
        (root / "orch.yaml").write_text(
            f"agent:\n  command: [{true}]\n  timeout_s: 30\npaths:\n  state_dir: {state}\n"
        )
        (root / "tasks.md").write_text(task_file(TASKS))

        wall([ORCH, "--help"], root)  # warm the OS file cache once
        helps = [wall([ORCH, "--help"], root) for _ in range(RUNS)]

        overheads, walls, agent_times = [], [], []
        for i in range(RUNS):
            start = time.perf_counter()
            subprocess.run(
                [ORCH, "run", "tasks.md", "--auto-approve", "--new"],
                cwd=root,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            total = time.perf_counter() - start
            status = json.loads(
                subprocess.run(
                    [ORCH, "status", "--json"], cwd=root, check=True, capture_output=True, text=True
                ).stdout
            )
            assert status["session"]["state"] == "completed", status["session"]
            events = json.loads(
                subprocess.run(
                    [ORCH, "logs", "-n", "100000", "--json"],
                    cwd=root,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            started = {
                e["task"]: datetime.fromisoformat(e["at"]) for e in events if e["kind"] == "task_started"
            }
            agents = sum(
                (datetime.fromisoformat(e["at"]) - started[e["task"]]).total_seconds()
                for e in events
                if e["kind"] == "task_finished"
            )
            walls.append(total)
            agent_times.append(agents)
            overheads.append((total - agents) / TASKS)
            del i

        # the agent's own cost: spawning `true` directly, no orchestrator
        start = time.perf_counter()
        for _ in range(TASKS):
            subprocess.run([true], check=True)
        bare_true = (time.perf_counter() - start) / TASKS

        statuses = [wall([ORCH, "status"], root) for _ in range(RUNS)]
        statuses_json = [wall([ORCH, "status", "--json"], root) for _ in range(RUNS)]

        help_ms = statistics.median(helps) * 1000
        status_ms = statistics.median(statuses) * 1000
        over_ms = statistics.median(overheads) * 1000
        wall_s = statistics.median(walls)
        agent_ms = statistics.median(agent_times) / TASKS * 1000
        print(f"medians of {RUNS} runs on {TASKS} tasks")
        print(
            f"  cold `orch --help`:                 {help_ms:7.1f} ms  (target <= 150 ms: {150 / help_ms:.2f}x)"
        )
        print(
            f"  `orch status` (100 tasks):          {status_ms:7.1f} ms  (target <= 200 ms: {200 / status_ms:.2f}x)"
        )
        print(f"  `orch status --json` (100 tasks):   {statistics.median(statuses_json) * 1000:7.1f} ms")
        print(f"  `orch run` wall, 100 x `true`:      {wall_s:7.2f} s")
        print(
            f"  agent time per task (as recorded):  {agent_ms:7.2f} ms  (spawning `true` bare: {bare_true * 1000:.2f} ms)"
        )
        print(
            f"  orchestrator overhead per task:     {over_ms:7.2f} ms  (target <= 5 ms: {5 / over_ms:.2f}x)"
        )
        print(f"  ... counting spawn as overhead too: {(wall_s / TASKS - bare_true) * 1000:7.2f} ms per task")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
