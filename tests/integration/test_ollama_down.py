"""The Ollama judge when nothing listens on a loopback port: one probe, then the session skips it
(counted in HTTP requests through the real client, never timed)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import httpx
import pytest

from adapters.ollama import OllamaSupervisor, ollama_client
from adapters.sqlite.store import SqliteStore
from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Verdict
from orchcore.records import EventKind
from tests.fakes.ollama_api import Answer, Fail, FakeOllama, verdict_json
from tests.fakes.webhook_receiver import free_port

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder:32b"
CRITERIA = ("tests pass",)
REQUEST = JudgeRequest(task_id="t1", attempt=1, criteria=CRITERIA, system="", prompt="# Task t1\n")


@attrs.define
class RecordingClock:
    """The Clock port: time moves only by the waits (recorded) and by ``advance``."""

    current: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    waits: list[float] = attrs.field(factory=list)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.current += timedelta(seconds=seconds)


class CountingTransport(httpx.BaseTransport):
    """httpx's real HTTP transport, counting the requests the client makes through it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def transport() -> Iterator[CountingTransport]:
    counting = CountingTransport()
    yield counting
    counting.close()


def judge_on(
    host: str, clock: RecordingClock, transport: CountingTransport, **kw: object
) -> OllamaSupervisor:
    client = ollama_client(host, 5.0, transport=transport)
    return OllamaSupervisor(client, MODEL, clock=clock, host=host, **kw)  # type: ignore[arg-type]


def test_a_session_of_five_tasks_with_nothing_on_the_loopback_port_makes_one_request(
    clock: RecordingClock, transport: CountingTransport
) -> None:
    judge = judge_on(f"http://127.0.0.1:{free_port()}", clock, transport, retries=2)
    outcomes = [judge.judge(attrs.evolve(REQUEST, task_id=f"t{n}")) for n in range(5)]
    assert len(transport.requests) == 1  # one probe; before: 3 tries, then one per task (7)
    assert clock.waits == []  # no backoff on a refused loopback connection
    assert all(isinstance(o, JudgeUnavailable) for o in outcomes)
    reasons = [o.reason for o in outcomes if isinstance(o, JudgeUnavailable)]
    assert all("is not reachable (connection refused)" in r for r in reasons)
    assert all("ollama serve" in o.hint for o in outcomes if isinstance(o, JudgeUnavailable))
    assert "skipped for this session" in reasons[1]


def test_localhost_by_name_is_loopback_too(clock: RecordingClock, transport: CountingTransport) -> None:
    judge = judge_on(f"http://localhost:{free_port()}", clock, transport, retries=3)
    for _ in range(3):
        assert isinstance(judge.judge(REQUEST), JudgeUnavailable)
    assert clock.waits == []
    assert len(transport.requests) <= 2  # localhost may be tried on ::1 and 127.0.0.1 by the resolver


def test_a_loopback_server_that_comes_up_later_is_probed_again_after_a_while(
    clock: RecordingClock, transport: CountingTransport
) -> None:
    port = free_port()
    judge = judge_on(f"http://127.0.0.1:{port}", clock, transport)
    assert isinstance(judge.judge(REQUEST), JudgeUnavailable)
    with FakeOllama(port=port) as fake:
        fake.play(Answer(verdict_json(CRITERIA, "met")))
        assert isinstance(judge.judge(REQUEST), JudgeUnavailable)  # still skipped: no request
        assert len(transport.requests) == 1
        clock.current += timedelta(minutes=10)
        assert isinstance(judge.judge(REQUEST), Verdict)


def test_an_erroring_loopback_server_is_still_retried_with_backoff(
    clock: RecordingClock, transport: CountingTransport
) -> None:
    with FakeOllama() as fake:
        boom = Fail(500, "llama runner process has terminated")
        fake.play(boom, boom, Answer(verdict_json(CRITERIA, "met")))
        judge = judge_on(fake.url, clock, transport, retries=2)
        assert isinstance(judge.judge(REQUEST), Verdict)
    assert clock.waits == [1.0, 2.0]


def _outside_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route's source
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") else address


def test_a_refused_connection_to_another_machine_is_still_retried(
    clock: RecordingClock, transport: CountingTransport
) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to be refused on")
    with socket.socket() as sock:
        sock.bind((address, 0))
        port = sock.getsockname()[1]
    judge = judge_on(f"http://{address}:{port}", clock, transport, retries=2)
    outcome = judge.judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert clock.waits == [1.0, 2.0]
    assert "gave up after 3 tries" in outcome.reason


