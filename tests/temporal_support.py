"""The Temporal dev server and a project (task file, agent, config) for the Temporal runner's tests
and for recording the workflow histories the replay test checks (``python -m tests.temporal_support``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support import wait_until

ORCH = str(Path(sys.executable).with_name("orch"))
TEMPORAL = shutil.which("temporal") or str(Path(sys.executable).with_name("temporal"))
QUERY_EVERY_S = 0.2
SECRET = "temporal-test-secret"  # noqa: S105 - a test secret

TASKS = """# Tasks - 2026-12-02

## Task 1: Schema
**Priority:** high
**Claude Instruction:**
one
---
## Task 2: Model
**Depends On:** 1
**Claude Instruction:**
two
---
## Task 3: Migration
**Depends On:** 2
**Requires Approval:** yes
**Claude Instruction:**
three
---
## Task 4: Endpoint
**Depends On:** 3
**Claude Instruction:**
four
---
## Task 5: Docs
**Depends On:** 4
**Claude Instruction:**
five
"""

# Records every run; hangs on the attempt named by the file `hang` ("TASK ATTEMPT"), after saying so.
AGENT = """
import os, sys, time, pathlib
sys.stdin.read()
task, attempt = os.environ["ORCH_TASK_ID"], os.environ["ORCH_ATTEMPT"]
with open("runs.log", "a") as f:
    f.write(f"{task} {attempt}\\n")
hang = pathlib.Path("hang")
if hang.exists() and hang.read_text().split() == [task, attempt]:
    pathlib.Path("hanging").write_text(os.environ["ORCHCORE_AGENT_RUN"])
    time.sleep(120)
print("done", task)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DevServer:
    """`temporal server start-dev` on loopback with its state in one SQLite file."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(TEMPORAL, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port)),
                *("--headless", "--db-filename", str(self.db), "--log-level", "error"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.healthy, f"the Temporal dev server on {self.address}", timeout=20)

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"the dev server exited with {self.proc.returncode}")
        try:  # a port that takes connections first: the health check is a process start
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            return False
        done = subprocess.run(
            [TEMPORAL, "operator", "cluster", "health", "--address", self.address],
            capture_output=True,
            text=True,
            check=False,
        )
        return "SERVING" in done.stdout

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Project:
    """A task file, a shell agent and a config next to them; `orch` and `orch worker` run here."""

    def __init__(self, root: Path, server: DevServer) -> None:
        self.root = root
        self.server = server
        (root / "tasks.md").write_text(TASKS)
        (root / "agent.py").write_text(AGENT)
        (root / "orch.yaml").write_text(
            f"agent:\n  command: [{sys.executable}, agent.py]\n  timeout_s: 60\n"
            f"temporal:\n  address: {server.address}\n  heartbeat_timeout_s: 5\n"
        )
        self.env = {**os.environ, "ORCH_STATE_DIR": str(root / "state"), "PYTHONUNBUFFERED": "1"}
        self.workers: list[subprocess.Popen[str]] = []

    def orch(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ORCH, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def worker(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [ORCH, "worker"],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.workers.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "worker polling task queue orch" in line, line
        return proc

    def start(self) -> str:
        done = self.orch("run", "tasks.md", "--backend", "temporal", "--detach")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "backend: temporal at " + self.server.address in done.stdout
        return done.stdout.split()[1].rstrip(":")

    def status(self, sid: str) -> dict[str, Any]:
        done = self.orch("status", "-s", sid, "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def state(self, sid: str) -> str:
        """The session's state, asked of its workflow directly (a query: faster than `orch status`)."""
        from adapters.temporal.runner import TemporalSessions

        sessions = TemporalSessions(self.server.address)
        try:
            return sessions.snapshot(sid).session.state.value
        finally:
            sessions.close()

    def wait_state(self, sid: str, state: str, timeout: float = 40.0) -> None:
        """Poll the workflow (5 queries a second: each one costs a worker a workflow task) until
        the session is in ``state``, or fail saying where it stands."""
        deadline = time.monotonic() + timeout
        seen = self._state_or_why(sid)
        while seen != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"session {sid} is {seen}, not {state}, after {timeout:.0f} s")
            time.sleep(QUERY_EVERY_S)
            seen = self._state_or_why(sid)

    def _state_or_why(self, sid: str) -> str:
        from orchcore.errors import OrchError

        try:
            return self.state(sid)
        except OrchError as exc:  # the server restarting, no worker yet: keep asking
            return f"unknown ({exc})"

    def runs(self) -> list[tuple[str, str]]:
        path = self.root / "runs.log"
        return [tuple(line.split()) for line in path.read_text().splitlines()] if path.exists() else []  # type: ignore[misc]

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def history_json(address: str, sid: str) -> str:
    """The workflow history of session ``sid`` as Temporal's JSON (what the Replayer reads)."""
    import asyncio

    from temporalio.client import Client

    async def go() -> str:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(f"orch-session-{sid}").fetch_history()
        return history.to_json()

    return asyncio.run(go())


