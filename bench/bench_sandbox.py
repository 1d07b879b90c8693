"""What the OS sandbox adds to a task: the command agent running `true`, started under
bubblewrap (the default policy: HOME's secrets, orch's state dir and .env hidden) versus
started without it (setpriv --pdeathsig). Small and 10k-file workspaces; runs interleaved.

Prints medians and the ratio; asserts nothing. Usage: python bench/bench_sandbox.py [TASKS]
Target: at most 20 ms added per task.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from adapters.command.agent import CommandAgent
from adapters.sandbox import probe_bwrap
from orchcore.ports.agent import AgentEvent, AgentRequest
from orchcore.sandbox import SandboxPolicy, agent_sandbox

TASKS = 100


def ignore(_: AgentEvent) -> None:
    return None


def workspace(root: Path, files: int) -> Path:
    work = root / f"work-{files}"
    for i in range(files):
        folder = work / f"pkg{i // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text("x = 1\n")
    work.mkdir(exist_ok=True)
    (work / ".env").write_text("SECRET=1\n")
    return work


def one_task(agent: CommandAgent, work: Path, state: Path, n: int, sandbox: SandboxPolicy | None) -> float:
    request = AgentRequest(
        "bench", str(n), 1, "p", str(work), str(state / "logs" / f"{n}.log"), 60.0, sandbox=sandbox
    )
    started = time.perf_counter()
    result = agent.run(request, ignore)
    took = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"the agent failed: {result.reason}")
    return took


def measure(root: Path, files: int, tasks: int) -> tuple[float, float]:
    work = workspace(root, files)
    state = work / ".orch"
    home = root / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    policy = agent_sandbox(
        workdir=str(work), home=str(home), orch_paths=[str(state), str(work / ".env")], guard_dir=None
    )
    agent = CommandAgent(["true"], base_env={"PATH": "/usr/bin:/bin", "HOME": str(home)})
    one_task(agent, work, state, 0, policy)  # warm the page cache
    plain, boxed = [], []
    for n in range(tasks):
        plain.append(one_task(agent, work, state, n, None))
        boxed.append(one_task(agent, work, state, n, policy))
    return statistics.median(plain), statistics.median(boxed)


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else TASKS
    found, why = probe_bwrap()
    if found is None:
        raise SystemExit(f"no sandbox here: {why}")
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-", dir="/var/tmp"))
    try:
        print(f"sandbox overhead per task ({tasks} tasks of agent `true`, medians)")
        for files in (10, 10_000):
            plain, boxed = measure(root, files, tasks)
            added = (boxed - plain) * 1000
            print(
                f"  {files:>6} files: without {plain * 1000:7.2f} ms, with {boxed * 1000:7.2f} ms,"
                f" added {added:6.2f} ms (x{boxed / plain:.2f}); target <= 20 ms: {'ok' if added <= 20 else 'MISSED'}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
