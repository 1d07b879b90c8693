"""Sessions per second and per-task overhead: the SQLite backend (one `orch run` engine, in
process) beside the Temporal backend with 1, 2 and 4 `orch worker` processes on a local dev
server, all with the same trivial agent (a shell that reads its prompt and says done) and the
same assembled runtime (checkpoints, guards, sandbox as configured), so the difference is the
backend. Prints numbers; asserts nothing.

Usage: python bench/bench_temporal.py [SESSIONS [TASKS [WORKERS ...]]]   (default 16 3 1 2 4)
Needs the `temporal` extra (the SDK and the dev server binary).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORCH = str(Path(sys.executable).with_name("orch"))
TEMPORAL = shutil.which("temporal") or str(Path(sys.executable).with_name("temporal"))
AGENT = "import sys; sys.stdin.read(); print('done')\n"


def task_file(tasks: int) -> str:
    parts = [f"## Task {i}: step {i}\n**Claude Instruction:**\nstep {i}\n" for i in range(1, tasks + 1)]
    return "# Tasks - bench\n\n" + "---\n".join(parts)


def project(root: Path, tasks: int, address: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "agent.py").write_text(AGENT)
    (root / "tasks.md").write_text(task_file(tasks))
    temporal = f"temporal:\n  address: {address}\n" if address else ""
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [{sys.executable}, agent.py]\n  timeout_s: 60\n"
        f"approval:\n  mode: auto\npaths:\n  state_dir: state\n{temporal}"
    )
    return root


def agent_alone(root: Path, runs: int = 10) -> float:
    """What the agent itself costs per run (a process start, read, print), in seconds."""
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run(
            [sys.executable, "agent.py"], cwd=root, input=b"prompt", capture_output=True, check=True
        )
    return (time.perf_counter() - start) / runs


def sqlite_backend(root: Path, sessions: int) -> tuple[float, float]:
    """Sessions one after another on the local engine: (sessions/s, mean seconds per session)."""
    from apps.bootstrap import build_runtime
    from apps.settings import load_settings
    from apps.taskfile_reader import read_plan
    from orchcore.service import start_session

    rt = build_runtime(load_settings(str(root / "orch.yaml")))
    plan = read_plan(str(root / "tasks.md"))
    agent = rt.agents(rt.settings.agent.name)
    durations = []
    start = time.perf_counter()
    for _ in range(sessions):
        began = time.perf_counter()
        snap = start_session(rt.store, plan, rt.ids, rt.clock, agent=rt.settings.agent.name, new=True)
        outcome = rt.engine(agent, lambda _: None).run(snap.session.id)
        assert outcome.session.state.value == "completed", outcome.session
        durations.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    rt.close()
    return sessions / elapsed, statistics.mean(durations)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def temporal_backend(root: Path, sessions: int, tasks: int, workers: int) -> tuple[float, float]:
    """All sessions started at once on ``workers`` worker processes: (sessions/s, s per session)."""
    root.mkdir(parents=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *(TEMPORAL, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"),
            *("--db-filename", str(root / "temporal.db"), "--log-level", "error"),
            *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        health = [TEMPORAL, "operator", "cluster", "health", "--address", address]
        deadline = time.monotonic() + 30
        while "SERVING" not in subprocess.run(health, capture_output=True, text=True, check=False).stdout:
            if time.monotonic() > deadline:
                raise SystemExit("the Temporal dev server did not start")
            time.sleep(0.1)
        here = project(root / "project", tasks, address)
        for n in range(workers):  # each worker its own checkout, as on its own machine
            proc = subprocess.Popen(
                [sys.executable, "-u", ORCH, "worker"],
                cwd=project(root / f"worker-{n}", tasks, address),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            assert "worker polling" in proc.stdout.readline()
            procs.append(proc)
        return asyncio.run(_run_sessions(here, address, sessions))
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
        server.kill()
        server.wait()


async def _run_sessions(here: Path, address: str, sessions: int) -> tuple[float, float]:
    from temporalio.client import Client

    from apps.bootstrap import scratch_store, temporal_session_config
    from apps.settings import load_settings
    from apps.taskfile_reader import read_plan
    from orchcore.notify import Routing
    from orchcore.service import create_session
    from orchcore.testing import SequentialIds

    settings = load_settings(str(here / "orch.yaml"))
    plan = read_plan(str(here / "tasks.md"))
    config = temporal_session_config(settings, Routing())
    client = await Client.connect(address)
    from adapters.system.clock import SystemClock
    from adapters.temporal.codec import SessionStart, dump
    from adapters.temporal.session_workflow import SessionWorkflow, workflow_id

    starts = []
    ids = SequentialIds()
    for _ in range(sessions):
        store = scratch_store()
        snap = create_session(store, plan, ids, SystemClock(), agent=settings.agent.name)
        events = tuple(store.events(snap.session.id))
        starts.append(SessionStart(snap.session, snap.plan, tuple(snap.runs.values()), events, config))
    begun = time.perf_counter()
    handles = [
        await client.start_workflow(
            SessionWorkflow.run, dump(s), id=workflow_id(s.session.id), task_queue="orch"
        )
        for s in starts
    ]
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=600)
    elapsed = time.perf_counter() - begun
    assert all(r["session"]["state"] == "completed" for r in results)
    durations = []
    for h in handles:
        d = await h.describe()
        assert d.start_time is not None
        assert d.close_time is not None
        durations.append((d.close_time - d.start_time).total_seconds())
    return sessions / elapsed, statistics.mean(durations)


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    sessions = args[0] if args else 16
    tasks = args[1] if len(args) > 1 else 3
    worker_counts = args[2:] or [1, 2, 4]
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="orch-bench-temporal-") as tmp:
        root = project(Path(tmp) / "sqlite", tasks)
        agent_s = agent_alone(root)
        print(f"{sessions} sessions x {tasks} tasks, trivial agent {agent_s * 1000:.0f} ms per run alone")
        print(
            f"{'backend':<22} {'sessions/s':>10} {'s/session':>10} {'worker-ms/task':>15}"
            f" {'overhead ms/task':>17} {'scaling':>8}"
        )
        total = sessions * tasks

        def row(label: str, rate: float, per_session: float, workers: int, scaling: str) -> None:
            # what a task costs a worker: its busy time (wall x workers) per task; less the agent: overhead
            busy = sessions / rate * workers / total
            print(
                f"{label:<22} {rate:>10.2f} {per_session:>10.2f} {busy * 1000:>15.0f}"
                f" {(busy - agent_s) * 1000:>17.0f} {scaling:>8}"
            )

        rate, per_session = sqlite_backend(root, sessions)
        row("sqlite (1 engine)", rate, per_session, 1, "")
        base: float | None = None
        for workers in worker_counts:
            rate, per_session = temporal_backend(Path(tmp) / f"temporal-{workers}", sessions, tasks, workers)
            base = base or rate
            row(
                f"temporal ({workers} worker{'s' if workers > 1 else ''})",
                rate,
                per_session,
                workers,
                f"{rate / base:.2f}x",
            )
        print(
            f"({os.cpu_count()} cores; all sessions start at once; s/session: start to end, queueing"
            " included; scaling: sessions/s against 1 worker)"
        )


if __name__ == "__main__":
    main()
