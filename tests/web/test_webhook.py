"""The webhook server, driven over real HTTP on 127.0.0.1 (uvicorn in a thread, httpx client).

The runtime is in memory (as in tests/apps/test_cli.py), except in the tests
of `prepare`, which wire the real adapters (SQLite, file logs) from settings.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import typer
from starlette.applications import Starlette
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import BAD_INPUT
from apps.cli.serve import serve_command
from apps.secrets import Secret, parse_dotenv, webhook_secret
from apps.settings import AgentSettings, PathSettings, Settings
from apps.web import schema
from apps.web.app import create_app
from apps.web.server import Prepared, SessionWorker, check_exposure, prepare, uvicorn_server
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.records import Mutation
from orchcore.state import SessionState, TaskState
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds
from tests.support import wait_until

Headers = Mapping[str, str] | Mapping[bytes, bytes]

SECRET = "s3cret-Öl-42"  # noqa: S105 - a test secret; not ASCII, as headers carry bytes
HEADERS: Headers = {b"X-Orch-Secret": SECRET.encode()}
DEADLINE_S = 10.0

TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Type:** database
**Requires Approval:** true
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Depends On:** 1
**Claude Instruction:**
serve it
"""

SIMPLE = """# Tasks

## Task 1: Only
**Claude Instruction:**
do it
"""


