"""The Telegram bot and notifier against a loopback server speaking the Bot API
(tests/fakes/telegram_api.py): real HTTP, the real client, the real polling loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from adapters.sqlite import SqliteStore
from adapters.telegram import TelegramClient, TelegramError, TelegramNotifier
from apps.bootstrap import Runtime
from apps.cli.main import BAD_INPUT
from apps.cli.telegram import telegram_command
from apps.commands import Commands
from apps.settings import AgentSettings, PathSettings, Settings, load_settings
from apps.telegram.bot import OffsetFile, TelegramBot, run_bot
from apps.worker import SessionWorker
from orchcore.errors import ConfigError, NotifyError
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, Outcome
from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds
from tests.fakes.telegram_api import FakeTelegram, fake_telegram
from tests.support import wait_until

pytestmark = pytest.mark.integration

TOKEN = "123456:AAE-test_token-SECRET"  # noqa: S105 - the fake's token
ME = 111  # the whitelisted chat
STRANGER = 666
DEADLINE_S = 15.0

TASKS = """# Tasks

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


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with fake_telegram(TOKEN) as api:
        yield api


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


class Chat:
    """A whitelisted human: sends a command, waits for the bot's answer."""

    def __init__(self, fake: FakeTelegram, chat_id: int = ME) -> None:
        self.fake = fake
        self.chat_id = chat_id

    def say(self, text: str) -> str:
        """Send ``text``; the bot's answer as shown to the human (all its parts)."""
        before = len(self.fake.sent_to(self.chat_id))
        self.fake.push(self.chat_id, text)
        self.fake.wait_messages(self.chat_id, before + 1, DEADLINE_S)
        # an answer may be several messages: the last one is followed by nothing else
        self.fake.wait_for(lambda: self.fake.pending() == 0, "the update to be confirmed")
        return "\n".join(m.shown for m in self.fake.sent_to(self.chat_id)[before:])


# ---- the bot, wired from settings as `orch telegram` wires it (SQLite, a real agent process) ----


def settings_in(tmp_path: Path) -> Settings:
    (tmp_path / "tasks").mkdir(exist_ok=True)
    (tmp_path / "tasks" / "today.md").write_text(TASKS)
    (tmp_path / "tasks" / "simple.md").write_text(SIMPLE)
    config = tmp_path / "orch.yaml"
    config.write_text('agent:\n  command: ["true"]\n  timeout_s: 30\n')
    return load_settings(str(config), environ={})


class RunningBot:
    def __init__(self, settings: Settings, fake: FakeTelegram, environ: dict[str, str]) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.notices: list[str] = []

        def run() -> None:
            try:
                run_bot(
                    settings,
                    environ=environ,
                    api_url=fake.base_url,
                    poll_timeout_s=1,
                    stop=self.stop,
                    notice=self.notices.append,
                )
            except BaseException as exc:  # noqa: BLE001 - the test thread reports whatever ended it
                self.errors.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self, fake: FakeTelegram) -> None:
        self.stop.set()
        fake.interrupt_polls()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()
        assert self.errors == []


def session_state(settings: Settings) -> str:
    store = SqliteStore(str(settings.db_path))
    try:
        return store.sessions()[0].state.value
    finally:
        store.close()