def test_a_five_task_orch_run_with_no_ollama_probes_once_and_each_task_says_the_judge_was_skipped(
    tmp_path: Path,
) -> None:
    git_env = {"GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    git_env |= {"GIT_AUTHOR_NAME": "u", "GIT_AUTHOR_EMAIL": "u@example.com"}
    git_env |= {"GIT_COMMITTER_NAME": "u", "GIT_COMMITTER_EMAIL": "u@example.com"}
    repo = tmp_path / "project"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", *args], cwd=repo, env=git_env, check=True)
    (tmp_path / "agent.sh").write_text(
        '#!/bin/sh\ncat > /dev/null\necho "$ORCH_TASK_ID" > "out-$ORCH_TASK_ID.txt"\necho done\n'
    )
    tasks = [
        f"## Task {n}: Part {n}\n**Description:** write out-{n}.txt\n**Checks:** true\n" for n in range(1, 6)
    ]
    (tmp_path / "tasks.md").write_text("# Tasks\n\n" + "\n".join(tasks))
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n"
        "paths:\n  workdir: project\n  state_dir: state\napproval:\n  mode: auto\n"
        f"supervisor:\n  judge: ollama\n  host: http://127.0.0.1:{free_port()}\n"  # retries: the default 2
    )
    orch = str(Path(sys.executable).with_name("orch"))
    run = subprocess.run(
        [orch, "run", "tasks.md", "-c", str(tmp_path / "orch.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    store = SqliteStore(str(tmp_path / "state" / "state.db"))
    try:
        events = store.events(store.sessions()[0].id)
    finally:
        store.close()
    judged = [str(e.data["judge"]) for e in events if e.kind is EventKind.SUPERVISION]
    assert len(judged) == 5
    assert all(j.startswith("unavailable: Ollama at http://127.0.0.1:") for j in judged)
    assert "gave up after" not in judged[0]  # one probe, no retries
    assert all("the judge is skipped for this session" in j for j in judged[1:])  # no request at all
    assert all(e.data["action"] == "accept" for e in events if e.kind is EventKind.SUPERVISION)


def test_the_probe_says_nothing_listens_only_for_a_refused_loopback_port() -> None:
    from adapters.ollama.reach import nothing_listens
    from apps.settings import proxy_environment

    closed = free_port()
    assert nothing_listens(f"http://127.0.0.1:{closed}", {})
    assert nothing_listens(f"localhost:{closed}", {})
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert not nothing_listens(f"http://127.0.0.1:{server.getsockname()[1]}", {})
    # a proxy may reach what a direct connect cannot; another machine goes to the client as before
    for proxy in ({"HTTPS_PROXY": "http://proxy:3128"}, {"all_proxy": "socks5://proxy:1080"}):
        assert not nothing_listens(f"http://127.0.0.1:{closed}", proxy_environment(proxy))
    assert not nothing_listens(f"http://192.0.2.1:{closed}", {})


@pytest.mark.parametrize(
    ("host", "port"),
    [  # ollama's own reading of a host (its client's examples)
        ("127.0.0.1", 11434),
        (":56789", 56789),
        ("127.0.0.1:56789", 56789),
        ("http://127.0.0.1", 80),
        ("https://127.0.0.1", 443),
        ("localhost/path", 11434),
        ("https://localhost:56789/path", 56789),
        ("[::1]", 11434),
        ("http://[::1]:56789", 56789),
    ],
)
def test_the_probe_asks_the_port_the_client_would_connect_to(host: str, port: int) -> None:
    from adapters.ollama.reach import _address

    found = _address(host)
    assert found is not None
    assert found[1] == port


def test_the_day_summary_with_no_ollama_here_says_so_without_loading_the_client(tmp_path: Path) -> None:
    """The report at the end of every run: a refused loopback port answers before ~300 ms of import."""
    script = f"""
import sys
from apps.bootstrap import Runtime
from apps.settings import Settings, SupervisorSettings
from orchcore.ports.summarizer import SummaryRequest
from adapters.memory.store import InMemoryStore
from orchcore.testing import FakeClock, MemoryLogs, SequentialIds
settings = Settings(supervisor=SupervisorSettings(host="http://127.0.0.1:{free_port()}"))
rt = Runtime(settings=settings, store=InMemoryStore(), logs=MemoryLogs(), clock=FakeClock(), ids=SequentialIds(), agents=lambda _: None)
answer = rt.summarize(SummaryRequest(system="s", prompt="p"), {{}})
print(answer.reason, answer.hint, sep="|")
print("ollama" in sys.modules, "httpx" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path, timeout=60
    )
    reason, loaded = done.stdout.strip().splitlines()
    assert "is not reachable (connection refused)|start Ollama" in reason
    assert loaded == "False False"
