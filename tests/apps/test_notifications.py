"""The notification wiring in apps: settings, secrets, channels built by name, the background
sender, and `orch status` / `orch notify` over an outbox (in-memory adapters, no patching)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from adapters.system.clock import SystemClock
from apps.bootstrap import Channels, Runtime
from apps.cli.main import OK, UNDELIVERED, app
from apps.notify import NotificationSender
from apps.settings import NotificationSettings, Settings, load_settings
from orchcore.errors import ConfigError, NotifyError
from orchcore.notify import DEFAULT_KINDS
from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.records import Event, EventKind, Mutation, OutboxEntry, Session, TaskRun
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, RecordingNotifier, ScriptedAgent, SequentialIds
from orchcore.testing.contracts.outbox import T0, entry
from tests.support import wait_until as wait_for

TOKEN = "123456:ABC-very-secret"  # noqa: S105 - a test value


# -- settings -------------------------------------------------------------------------


def test_notification_settings_from_yaml_and_environment(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text(
        "notifications:\n  channels: [console]\n  events: [default, task_started]\n  max_attempts: 5\n"
    )
    settings = load_settings(cwd=tmp_path, environ={"ORCH_N8N_URL": "http://127.0.0.1:5678/webhook/x"})
    routing = settings.routing()
    assert routing.channels == ("console",)
    assert routing.kinds == frozenset(NotificationKind)
    assert settings.notifications.n8n_url == "http://127.0.0.1:5678/webhook/x"
    assert settings.delivery_policy().max_attempts == 5
    overridden = load_settings(cwd=tmp_path, environ={"ORCH_NOTIFY_CHANNELS": "n8n, telegram"})
    assert overridden.routing().channels == ("n8n", "telegram")


def test_by_default_nothing_is_queued_and_task_started_is_left_out() -> None:
    routing = Settings().routing()
    assert routing.channels == ()
    assert routing.kinds == DEFAULT_KINDS


def test_an_unknown_event_name_is_a_config_error_naming_the_known_ones() -> None:
    settings = Settings(notifications=NotificationSettings(events=("task_exploded",)))
    with pytest.raises(
        ConfigError, match=r"unknown event 'task_exploded'; expected default, all, .*task_failed"
    ):
        settings.routing()


# -- channels -------------------------------------------------------------------------


def _channels(tmp_path: Path, environ: dict[str, str] | None = None, **notifications: object) -> Channels:
    settings = Settings(
        notifications=NotificationSettings(**notifications),  # type: ignore[arg-type]
        base_dir=str(tmp_path),
    )
    return Channels(settings, environ=environ or {})


def _note(key: str = "s1:2:1:session_started") -> Notification:
    return Notification(key, "s1", NotificationKind.SESSION_STARTED, "Session s1 started: 2 tasks", "", T0)


def test_the_console_channel_appends_lines_to_its_file(tmp_path: Path) -> None:
    channels = _channels(tmp_path, channels=("console",), console_file="logs/notifications.log")
    channels.notifiers()["console"].send(_note())
    channels.close()
    (line,) = (tmp_path / "logs" / "notifications.log").read_text().splitlines()
    assert "Session s1 started: 2 tasks" in line


@pytest.mark.parametrize(
    ("channel", "environ", "problem"),
    [
        ("n8n", {}, "set notifications.n8n_url"),
        ("telegram", {}, "ORCH_TELEGRAM_BOT_TOKEN"),
        ("telegram", {"ORCH_TELEGRAM_BOT_TOKEN": TOKEN}, "ORCH_TELEGRAM_CHAT_IDS"),
        ("pigeon", {}, "unknown channel 'pigeon'; known channels: console, n8n, telegram"),
    ],
)
def test_a_channel_that_cannot_be_built_keeps_its_messages_queued_and_says_why(
    tmp_path: Path, channel: str, environ: dict[str, str], problem: str
) -> None:
    channels = _channels(tmp_path, environ, channels=(channel, "console"))
    notifiers = channels.notifiers()
    with pytest.raises(NotifyError) as raised:
        notifiers[channel].send(_note())
    assert raised.value.retryable is True
    assert problem in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert channels.problems == [str(raised.value)]
    assert "console" in notifiers  # the others work


def test_the_n8n_channel_gets_its_secret_from_the_environment_never_from_settings(tmp_path: Path) -> None:
    environ = {"ORCH_N8N_SECRET": "n8n-s3cret"}
    channels = _channels(tmp_path, environ, channels=("n8n",), n8n_url="http://127.0.0.1:1/webhook/x")
    notifier = channels.notifiers()["n8n"]
    assert "n8n-s3cret" not in repr(notifier)
    assert "secret=***" in repr(notifier)
    channels.close()


def test_the_telegram_channel_is_the_telegram_engineers_notifier(tmp_path: Path) -> None:
    pytest.importorskip("adapters.telegram.notifier")
    environ = {"ORCH_TELEGRAM_BOT_TOKEN": TOKEN, "ORCH_TELEGRAM_CHAT_IDS": "42, -100123"}
    channels = _channels(tmp_path, environ, channels=("telegram",), telegram_api_url="http://127.0.0.1:1")
    notifier = channels.notifiers()["telegram"]
    assert type(notifier).__name__ == "TelegramNotifier"
    assert channels.problems == []
    assert TOKEN not in repr(notifier)
    channels.close()


# -- the sender -----------------------------------------------------------------------


def _store_with(*entries: OutboxEntry) -> InMemoryStore:
    store = InMemoryStore()
    plan = Plan("today.md", (Task("1", "One"),))
    store.create(Session("s1", "today.md", SessionState.RUNNING, T0, T0), plan, [TaskRun("1")], [])
    if entries:
        queue(store, *entries)
    return store


def queue(store: InMemoryStore, *entries: OutboxEntry) -> None:
    event = Event(EventKind.TASK_FINISHED, T0, task_id="1")
    store.transact("s1", lambda s: Mutation(events=(event,), outbox=entries))


def test_the_sender_delivers_in_the_background_and_flushes_on_stop() -> None:
    store = _store_with(entry("s1", "a"))
    n8n = RecordingNotifier()
    sender = NotificationSender(store, {"n8n": n8n}, SystemClock(), interval_s=3600).start()
    wait_for(lambda: n8n.delivered_keys() == ["a"], "the first pass")
    queue(store, entry("s1", "b"))  # committed while the sender sleeps for an hour
    sender.stop(flush_s=5)
    assert n8n.delivered_keys() == ["a", "b"]
    assert store.undelivered() == []


def test_stopping_never_waits_for_a_receiver_that_hangs() -> None:
    entered, release = threading.Event(), threading.Event()

    class Hanging:
        def send(self, notification: Notification) -> None:
            entered.set()
            release.wait(30)
            raise NotifyError("timed out", retryable=True)

    store = _store_with(entry("s1", "a"))
    sender = NotificationSender(store, {"n8n": Hanging()}, SystemClock(), interval_s=0.01).start()
    wait_for(entered.is_set, "a send that hangs")
    start = time.monotonic()
    sender.stop(flush_s=0.05, grace_s=0.2)
    assert time.monotonic() - start < 5
    release.set()
    assert store.undelivered()[0].open  # still queued for the next sender


def test_a_pass_that_fails_is_logged_and_the_sender_goes_on() -> None:
    store = _store_with(entry("s1", "a"))
    store.close()  # every store call now raises StoreError
    sender = NotificationSender(store, {}, SystemClock(), interval_s=0.01).start()
    wait_for(lambda: sender.passes >= 3, "three passes despite the failures")
    sender.stop(flush_s=0.01)


# -- the CLI --------------------------------------------------------------------------


class World:
    def __init__(self, notifier: RecordingNotifier, clock: FakeClock | None = None) -> None:
        self.store = _store_with()
        self.notifier = notifier
        settings = Settings(notifications=NotificationSettings(channels=("n8n",), interval_s=0.01))
        self.runtime = Runtime(
            settings=settings,
            store=self.store,
            logs=MemoryLogs(),
            clock=clock or FakeClock(T0 + timedelta(seconds=1)),
            ids=SequentialIds(),
            agents=lambda _: ScriptedAgent(),
            routing=settings.routing(),
            notifiers=lambda: {"n8n": notifier},
        )

    def orch(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), obj=self.runtime)
        return result.exit_code, result.stdout


def test_notify_with_nothing_queued_says_so() -> None:
    world = World(RecordingNotifier())
    assert world.orch("notify") == (OK, "every notification was delivered\n")
    assert world.orch("notify", "--flush")[0] == OK


def test_notify_flush_exits_8_while_something_waits_and_0_once_delivered() -> None:
    world = World(RecordingNotifier(failures=[NotifyError("HTTP 503", retryable=True)]))
    queue(world.store, entry("s1", "a"))
    code, out = world.orch("notify", "--flush")
    assert code == UNDELIVERED
    assert "delivered 0, failed 1" in out
    assert "1 notification undelivered (last error on n8n: HTTP 503)" in out
    assert "a -> n8n (1 attempts, next try" in out
    world.runtime.clock.advance(2)  # type: ignore[attr-defined]
    code, out = world.orch("notify", "--flush", "--json")
    assert code == OK
    assert json.loads(out) == {"delivered": 1, "failed": 0, "gave_up": 0, "undelivered": []}


def test_a_rejected_notification_fails_the_flush_that_gave_it_up_then_only_shows_in_status() -> None:
    world = World(RecordingNotifier(failures=[NotifyError("HTTP 400 Bad Request", retryable=False)]))
    queue(world.store, entry("s1", "a"))
    assert world.orch("notify", "--flush")[0] == UNDELIVERED
    assert world.orch("notify", "--flush")[0] == OK  # nothing left to try
    code, out = world.orch("status", "s1")
    assert code == OK
    assert "1 notification undelivered (1 given up; last error on n8n: HTTP 400 Bad Request)" in out
    code, out = world.orch("notify", "--json")
    (row,) = json.loads(out)["undelivered"]
    assert (row["key"], row["gave_up"], row["next_attempt_at"]) == ("a", True, None)


def test_status_json_counts_undelivered_notifications() -> None:
    world = World(RecordingNotifier())
    queue(world.store, entry("s1", "a"), entry("s1", "b"))
    code, out = world.orch("status", "s1", "--json")
    assert (code, json.loads(out)["undelivered_notifications"]) == (OK, 2)
    code, out = world.orch("status", "s1")
    assert "2 notifications undelivered (not tried yet)" in out