def test_a_whitelisted_chat_approves_a_task_and_another_chat_is_ignored(
    tmp_path: Path, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_in(tmp_path)
    (tmp_path / ".env").write_text(f"ORCH_TELEGRAM_BOT_TOKEN={TOKEN}\nORCH_TELEGRAM_CHAT_IDS={ME}, -100200\n")
    bot = RunningBot(settings, fake, environ={})
    me = Chat(fake)
    try:
        started = me.say("/start today.md")
        assert "started: 2 tasks from today.md" in started
        wait_until(lambda: session_state(settings) == "waiting_approval", "the approval gate")
        status = me.say("/status")
        assert "✋ 1 Users table — waiting approval" in status
        assert "Task 1 waits for approval." in status
        assert "/approve 1" in status

        fake.push(STRANGER, "/approve 1", user="mallory")
        assert "waiting approval" in me.say("/status")  # processed after the stranger's message
        assert fake.sent_to(STRANGER) == []
        assert session_state(settings) == "waiting_approval"
        assert f"chat {STRANGER}" in caplog.text
        assert any(f"chat {STRANGER} (@mallory)" in n for n in bot.notices)

        group = Chat(fake, -100200)  # a whitelisted group: commands answered, chatter not
        fake.push(-100200, "morning all")
        assert "waiting approval" in group.say("/status")
        assert len(fake.sent_to(-100200)) == 1

        approved = me.say("/approve")
        assert "approved task 1" in approved
        wait_until(lambda: session_state(settings) == "completed", "the session to complete")
        done = me.say("/status")
        assert "✅ 1 Users table — completed" in done
        assert "✅ 2 Endpoint — completed" in done
        assert "/report" in done
    finally:
        bot.close(fake)
    assert TOKEN not in caplog.text
    assert fake.unauthorized == 0


def test_a_restarted_bot_does_not_replay_old_commands(tmp_path: Path, fake: FakeTelegram) -> None:
    settings = settings_in(tmp_path)
    environ = {"ORCH_TELEGRAM_BOT_TOKEN": TOKEN, "ORCH_TELEGRAM_CHAT_IDS": str(ME)}
    bot = RunningBot(settings, fake, environ)
    try:
        Chat(fake).say("/start simple.md")
        wait_until(lambda: session_state(settings) == "completed", "the session to complete")
    finally:
        bot.close(fake)
    (start,) = [u for u, update in fake.history.items() if update["message"]["text"] == "/start simple.md"]
    fake.requeue(start)  # as if the bot had died before its next poll confirmed the update
    before = len(fake.messages)
    bot = RunningBot(settings, fake, environ)
    try:
        assert "Session" in Chat(fake).say("/status")
    finally:
        bot.close(fake)
    assert len(fake.messages) == before + 1  # the answer to /status, and nothing else
    store = SqliteStore(str(settings.db_path))
    assert len(store.sessions()) == 1
    store.close()
    polls = [p for m, p in fake.calls if m == "getUpdates"]
    assert int(polls[-1]["offset"]) > start


def test_the_bot_refuses_to_start_without_a_token_or_with_a_wrong_one(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    settings = settings_in(tmp_path)
    with pytest.raises(ConfigError, match="ORCH_TELEGRAM_BOT_TOKEN"):
        run_bot(settings, environ={}, api_url=fake.base_url, stop=threading.Event())
    wrong = "999:wrong-token"
    with pytest.raises(ConfigError, match="401 Unauthorized") as caught:
        run_bot(settings, environ={"ORCH_TELEGRAM_BOT_TOKEN": wrong}, api_url=fake.base_url)
    assert wrong not in str(caught.value)
    with pytest.raises(ConfigError, match="is not a chat id"):
        run_bot(settings, environ={"ORCH_TELEGRAM_BOT_TOKEN": TOKEN, "ORCH_TELEGRAM_CHAT_IDS": "me"})


# ---- the bot over an in-memory runtime: scripted agents, questions ------------------------------


class World:
    def __init__(self, tmp_path: Path, fake: FakeTelegram, http: httpx.Client, agent: ScriptedAgent) -> None:
        tasks = tmp_path / "tasks"
        tasks.mkdir()
        (tasks / "today.md").write_text(TASKS)
        (tasks / "simple.md").write_text(SIMPLE)
        self.store = InMemoryStore()
        self.agent = agent
        settings = Settings(
            paths=PathSettings(
                tasks_dir=str(tasks), workdir=str(tmp_path), state_dir=str(tmp_path / ".orch")
            ),
            agent=AgentSettings(name="scripted"),
            base_dir=str(tmp_path),  # the day's report goes to results/ here, never into the checkout
        )
        self.runtime = Runtime(
            settings=settings,
            store=self.store,
            logs=MemoryLogs(),
            clock=FakeClock(),
            ids=SequentialIds(),
            agents=lambda _: agent,
        )
        self.worker = SessionWorker(self.runtime)
        self.bot = TelegramBot(
            api=TelegramClient(TOKEN, http, fake.base_url),
            commands=Commands(self.runtime, self.worker, "telegram"),
            chat_ids=frozenset({ME}),
            offsets=OffsetFile(tmp_path / ".orch" / "telegram.json"),
            poll_timeout_s=1,
        )
        self.fake = fake
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.bot.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def state(self) -> str:
        sessions = self.store.sessions()
        return sessions[0].state.value if sessions else "none"

    def wait_state(self, state: str) -> None:
        wait_until(lambda: self.state() == state and self.worker.idle(), f"state {state}")

    def close(self) -> None:
        self.stop.set()
        self.fake.interrupt_polls()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()


@pytest.fixture
def world(tmp_path: Path, fake: FakeTelegram, http: httpx.Client) -> Iterator[World]:
    w = World(tmp_path, fake, http, ScriptedAgent())
    yield w
    w.close()


def test_an_answer_sent_in_the_chat_reaches_the_agent_that_asked(
    tmp_path: Path, fake: FakeTelegram, http: httpx.Client
) -> None:
    def ask(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(
            Outcome.SUCCEEDED, exit_code=0, final_text="Done half.\n\nWhich database: Postgres or SQLite?"
        )

    def continue_with_answer(request: AgentRequest, _: EventSink) -> AgentResult:
        assert "Postgres, version 16" in request.prompt
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="Done.")

    agent = ScriptedAgent(scripts={"1": [ask, continue_with_answer]})
    world = World(tmp_path, fake, http, agent)
    me = Chat(fake)
    try:
        me.say("/start simple.md")
        world.wait_state("waiting_answer")
        asked = me.say("/status")
        assert "❓ 1 Only — waiting answer" in asked
        assert "Task 1 waits for an answer." in asked
        assert "/answer TEXT" in asked
        answered = me.say("/answer Postgres, version 16")
        assert "answered task 1" in answered
        world.wait_state("completed")
    finally:
        world.close()
    assert [r.attempt for r in agent.requests] == [1, 2]
    sid = world.store.sessions()[0].id
    assert any(e.data.get("text") == "Postgres, version 16" for e in world.store.events(sid))
    assert world.store.load(sid).run("1").answer == "Postgres, version 16"


def test_refusals_and_help_are_answered_in_words(world: World, fake: FakeTelegram) -> None:
    me = Chat(fake)
    assert "no session yet" in me.say("/status")
    helped = me.say("/start")
    assert "/start FILE [new] [auto]" in helped
    assert "/start simple.md\n/start today.md" in helped
    assert "'..' is not allowed" in me.say("/start ../x.md")
    assert "usage: /skip T" in me.say("/skip")
    assert "unknown command /frobnicate" in me.say("/frobnicate")
    assert "Send a command" in me.say("hello?")
    me.say("/start today.md")
    world.wait_state("waiting_approval")
    refused = me.say("/pause@orch_test_bot")
    assert "paused" in refused
    no = me.say("/approve")
    assert no.startswith("✗ cannot approve")
    assert "Allowed now: /resume" in no
    assert "/resume" in me.say("/logs")
    assert "task 7 is not in session" in me.say("/logs 7 5")
    fake.push(ME, "/status@another_bot")  # for another bot in a group: not ours to answer
    assert "Session" in me.say("/status")
    assert all("another_bot" not in m.shown for m in fake.sent_to(ME))


def test_a_command_sent_long_ago_is_not_run(world: World, fake: FakeTelegram) -> None:
    fake.push(ME, "/start simple.md", date=time.time() - 3600)
    fake.wait_messages(ME, 1)
    assert "was sent 60 minutes ago" in fake.sent_to(ME)[0].shown
    assert world.store.sessions() == []


def test_the_bot_rides_out_telegram_errors(world: World, fake: FakeTelegram) -> None:
    fake.fail("getUpdates", 502)
    fake.fail("sendMessage", 429, retry_after=1)
    assert "commands" in Chat(fake).say("/help")
    assert [m for m, _ in fake.calls].count("sendMessage") == 2


# ---- the client and the notifier -----------------------------------------------------------------


def notification(**fields: object) -> Notification:
    values: dict[str, object] = {
        "key": "s1:approval:1",
        "session_id": "s1",
        "kind": NotificationKind.APPROVAL_NEEDED,
        "title": "Task 1 (Users table) needs approval",
        "text": "It changes the database.",
        "created_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        "task_id": "1",
        "actions": ("approve 1", "reject 1"),
    }
    values.update(fields)
    return Notification(**values)  # type: ignore[arg-type]


SPECIAL = "_*[]()~`>#+-=|{}.!\\ and 1.5 * 2 = [x](y) `code` ~x~ ||s|| -> ok!"


def test_the_notifier_sends_title_text_and_actions_escaped(fake: FakeTelegram, http: httpx.Client) -> None:
    notifier = TelegramNotifier(TOKEN, [ME, -100200], http, fake.base_url)
    notifier.send(notification(title=f"Title {SPECIAL}", text=f"Text {SPECIAL}"))
    for chat in (ME, -100200):
        (sent,) = fake.sent_to(chat)
        assert sent.parse_mode == "MarkdownV2"
        assert sent.text.startswith("*Title ")
        assert sent.shown == f"Title {SPECIAL}\n\nText {SPECIAL}\n\nNext: /approve 1   /reject 1"


def test_a_long_text_is_split_and_a_huge_one_truncated(fake: FakeTelegram, http: httpx.Client) -> None:
    client = TelegramClient(TOKEN, http, fake.base_url)
    lines = [f"line {i}: a.b-c (d) {'x' * (i % 50)}" for i in range(400)]
    text = "\n".join(lines)
    ids = client.send_message(ME, text, title="Logs")
    parts = fake.sent_to(ME)
    assert len(ids) == len(parts) > 1
    assert all(len(p.shown) <= 4096 for p in parts)
    assert parts[0].shown.startswith("Logs\n\nline 0:")
    assert "\n".join(p.shown for p in parts) == "Logs\n\n" + text  # split at line ends, nothing lost

    emoji = "🙂" * 3000  # 2 UTF-16 units each: Telegram counts those
    client.send_message(-1, emoji, parse_mode=None)
    assert [len(p.shown) for p in fake.sent_to(-1)] == [2048, 952]

    client.send_message(-2, "word. " * 20_000, max_parts=3)
    huge = fake.sent_to(-2)
    assert len(huge) == 3
    assert huge[-1].shown.endswith("… (truncated)")


def test_rate_limits_and_outages_are_retryable_and_never_show_the_token(
    fake: FakeTelegram, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = TelegramNotifier(TOKEN, [ME], http, fake.base_url)
    fake.fail("sendMessage", 429, retry_after=7)
    with pytest.raises(TelegramError) as limited:
        notifier.send(notification())
    assert limited.value.retryable is True
    assert limited.value.retry_after == 7
    assert "429" in str(limited.value)
    fake.fail("sendMessage", 500)
    with pytest.raises(NotifyError) as down:
        notifier.send(notification())
    assert down.value.retryable is True
    fake.fail("sendMessage", 403)
    with pytest.raises(NotifyError) as blocked:
        notifier.send(notification())
    assert blocked.value.retryable is False
    assert "blocked" in str(blocked.value)

    wrong = TelegramNotifier("42:not-the-token", [ME], http, fake.base_url)
    with pytest.raises(NotifyError) as unauthorized:
        wrong.send(notification())
    assert unauthorized.value.retryable is False
    assert "401 Unauthorized" in str(unauthorized.value)

    port = fake.server.server_address[1]
    fake.close()
    with pytest.raises(NotifyError) as refused:
        TelegramNotifier(TOKEN, [ME], http, f"http://127.0.0.1:{port}").send(notification())
    assert refused.value.retryable is True

    for shown in (limited, down, blocked, refused):
        assert TOKEN not in str(shown.value)
        assert TOKEN not in repr(shown.value)
        assert shown.value.__cause__ is None
    assert "42:not-the-token" not in str(unauthorized.value)
    assert TOKEN not in repr(notifier)
    assert TOKEN not in caplog.text
    assert "bot***" in caplog.text  # httpx logged the requests, token hidden


def test_a_retried_notification_reaches_each_chat_once(fake: FakeTelegram, http: httpx.Client) -> None:
    notifier = TelegramNotifier(TOKEN, [ME, STRANGER], http, fake.base_url)
    fake.fail("sendMessage", 502, after=1)  # the first chat is served, the second gets a 502
    with pytest.raises(NotifyError) as partly:
        notifier.send(notification())
    assert partly.value.retryable is True
    assert "1 of 2 chats failed" in str(partly.value)
    assert (len(fake.sent_to(ME)), len(fake.sent_to(STRANGER))) == (1, 0)
    notifier.send(notification())  # the outbox retries: only the chat that missed it gets it
    assert (len(fake.sent_to(ME)), len(fake.sent_to(STRANGER))) == (1, 1)
    notifier.send(notification(key="another"))
    assert (len(fake.sent_to(ME)), len(fake.sent_to(STRANGER))) == (2, 2)


def test_orch_telegram_command_explains_what_is_missing(tmp_path: Path, fake: FakeTelegram) -> None:
    settings_in(tmp_path)
    cli = typer.Typer()
    cli.command()(telegram_command)
    env = {"ORCH_TELEGRAM_BOT_TOKEN": None, "ORCH_TELEGRAM_CHAT_IDS": None, "ORCH_CONFIG": None}
    args = ["--config", str(tmp_path / "orch.yaml"), "--api-url", fake.base_url]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == BAD_INPUT
    assert "no Telegram bot token: set ORCH_TELEGRAM_BOT_TOKEN" in result.stderr
    result = CliRunner().invoke(cli, args, env={**env, "ORCH_TELEGRAM_BOT_TOKEN": "1:revoked"})
    assert result.exit_code == BAD_INPUT
    assert "401 Unauthorized" in result.stderr
    assert "1:revoked" not in result.stderr
