"""Notifications are never lost: sessions run while the n8n endpoint (a real loopback HTTP
server) first refuses connections, then hangs, then answers 503 and loses an answer; once it
is back, every notification has been shown exactly once, in commit order per session, and
the runs were neither slowed nor failed by the outage.

What "exactly once" means here, precisely: delivery is at least once, so the receiver may
get a key again (it does, once, for the answer it lost on purpose); it dedupes by the
Idempotency-Key header, so every key is *shown* once. The test asserts that the only key
delivered twice is the lost one, delivered exactly twice, with the same key.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from adapters.n8n.notifier import N8nNotifier
from adapters.sqlite import SqliteStore
from adapters.system.clock import SystemClock
from apps.bootstrap import Runtime
from apps.cli.main import OK, UNDELIVERED, app
from apps.notify import NotificationSender
from apps.settings import NotificationSettings, Settings
from orchcore.delivery import DeliveryPolicy
from orchcore.engine import Engine
from orchcore.notify import Routing
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.ports.notifier import NotificationKind
from orchcore.records import OutboxEntry, Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import MemoryLogs, ScriptedAgent, SequentialIds
from tests.fakes.webhook_receiver import WebhookReceiver, free_port
from tests.support import wait_until as wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("in_a_temporary_home"),
]  # no .orch/ in the checkout

EVERY_KIND = Routing(channels=("n8n",), kinds=frozenset(NotificationKind))
FAST_RETRIES = DeliveryPolicy(base_delay_s=0.05, max_delay_s=0.2)
SEND_TIMEOUT_S = 2.0


def exit_1(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(free_port())  # not started: the port refuses connections
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def run_session(
    store: SqliteStore, plan: Plan, agent: ScriptedAgent, ids: SequentialIds
) -> tuple[str, float]:
    """Create, start and drive a session as `orch run` does; how long the engine took."""
    clock = SystemClock()
    sid = create_session(store, plan, ids, clock).session.id
    send_command(store, sid, Command.START, clock, routing=EVERY_KIND)
    engine = Engine(store, agent, clock, SequentialIds("e"), MemoryLogs(), routing=EVERY_KIND)
    start = time.monotonic()
    outcome = engine.run(sid)
    took = time.monotonic() - start
    assert outcome.session.state is SessionState.FAILED  # task 2 fails: the run's own verdict
    return sid, took


def test_every_notification_arrives_exactly_once_in_order_after_an_outage(
    receiver: WebhookReceiver, store: SqliteStore
) -> None:
    plan = Plan(
        "today.md",
        (Task("1", "Users table"), Task("2", "Endpoint", depends_on=("1",)), Task("3", "Docs")),
    )
    agent = ScriptedAgent(scripts={"2": [exit_1]})
    ids = SequentialIds()
    with httpx.Client(timeout=SEND_TIMEOUT_S) as http:
        sender = NotificationSender(
            store, {"n8n": N8nNotifier(receiver.url, http)}, SystemClock(), FAST_RETRIES, interval_s=0.02
        ).start()
        try:
            # 1. the endpoint refuses connections while the first session runs
            first, took_first = run_session(store, plan, agent, ids)
            wait_for(
                lambda: any("ConnectError" in e.last_error for e in store.undelivered(first)), "a refusal"
            )
            expected = {first: [e.key for e in store.undelivered(first)]}

            # 2. it hangs: the sender is stuck in a send while the second session runs
            receiver.start().hold()
            wait_for(lambda: receiver.held > 0, "a send stuck on the hanging endpoint")
            second, took_second = run_session(store, plan, agent, ids)
            expected[second] = [e.key for e in store.undelivered(second)]
            assert receiver.shown == []

            # 3. it comes back: two 503s, one answer lost after showing, then all is well
            receiver.answers.extend([503, 503])
            receiver.lose_answers = 1
            receiver.release()
            wait_for(lambda: not store.undelivered(), "every notification delivered", timeout=60)
        finally:
            sender.stop()

    # the runs did not wait for the endpoint: the second ran while a send hung, and finished
    # before that one send timed out (waiting would have cost a timeout per notification)
    assert len(expected[first]) >= 8
    assert took_first < SEND_TIMEOUT_S
    assert took_second < SEND_TIMEOUT_S

    # every committed notification shown exactly once, in commit order per session
    shown = receiver.keys_shown()
    assert sorted(shown) == sorted(expected[first] + expected[second])
    for sid, keys in expected.items():
        assert [k for k in shown if k.startswith(f"{sid}:")] == keys
    # at least once, deduped by key: only the lost answer was delivered again, exactly once
    (lost,) = receiver.lost
    assert receiver.duplicates == Counter({lost: 1})
    accepted = Counter(r.key for r in receiver.requests if r.status == 200)
    assert accepted == Counter({k: 2 if k == lost else 1 for k in shown})
    assert all(r.key is not None for r in receiver.requests)
    # what was sent is what was committed
    bodies = {r.key: r.body for r in receiver.requests if r.status == 200}
    failed = next(k for k in expected[first] if k.endswith(":task_failed"))
    assert bodies[failed]["title"] == "Task 2 failed: exit code 1"
    assert bodies[failed]["actions"] == ["logs 2", "retry 2", "skip 2"]
    assert bodies[failed]["session"] == first


# -- the same through the CLI: `orch run` while n8n is down, `orch status`, `orch notify --flush`


TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Depends On:** 1
**Claude Instruction:**
serve it
"""