def record(out: Path, root: Path) -> None:
    """Run the 5-task session with its approval, a pause and a resume on one worker; write its history."""
    root.mkdir(parents=True, exist_ok=True)
    server = DevServer(root / "temporal.db")
    server.start()
    (root / "project").mkdir(exist_ok=True)
    project = Project(root / "project", server)
    try:
        project.worker()
        sid = project.start()
        project.wait_state(sid, "waiting_approval", timeout=60)
        for command in ("pause", "resume", "approve"):
            done = project.orch(command, "-s", sid)
            assert done.returncode == 0, done.stderr
        project.wait_state(sid, "completed", timeout=60)
        out.write_text(history_json(server.address, sid))
    finally:
        project.close()
        server.stop()


def running_worker(address: str, sid: str) -> int:
    """The pid of the worker running the session's attempt now (its identity is pid@host)."""
    import asyncio

    from temporalio.client import Client

    async def go() -> str:
        client = await Client.connect(address)
        described = await client.get_workflow_handle(f"orch-session-{sid}").describe()
        return str(described.raw_description.pending_activities[0].last_worker_identity)

    return int(asyncio.run(go()).split("@")[0])


def record_lost_worker(out: Path, root: Path) -> None:
    """Two workers; the one running task 2 is killed (-9); the other runs it again; approve; done."""
    root.mkdir(parents=True, exist_ok=True)
    server = DevServer(root / "temporal.db")
    server.start()
    (root / "project").mkdir(exist_ok=True)
    project = Project(root / "project", server)
    try:
        (project.root / "hang").write_text("2 1")
        project.worker()
        project.worker()
        sid = project.start()
        wait_until(lambda: (project.root / "hanging").exists(), "task 2's first attempt", timeout=60)
        os.kill(running_worker(server.address, sid), signal.SIGKILL)
        project.wait_state(sid, "waiting_approval", timeout=60)
        done = project.orch("approve", "-s", sid)
        assert done.returncode == 0, done.stderr
        project.wait_state(sid, "completed", timeout=60)
        out.write_text(history_json(server.address, sid))
    finally:
        project.close()
        server.stop()


if __name__ == "__main__":
    import tempfile

    folder = Path(__file__).parent / "data" / "temporal"
    folder.mkdir(parents=True, exist_ok=True)
    for name, scenario in (("approval-pause-resume", record), ("lost-worker", record_lost_worker)):
        target = folder / f"{name}.json"
        scenario(target, Path(tempfile.mkdtemp(dir="/var/tmp", prefix="orch-temporal-record-")))
        print(f"wrote {target} ({target.stat().st_size:,} bytes)")


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries the run marker ``marker`` (any PID namespace)."""
    needle = f"ORCHCORE_AGENT_RUN={marker}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
            state = (environ.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in entries and state != "Z":
            found.append(int(environ.parent.name))
    return found