class LiveServer:
    """uvicorn serving ``app`` on an ephemeral loopback port, in a thread."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn_server(app, access_log=False, log_config=None)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the server to start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(DEADLINE_S)
        self.sock.close()


class Clock:
    """A monotonic clock the test moves by hand (for the failed-secret window)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class World:
    def __init__(self, tmp_path: Path, agent: ScriptedAgent | None = None) -> None:
        self.tasks_dir = tmp_path / "tasks"
        self.tasks_dir.mkdir()
        (self.tasks_dir / "today.md").write_text(TASKS)
        (self.tasks_dir / "simple.md").write_text(SIMPLE)
        self.store = InMemoryStore()
        self.logs = MemoryLogs()
        self.agent = agent or ScriptedAgent()
        self.settings = Settings(
            paths=PathSettings(tasks_dir=str(self.tasks_dir)), agent=AgentSettings(name="scripted")
        )
        self.runtime = Runtime(
            settings=self.settings,
            store=self.store,
            logs=self.logs,
            clock=FakeClock(),
            ids=SequentialIds(),
            agents=self.make_agent,
        )
        self.worker = SessionWorker(self.runtime)
        self.monotonic = Clock()
        self.server: LiveServer | None = None
        self.client = httpx.Client(timeout=DEADLINE_S)

    def make_agent(self, name: str) -> ScriptedAgent:
        if name != "scripted":
            raise AgentUnavailable(f"unknown agent {name!r}")
        return self.agent

    def serve(self, secret: str | None = SECRET) -> World:
        app = create_app(self.runtime, secret=secret, driver=self.worker, monotonic=self.monotonic)
        self.server = LiveServer(app)
        return self

    def close(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def post(
        self, path: str, body: Any = None, *, headers: Headers | None = HEADERS, **kwargs: Any
    ) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        response = self.client.post(self.url + path, headers=headers, **kwargs)
        check_schema(response)
        return response

    def ok(self, path: str, body: Any = None) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def state(self) -> str:
        return str(self.ok("/webhook/status")["session"]["state"])

    def wait_state(self, state: str) -> dict[str, Any]:
        """Poll /webhook/status until the session is in ``state`` and the worker has let go."""
        wait_until(lambda: self.state() == state and self.worker.idle(), f"state {state}")
        return self.ok("/webhook/status")

    def snapshot(self) -> tuple[int, int, int]:
        """Sessions, newest version and event count: what 'unchanged' compares."""
        sessions = self.store.sessions()
        if not sessions:
            return (0, 0, 0)
        sid = sessions[0].id
        return (len(sessions), self.store.session(sid).version, len(self.store.events(sid)))


def check_schema(response: httpx.Response) -> None:
    """Every webhook answer matches the published schema, errors included."""
    if not response.url.path.startswith("/webhook/"):
        return
    body = response.json()
    shape = schema.SUCCESS if response.status_code == 200 else schema.ERROR
    assert schema.validate(body, shape) == [], body
    if response.status_code != 200:
        assert schema.ERROR_STATUS[body["error"]["code"]] == response.status_code


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path).serve()
    yield w
    w.close()


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server for the many requests that must be refused: they change nothing, so they can share it."""
    w = World(tmp_path_factory.mktemp("refusing")).serve()
    outside = w.tasks_dir.parent / "outside.md"
    outside.write_text(SIMPLE)
    (w.tasks_dir / "link.md").symlink_to(outside)
    (w.tasks_dir / "notes.txt").write_text(SIMPLE)
    (w.tasks_dir / "to-text.md").symlink_to(w.tasks_dir / "notes.txt")
    (w.tasks_dir / "folder.md").mkdir()
    yield w
    assert w.store.sessions() == []
    w.close()


def started(world: World, file: str = "today.md", **params: Any) -> dict[str, Any]:
    return world.ok("/webhook/start", {"file": file, **params})


# ---- the whole flow -----------------------------------------------------------------------------


def test_a_started_session_waits_for_approval_then_the_server_runs_it_to_completion(world: World) -> None:
    data = started(world)
    assert data["queued"] is True
    assert data["message"] == "session s1 started: 2 tasks from today.md, agent scripted"
    status = world.wait_state("waiting_approval")
    assert status["session"]["waiting_for"] == "1"
    assert status["next"] == ["approve 1 (then: resume)", "reject 1", "status"]
    assert world.agent.ran() == []

    approved = world.ok("/webhook/approve", {})
    assert approved["message"] == "approved task 1 (session s1 is now running)"
    assert approved["changed"] == {"previous_state": "waiting_approval", "tasks": {"1": "pending"}}
    assert approved["queued"] is True

    done = world.wait_state("completed")
    assert [t["state"] for t in done["session"]["tasks"]] == ["completed", "completed"]
    assert done["session"]["engine"] is None
    assert done["next"] == ["report"]
    assert world.agent.ran() == ["1", "2"]


def test_the_command_endpoint_runs_every_command(world: World) -> None:
    def command(name: str, **params: Any) -> dict[str, Any]:
        data = world.ok("/webhook/command", {"command": name, "params": params})
        assert data["command"] == name
        return data

    assert set(command("help")["help"]) == set(schema.COMMANDS)
    command("start", file="today.md")
    world.wait_state("waiting_approval")
    assert command("status")["session"]["state"] == "waiting_approval"
    assert command("pause")["session"]["state"] == "paused"
    assert command("resume", session="s1")["queued"] is True
    world.wait_state("waiting_approval")
    assert command("reject", task=1, reason="not today")["session"]["tasks"][0]["reason"] == (
        "rejected by webhook: not today"
    )
    world.wait_state("failed")
    assert command("retry", task="1")["changed"]["tasks"] == {"1": "pending"}
    world.wait_state("waiting_approval")
    assert command("skip", task="1")["changed"]["tasks"] == {"1": "skipped"}
    world.wait_state("completed")
    logs = command("logs", lines=3)["logs"]
    assert logs["task"] is None
    assert len(logs["lines"]) == 3
    assert "session_state" in logs["lines"][-1]


def test_cancel_ends_a_waiting_session(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    data = world.ok("/webhook/command", {"command": "cancel"})
    assert data["session"]["state"] == "cancelled"
    assert data["queued"] is False


def test_pause_and_resume_endpoints(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    assert world.ok("/webhook/pause")["session"]["state"] == "paused"
    resumed = world.ok("/webhook/resume", {"session": "s"})
    assert resumed["message"] == "resumed (session s1 is now running)"
    world.wait_state("waiting_approval")


def test_skip_endpoint_lets_the_session_go_on(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    assert world.ok("/webhook/skip", {"task": "1"})["message"] == "skipped task 1 (session s1 is now running)"
    done = world.wait_state("completed")
    assert [t["state"] for t in done["session"]["tasks"]] == ["skipped", "completed"]
    assert world.agent.ran() == ["2"]


def test_answer_endpoint_resumes_a_task_that_asked(world: World) -> None:
    started(world, file="simple.md")
    world.wait_state("completed")
    # the engine does not ask questions yet: put the session where a question would
    sid = "s1"

    def asked(snap: Any) -> Mutation:
        run = attrs.evolve(snap.run("1"), state=TaskState.WAITING_ANSWER)
        session = attrs.evolve(snap.session, state=SessionState.WAITING_ANSWER, waiting_for="1")
        return Mutation(session=session, runs=(run,))

    world.store.transact(sid, asked)
    data = world.ok("/webhook/answer", {"text": "use UUIDs"})
    assert data["session"]["state"] == "running"
    assert data["queued"] is True
    assert any(e.data.get("text") == "use UUIDs" for e in world.store.events(sid))


def test_logs_endpoint_shows_a_task_log(world: World) -> None:
    started(world, file="simple.md")
    world.wait_state("completed")
    world.logs.write(world.logs.path("s1", "1", 1), "line one")
    world.logs.write(world.logs.path("s1", "1", 1), "line two")
    logs = world.ok("/webhook/logs", {"task": 1, "lines": 1})["logs"]
    assert logs == {"task": "1", "attempt": 1, "lines": ["line two"]}
    missing = world.post("/webhook/logs", {"task": "9"})
    assert missing.status_code == 404


def test_help_needs_no_session(world: World) -> None:
    data = world.ok("/webhook/help")
    assert data["session"] is None
    assert data["help"] == schema.COMMANDS


def test_status_without_any_session_is_not_found(world: World) -> None:
    response = world.post("/webhook/status")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_health_needs_no_secret(world: World) -> None:
    response = httpx.get(world.url + "/health")
    assert response.status_code == 200
    data = response.json()
    assert schema.validate(data, schema.HEALTH) == []
    assert data["status"] == "ok"
    assert data["version"] == "0.1.0"


def test_openapi_document_describes_every_endpoint(world: World) -> None:
    doc = httpx.get(world.url + "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/health",
        "/openapi.json",
        "/webhook/command",
        *(f"/webhook/{c}" for c in schema.COMMANDS),
    }
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(str(v) for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    names = {r.removeprefix("#/components/schemas/") for r in refs}
    assert names <= set(doc["components"]["schemas"])
    # what is published is what is enforced
    assert doc["components"]["schemas"]["ApproveBody"] == schema.endpoint_body("approve")
    for path, item in doc["paths"].items():
        for op in item.values():
            assert "200" in op["responses"], path


def test_schemas_use_only_keywords_the_validator_knows() -> None:
    def walk(node: object, in_properties: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not in_properties:
                    assert key in schema.KEYWORDS, key
                walk(value, in_properties=key == "properties" and not in_properties)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for component in schema.COMPONENTS.values():
        walk(component)


# ---- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [None, {"X-Orch-Secret": "wrong"}, {"Authorization": "Bearer wrong"}, {"X-Orch-Secret": ""}],
    ids=["missing", "wrong-header", "wrong-bearer", "empty"],
)
def test_wrong_or_missing_secret_is_refused_and_changes_nothing(
    world: World, headers: dict[str, str] | None
) -> None:
    started(world)
    world.wait_state("waiting_approval")
    before = world.snapshot()
    response = world.post("/webhook/approve", {}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert world.snapshot() == before
    response = world.post("/webhook/start", {"file": "simple.md"}, headers=headers)
    assert response.status_code == 401
    assert world.snapshot() == before


def test_secret_is_accepted_as_bearer_or_body_field(world: World) -> None:
    response = world.post("/webhook/help", headers={b"Authorization": f"Bearer {SECRET}".encode()})
    assert response.status_code == 200
    response = world.post("/webhook/help", {"secret": SECRET}, headers=None)
    assert response.status_code == 200
    response = world.post("/webhook/command", {"command": "help", "secret": SECRET}, headers=None)
    assert response.status_code == 200
    response = world.post("/webhook/command", {"command": "help", "secret": "nope"}, headers=None)
    assert response.status_code == 401


def test_secret_never_appears_in_answers_or_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    guess = "guess-" + SECRET[::-1]
    answers = [
        world.post("/webhook/status", headers={b"X-Orch-Secret": guess.encode()}).text,
        world.post("/webhook/status", {"secret": guess}, headers=None).text,
        world.post("/webhook/status", {"secret": 5}, headers=None).text,
        world.post("/webhook/command", {"command": "status", "secret": SECRET, "params": {"x": guess}}).text,
        world.post(
            "/webhook/status", content=b'{"secret": "' + SECRET.encode() + b'",', headers=HEADERS
        ).text,
    ]
    logged = caplog.text
    assert "unauthorized webhook request from 127.0.0.1 to /webhook/status: wrong secret" in logged
    for text in [*answers, logged]:
        assert SECRET not in text
        assert guess not in text


def test_repeated_bad_secrets_get_429_until_the_window_passes(world: World) -> None:
    bad = {"X-Orch-Secret": "wrong"}
    codes = [world.post("/webhook/status", headers=bad).status_code for _ in range(10)]
    assert codes == [401] * 10
    limited = world.post("/webhook/help", headers=bad)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) == 60
    assert world.post("/webhook/help").status_code == 200  # the right secret is never locked out
    world.monotonic.t += 30
    assert world.post("/webhook/help", headers=bad).status_code == 429
    world.monotonic.t += 31
    assert world.post("/webhook/help", headers=bad).status_code == 401
    assert httpx.get(world.url + "/health").status_code == 200


def test_without_a_secret_the_insecure_local_app_accepts_anyone(tmp_path: Path) -> None:
    w = World(tmp_path).serve(secret=None)
    try:
        assert w.post("/webhook/help", headers=None).status_code == 200
    finally:
        w.close()


# ---- malformed requests -------------------------------------------------------------------------


def test_malformed_json_is_a_400(world: World) -> None:
    for content in (b"{not json", b'{"command": "help",}', b"\xff\xfe", b'{"lines": NaN}'):
        response = world.post("/webhook/command", content=content)
        assert response.status_code == 400, content
        assert response.json()["error"]["code"] == "invalid_json"
    # without a header the secret would be in the body, which cannot be read
    response = world.post("/webhook/command", content=b"{not json", headers=None)
    assert response.status_code == 401
    assert "not JSON" in response.json()["error"]["message"]


def test_oversized_body_is_a_413(world: World) -> None:
    big = b'{"command": "help", "params": {}, "x": "' + b"a" * (70 * 1024) + b'"}'
    response = world.post("/webhook/command", content=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(70):
            yield b" " * 1024

    response = world.post("/webhook/command", content=chunks())
    assert response.status_code == 413


def test_the_rest_of_a_refused_body_is_not_read_as_the_next_requests_headers(world: World) -> None:
    """A client that goes on sending a body the server already refused (413) gets that 413 only:
    the bytes after it are the same request's body, not 16 KiB of a next request's headers."""
    host, port = world.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /webhook/command HTTP/1.1\r\nHost: x\r\nX-Orch-Secret: "
            + SECRET.encode()
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
        for _ in range(70):  # past the 64 KiB limit: the server answers 413 while this goes on
            conn.sendall(chunk)
        answer = b""
        while b"too_large" not in answer:
            answer += conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413")
        conn.settimeout(1.0)
        try:
            for _ in range(30):  # 30 KiB more of the refused body
                conn.sendall(chunk)
            later = conn.recv(65536)
        except (TimeoutError, OSError):
            later = b""
    assert b"Request headers larger" not in answer + later


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/webhook/command", {"params": {}}, "body: missing required field 'command'"),
        ("/webhook/command", {"command": "dance"}, "command: must be one of start, status"),
        (
            "/webhook/command",
            {"command": "logs", "params": {"lines": "ten"}},
            "params.lines: expected integer",
        ),
        ("/webhook/command", {"command": "logs", "params": {"lines": 0}}, "params.lines: must be at least 1"),
        ("/webhook/command", {"command": "status", "params": {"sesion": "s1"}}, "params: unknown field"),
        ("/webhook/command", ["help"], "body: expected object, found array"),
        ("/webhook/approve", {"task": True}, "task: expected string or integer, found boolean"),
        ("/webhook/skip", {}, "body: missing required field 'task'"),
        ("/webhook/answer", {"text": ""}, "text: must not be empty"),
        ("/webhook/start", {"file": "today.md", "auto_approve": "yes"}, "auto_approve: expected boolean"),
    ],
)
def test_schema_violations_are_a_422(refusing: World, path: str, body: Any, message: str) -> None:
    response = refusing.post(path, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation"
    assert error["message"].startswith(message), error


def test_unknown_endpoint_and_method_answer_json(world: World) -> None:
    response = world.post("/webhook/dance", {})
    assert response.status_code == 404
    assert "commands: start, status" in response.json()["error"]["message"]
    response = world.client.get(world.url + "/webhook/status")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# ---- start: only task files inside the tasks directory ------------------------------------------


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("../x.md", "'..' is not allowed"),
        ("sub/../../x.md", "'..' is not allowed"),
        ("/etc/passwd", "give a name relative to the tasks directory"),
        ("~/tasks.md", "give a name relative to the tasks directory"),
        ("today.txt", "expected a .md, .yaml or .yml file"),
        ("link.md", "leads outside the tasks directory"),
        ("to-text.md", "leads outside the tasks directory"),
        ("folder.md", "is not a regular file"),
    ],
)
def test_start_refuses_files_outside_the_tasks_dir(refusing: World, file: str, message: str) -> None:
    response = refusing.post("/webhook/start", {"file": file})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert message in error["message"]
    assert refusing.store.sessions() == []


def test_start_accepts_a_symlink_inside_the_tasks_dir_and_subfolders(world: World) -> None:
    (world.tasks_dir / "sub").mkdir()
    (world.tasks_dir / "sub" / "day.yaml").write_text(
        "tasks:\n  - id: a\n    title: A\n    instruction: do a\n"
    )
    (world.tasks_dir / "alias.md").symlink_to(world.tasks_dir / "simple.md")
    assert started(world, file="alias.md")["session"]["source"] == str(world.tasks_dir / "simple.md")
    assert started(world, file="sub/day.yaml")["session"]["tasks"][0]["id"] == "a"


def test_start_of_a_missing_file_is_not_found(world: World) -> None:
    response = world.post("/webhook/start", {"file": "nope.md"})
    assert response.status_code == 404
    assert world.store.sessions() == []


def test_start_of_a_broken_task_file_lists_its_problems(world: World) -> None:
    (world.tasks_dir / "broken.md").write_text(
        "# Tasks\n\n## Task 1: One\n**Depends On:** 7\n**Claude Instruction:**\nx\n"
    )
    response = world.post("/webhook/start", {"file": "broken.md"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "the task file has 1 problem"
    assert error["details"][0].startswith("broken.md:")
    assert str(world.tasks_dir) not in response.text
    assert world.store.sessions() == []


def test_start_twice_is_a_conflict_unless_new(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    response = world.post("/webhook/start", {"file": "today.md"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert len(world.store.sessions()) == 1
    assert started(world, new=True)["session"]["id"] != "s1"
    assert len(world.store.sessions()) == 2


def test_start_with_an_unavailable_agent_starts_nothing(world: World) -> None:
    world.agent.available = False
    response = world.post("/webhook/start", {"file": "today.md"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "agent_unavailable"
    assert world.store.sessions() == []


# ---- state rules --------------------------------------------------------------------------------


def test_approve_when_nothing_waits_is_a_409_and_changes_nothing(world: World) -> None:
    started(world, file="simple.md")
    world.wait_state("completed")
    before = world.snapshot()
    response = world.post("/webhook/approve", {})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["message"].startswith("cannot approve: the session is completed")
    assert "details" not in error  # nothing is allowed on a completed session
    assert world.snapshot() == before


def test_resume_while_another_engine_drives_is_busy(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    world.ok("/webhook/pause")
    world.store.acquire_lease("s1", "engine-cli")
    before = world.snapshot()
    response = world.post("/webhook/resume", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "busy"
    assert world.snapshot() == before


def test_approve_while_another_engine_drives_leaves_it_to_that_engine(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    world.store.acquire_lease("s1", "engine-cli")
    data = world.ok("/webhook/approve", {})
    assert data["queued"] is False
    assert data["session"]["engine"] == "engine-cli"
    # if the worker is asked anyway, it reports the busy session and keeps serving
    world.worker.submit("s1")
    wait_until(world.worker.idle, "the worker to give up")
    assert world.worker.alive()
    world.store.release_lease("s1", "engine-cli")
    world.ok("/webhook/resume", {})
    world.wait_state("completed")


# ---- the server as `orch serve` builds it -------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "secret", "insecure", "refused"),
    [
        ("0.0.0.0", False, False, "no webhook secret"),  # noqa: S104
        ("0.0.0.0", False, True, "--insecure-local is only allowed"),  # noqa: S104
        ("127.0.0.1", False, False, "no webhook secret"),
        ("127.0.0.1", False, True, None),
        ("::1", False, True, None),
        ("localhost", False, True, None),
        ("0.0.0.0", True, False, None),  # noqa: S104
        ("192.168.1.5", True, True, "--insecure-local is only allowed"),
    ],
)
def test_exposure_rule(host: str, secret: bool, insecure: bool, refused: str | None) -> None:
    if refused is None:
        check_exposure(host, secret, insecure)
        return
    with pytest.raises(ConfigError, match=refused):
        check_exposure(host, secret, insecure)


def settings_in(tmp_path: Path, agent_command: str = '["true"]') -> Settings:
    from apps.settings import load_settings

    (tmp_path / "tasks").mkdir(exist_ok=True)
    (tmp_path / "tasks" / "simple.md").write_text(SIMPLE)
    config = tmp_path / "orch.yaml"
    config.write_text(f"approval:\n  mode: auto\nagent:\n  command: {agent_command}\n  timeout_s: 30\n")
    return load_settings(str(config), environ={})


def test_prepare_refuses_before_binding_anything(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    with pytest.raises(ConfigError, match="no webhook secret"):
        prepare(settings, "0.0.0.0", 0, False, environ={})  # noqa: S104
    with pytest.raises(ConfigError, match="no webhook secret"):
        prepare(settings, "127.0.0.1", 0, False, environ={})
    assert not settings.state_dir.exists()  # no store was created


def run_prepared(ready: Prepared) -> threading.Thread:
    thread = threading.Thread(target=ready.run, daemon=True)
    thread.start()
    wait_until(lambda: ready.server.started, "the server to start")
    return thread


def test_orch_serve_runs_a_real_session_with_the_secret_from_dotenv(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    (tmp_path / ".env").write_text(f"# webhook\nexport ORCH_WEBHOOK_SECRET='{SECRET}'\n")
    ready = prepare(settings, "127.0.0.1", 0, False, environ={}, access_log=False, log_config=None)
    thread = run_prepared(ready)
    url = f"http://127.0.0.1:{ready.port}"
    try:
        with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
            assert client.get("/health").json()["status"] == "ok"
            assert client.post("/webhook/status").status_code == 401
            response = client.post("/webhook/start", json={"file": "simple.md"}, headers=HEADERS)
            assert response.status_code == 200, response.text

            def completed() -> bool:
                status = client.post("/webhook/status", headers=HEADERS).json()
                return bool(status["session"]["state"] == "completed")

            wait_until(completed, "the real agent (`true`) to finish")
    finally:
        ready.server.should_exit = True
        thread.join(DEADLINE_S)
    assert settings.db_path.exists()


def test_orch_serve_insecure_local_needs_no_secret(tmp_path: Path) -> None:
    ready = prepare(
        settings_in(tmp_path), "127.0.0.1", 0, True, environ={}, access_log=False, log_config=None
    )
    assert not ready.secured
    thread = run_prepared(ready)
    try:
        response = httpx.post(f"http://127.0.0.1:{ready.port}/webhook/help", timeout=DEADLINE_S)
        assert response.status_code == 200
    finally:
        ready.server.should_exit = True
        thread.join(DEADLINE_S)


def test_orch_serve_command_refuses_without_a_secret(tmp_path: Path) -> None:
    settings_in(tmp_path)
    cli = typer.Typer()
    cli.command()(serve_command)
    env = {"ORCH_WEBHOOK_SECRET": None, "ORCH_CONFIG": None}
    args = ["--config", str(tmp_path / "orch.yaml"), "--port", "0"]
    result = CliRunner().invoke(cli, [*args, "--host", "0.0.0.0"], env=env)  # noqa: S104
    assert result.exit_code == BAD_INPUT
    assert "no webhook secret" in result.stderr
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == BAD_INPUT
    assert "--insecure-local" in result.stderr


# ---- secrets ------------------------------------------------------------------------------------


def test_dotenv_parsing() -> None:
    text = (
        "# comment\n\nexport A=1\nB = 'two words'\nC=\"x#y\"\nD=plain # note\nE=a#b\nnot an assignment\n=x\n"
    )
    assert parse_dotenv(text) == {"A": "1", "B": "two words", "C": "x#y", "D": "plain", "E": "a#b"}


def test_environment_wins_over_dotenv_and_the_secret_hides_itself(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    (tmp_path / ".env").write_text("ORCH_WEBHOOK_SECRET=from-file\n")
    secret = webhook_secret(settings, {"ORCH_WEBHOOK_SECRET": "from-env"})
    assert secret is not None
    assert secret.reveal() == "from-env"
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    from_file = webhook_secret(settings, {"ORCH_WEBHOOK_SECRET": ""})
    assert from_file == Secret("from-file")
    (tmp_path / ".env").write_text("OTHER=1\n")
    assert webhook_secret(settings, {}) is None