def _runtime(store: SqliteStore, url: str, http: httpx.Client) -> Runtime:
    settings = Settings(notifications=NotificationSettings(channels=("n8n",), interval_s=0.02))
    notifier = N8nNotifier(url, http)
    return Runtime(
        settings=settings,
        store=store,
        logs=MemoryLogs(),
        clock=SystemClock(),
        ids=SequentialIds(),
        agents=lambda _: ScriptedAgent(),
        routing=settings.routing(),
        notifiers=lambda: {"n8n": notifier},
        delivery=FAST_RETRIES,
    )


def test_orch_run_while_n8n_is_down_then_status_and_notify_flush(
    receiver: WebhookReceiver, store: SqliteStore, tmp_path: Path
) -> None:
    taskfile = tmp_path / "today.md"
    taskfile.write_text(TASKS)
    with httpx.Client(timeout=SEND_TIMEOUT_S) as http:
        rt = _runtime(store, receiver.url, http)

        def orch(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(app, list(args), obj=rt)
            return result.exit_code, result.stdout

        start = time.monotonic()
        code, out = orch("run", str(taskfile), "--auto-approve", "--agent", "scripted")
        assert (code, time.monotonic() - start < 10) == (OK, True), out
        assert "session s1 completed" in out

        code, out = orch("status")
        assert code == OK
        queued: list[OutboxEntry] = store.undelivered("s1")
        assert len(queued) == 4  # started, task 1 completed, task 2 completed, session completed
        assert (
            f"4 notifications undelivered (last error on n8n: n8n at http://127.0.0.1:{receiver.port}" in out
        )
        code, out = orch("status", "--json")
        assert json.loads(out)["undelivered_notifications"] == 4

        code, out = orch("notify", "--flush")
        assert code == UNDELIVERED, out  # still down
        assert "4 notifications undelivered" in out

        # An entry that failed HOLD_BACK_AFTER times is held back and retried on its own timer;
        # only once every entry is due again does one pass send them all in commit order (before
        # that, whichever timer fires first goes first: the test was flaky on a loaded machine).
        time.sleep(FAST_RETRIES.max_delay_s + 0.1)
        receiver.start()
        wait_for(lambda: orch("notify", "--flush")[0] == OK, "a flush that delivers everything")
        assert receiver.keys_shown() == [e.key for e in queued]
        code, out = orch("notify", "--json")
        assert (code, json.loads(out)["undelivered"]) == (OK, [])
        assert orch("status", "--json")[1].count('"undelivered_notifications": 0') == 1


def test_a_password_in_the_n8n_url_is_never_stored_logged_or_shown(
    receiver: WebhookReceiver, store: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taskfile = tmp_path / "today.md"
    taskfile.write_text(TASKS)
    url = f"http://orch:pa55w0rd@127.0.0.1:{receiver.port}/webhook/orch?token=t0ken-42&sig=abc123"
    with httpx.Client(timeout=SEND_TIMEOUT_S) as http:
        rt = _runtime(store, url, http)

        def orch(*args: str) -> str:
            return CliRunner().invoke(app, list(args), obj=rt).stdout

        caplog.set_level("DEBUG")
        shown = orch("run", str(taskfile), "--auto-approve", "--agent", "scripted")
        shown += orch("notify", "--flush") + orch("notify") + orch("notify", "--json")
        shown += orch("status") + orch("status", "--json")
    stored = " ".join(str(e.last_error) for e in store.undelivered("s1"))
    assert "127.0.0.1" in stored  # the error still says where
    for secret in ("pa55w0rd", "t0ken-42", "abc123"):
        assert secret not in stored
        assert secret not in shown
        assert secret not in caplog.text
