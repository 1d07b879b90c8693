"""`orch telegram`: remote control through a Telegram bot, without n8n.

Long-polls getUpdates; obeys only whitelisted chats (others are logged with their
chat id and never answered); runs each command through the same use cases as the
webhook (:class:`apps.commands.Commands`) and answers with the session's progress.
Sessions it starts or resumes are driven by one long-lived engine thread
(:class:`apps.worker.SessionWorker`). The last update id is kept in the state
directory, so a restart does not replay old commands.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from apps.commands import CommandError, Commands, from_orch_error, task_files
from apps.telegram.replies import CHAT_HELP, Reply, help_reply, refused, success
from apps.web import schema
from orchcore.errors import ConfigError, NotifyError, OrchError
from orchcore.service import build_report, resolve_session

if TYPE_CHECKING:
    from apps.settings import Settings

log = logging.getLogger("apps.telegram")

OFFSET_FILE = "telegram.json"
POLL_TIMEOUT_S = 30.0
MAX_AGE_S = 600.0  # older commands (sent while the bot was down) are not run
HTTP_TIMEOUT_S = 15.0
MAX_BACKOFF_S = 60.0
LOG_LINES = 20
SEND_ATTEMPTS = 3
_COMMAND = re.compile(r"/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)")


class BotIdentity(Protocol):
    """Who the bot is (getMe)."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


class Incoming(Protocol):
    """One update; ``chat_id`` is None when it carries no message."""

    @property
    def update_id(self) -> int: ...

    @property
    def chat_id(self) -> int | None: ...

    @property
    def text(self) -> str: ...

    @property
    def sender(self) -> str: ...

    @property
    def date(self) -> int: ...


class BotApi(Protocol):
    """The Bot API calls the bot makes; failures are NotifyError (``retryable`` or not)."""

    def get_me(self) -> BotIdentity:
        """The bot; a non-retryable error means a bad token."""
        ...

    def get_updates(self, offset: int | None, timeout: float) -> Sequence[Incoming]:
        """Updates from ``offset`` on, waiting up to ``timeout`` seconds for one."""
        ...

    def send_message(self, chat_id: int, text: str, *, title: str | None = None) -> list[int]:
        """Send plain ``text`` under a bold ``title``, split as needed."""
        ...


@attrs.frozen
class ChatCommand:
    """A command as typed: ``/approve@bot 3`` is name ``approve``, args ``3``."""

    name: str
    args: str


def parse_command(text: str, bot_username: str = "") -> ChatCommand | None:
    """The command in a message, or None (plain text, or a command for another bot)."""
    text = text.strip()
    match = _COMMAND.match(text)
    if match is None:
        return None
    mention = match.group(2)
    if mention and bot_username and mention.lower() != bot_username.lower():
        return None
    return ChatCommand(match.group(1).lower(), text[match.end() :].strip())


def _usage(name: str) -> CommandError:
    usage = next((u for u in CHAT_HELP if u.split()[0] == f"/{name}"), f"/{name}")
    return CommandError("validation", f"usage: {usage} — {CHAT_HELP.get(usage, '')}".rstrip(" —"))


def to_request(command: ChatCommand, task_ids: Callable[[], Collection[str]]) -> tuple[str, dict[str, Any]]:
    """The remote command and its params (``schema.PARAMS``) for a chat command.
    ``task_ids`` tells a task id from a word (``/reject 3 why`` vs ``/reject why``)."""
    name, words = command.name, command.args.split()
    params: dict[str, Any] = {}
    if name == "start":
        flags = {w.lower() for w in words[1:]}
        if not words or not flags <= {"new", "auto"}:
            raise _usage(name)
        params = {"file": words[0], "new": "new" in flags, "auto_approve": "auto" in flags}
    elif name in ("status", "pause", "resume", "cancel"):
        params = {"session": words[0]} if words else {}
    elif name == "approve":
        params = {"task": words[0]} if words else {}
    elif name == "reject":
        if words and words[0] in task_ids():
            params = {"task": words[0], "reason": command.args[len(words[0]) :].strip()}
        else:
            params = {"reason": command.args}
    elif name in ("skip", "retry"):
        if len(words) != 1:
            raise _usage(name)
        params = {"task": words[0]}
    elif name == "answer":
        if not command.args:
            raise _usage(name)
        params = {"text": command.args}
    elif name == "logs":
        params = _logs_params(words, task_ids)
    else:
        raise CommandError("not_found", f"unknown command /{name}; /help lists the commands")
    problems = schema.validate(params, schema.PARAMS[name])
    if problems:
        raise CommandError("validation", problems[0], problems[1:] or None)
    return name, params


def _logs_params(words: list[str], task_ids: Callable[[], Collection[str]]) -> dict[str, Any]:
    numbers = [w.isdigit() for w in words]
    if not words:
        return {"lines": LOG_LINES}
    if len(words) == 1 and numbers[0] and words[0] not in task_ids():
        return {"lines": int(words[0])}  # `/logs 50`: the session's last 50 events
    if len(words) > 2 or (len(words) == 2 and not numbers[1]):
        raise _usage("logs")
    return {"task": words[0], "lines": int(words[1]) if len(words) == 2 else LOG_LINES}


@attrs.define
class OffsetFile:
    """The next update id to ask for, per bot, in a small JSON file (written atomically)."""

    path: Path

    def load(self, bot_id: int) -> int | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return None
        if not isinstance(data, dict) or data.get("bot_id") != bot_id:
            return None  # another bot's offset means nothing to this one
        offset = data.get("offset")
        return offset if isinstance(offset, int) else None

    def save(self, bot_id: int, offset: int) -> None:
        """Keep ``offset``; a failure is logged, not raised (the bot goes on; a restart
        may then see the last commands again, and Telegram's own offset still holds)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"bot_id": bot_id, "offset": offset}), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            log.error("cannot keep the Telegram offset in %s: %s", self.path, exc)  # noqa: TRY400


def _quiet(_: str) -> None:
    pass


@attrs.define
class TelegramBot:
    """The polling loop: one update at a time, in the thread that calls :meth:`run`."""

    api: BotApi
    commands: Commands
    chat_ids: frozenset[int]
    offsets: OffsetFile
    poll_timeout_s: float = POLL_TIMEOUT_S
    max_age_s: float = MAX_AGE_S
    wall: Callable[[], float] = time.time
    notice: Callable[[str], None] = _quiet
    username: str = ""
    _ignored: set[int] = attrs.field(factory=set)

    def run(self, stop: threading.Event) -> None:
        """Poll and answer until ``stop`` is set (or Ctrl-C); the engine thread lives as long.
        ConfigError when Telegram refuses the token or another program polls this bot."""
        driver = self.commands.driver
        driver.start()
        try:
            me = self._connect(stop)
            if me is None:
                return
            self.username = me.username
            offset = self.offsets.load(me.id)
            self.notice(f"polling as @{me.username}; allowed chats: {sorted(self.chat_ids) or 'none yet'}")
            delay = 0.0
            while not stop.is_set():
                try:
                    updates = self.api.get_updates(offset, self.poll_timeout_s)
                except NotifyError as exc:
                    if not exc.retryable:
                        raise ConfigError(f"Telegram refused getUpdates: {exc}") from None
                    delay = _backoff(delay, exc)
                    log.warning("getUpdates failed, next try in %.0fs: %s", delay, exc)
                    stop.wait(delay)
                    continue
                delay = 0.0
                for update in updates:
                    reply = self.handle(update)
                    offset = update.update_id + 1
                    self.offsets.save(me.id, offset)  # before answering: a command never runs twice
                    if reply is not None and update.chat_id is not None:
                        self._send(update.chat_id, reply, stop)
        finally:
            driver.stop()

    def _connect(self, stop: threading.Event) -> BotIdentity | None:
        delay = 0.0
        while not stop.is_set():
            try:
                return self.api.get_me()
            except NotifyError as exc:
                if not exc.retryable:
                    raise ConfigError(
                        f"Telegram refused the bot: {exc}; check ORCH_TELEGRAM_BOT_TOKEN"
                    ) from None
                delay = _backoff(delay, exc)
                log.warning("getMe failed, next try in %.0fs: %s", delay, exc)
                stop.wait(delay)
        return None

    def handle(self, update: Incoming) -> Reply | None:
        """Decide and do what ``update`` asks; the reply, or None to say nothing."""
        chat = update.chat_id
        if chat is None:
            return None
        if chat not in self.chat_ids:
            log.warning(
                "ignored a Telegram message from chat %s (@%s): not an allowed chat", chat, update.sender
            )
            if chat not in self._ignored:
                self._ignored.add(chat)
                self.notice(
                    f"ignored a message from chat {chat} (@{update.sender}); "
                    "add it to ORCH_TELEGRAM_CHAT_IDS to obey it"
                )
            return None
        command = parse_command(update.text, self.username)
        if command is None:  # chatter: a hint in a private chat (ids > 0), silence in a group
            return Reply("Send a command: /help lists them.") if chat > 0 and update.text.strip() else None
        age = self.wall() - update.date
        if update.date and age > self.max_age_s:
            log.warning("not running /%s from chat %s: sent %.0fs ago", command.name, chat, age)
            return Reply(
                f"✗ not done: /{command.name} was sent {age / 60:.0f} minutes ago, while the bot was away",
                "Send it again if you still mean it.",
            )
        reply = self._execute(command)
        log.info("chat %s: /%s -> %s", chat, command.name, reply.title)
        return reply

    def _execute(self, command: ChatCommand) -> Reply:
        rt = self.commands.runtime
        try:
            if command.name == "help" or (command.name == "start" and not command.args):
                return help_reply(task_files(rt.settings))
            if command.name == "report":
                sid = resolve_session(rt.store, None)
                text = build_report(rt.store, rt.logs, rt.clock, sid, rt.settings.budget_policy())
                return Reply(f"Report of session {sid}", text)
            name, params = to_request(command, self._task_ids)
            return success(self.commands.execute(name, params))
        except CommandError as exc:
            return refused(exc.code, exc.message, exc.details)
        except OrchError as exc:
            refusal = from_orch_error(exc)
            return refused(refusal.code, refusal.message, refusal.details)
        except Exception:
            log.exception("telegram command /%s failed", command.name)
            return Reply("✗ internal error; the orch log has the details")

    def _task_ids(self) -> Collection[str]:
        store = self.commands.runtime.store
        sessions = store.sessions()
        return store.load(sessions[0].id).plan.ids if sessions else ()

    def _send(self, chat_id: int, reply: Reply, stop: threading.Event) -> None:
        delay = 0.0
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                self.api.send_message(chat_id, reply.text, title=reply.title)
            except NotifyError as exc:
                if not exc.retryable or attempt == SEND_ATTEMPTS:
                    log.error("could not answer chat %s: %s", chat_id, exc)  # noqa: TRY400 - no traceback
                    return
                delay = _backoff(delay, exc)
                if stop.wait(delay):
                    return
            else:
                return


def _backoff(previous: float, exc: NotifyError) -> float:
    """The next wait: what Telegram asked for (429), else doubling from 1s up to a minute."""
    asked = getattr(exc, "retry_after", None)
    if isinstance(asked, int | float) and asked > 0:
        return min(float(asked), MAX_BACKOFF_S)
    return min(max(1.0, previous * 2), MAX_BACKOFF_S)


def run_bot(
    settings: Settings,
    *,
    environ: dict[str, str] | None = None,
    api_url: str | None = None,
    poll_timeout_s: float = POLL_TIMEOUT_S,
    stop: threading.Event | None = None,
    notice: Callable[[str], None] = _quiet,
) -> None:
    """Wire the bot from settings and secrets, and run it until ``stop`` (or Ctrl-C), with the
    notification sender running meanwhile (as under `orch serve`).

    ConfigError without a token, or when Telegram refuses it.
    """
    import httpx

    from apps.bootstrap import build_runtime, telegram_api
    from apps.notify import sending
    from apps.secrets import TELEGRAM_CHAT_IDS, TELEGRAM_TOKEN, telegram_chat_ids, telegram_token
    from apps.worker import SessionWorker

    token = telegram_token(settings, environ)
    if token is None:
        raise ConfigError(
            f"no Telegram bot token: set {TELEGRAM_TOKEN} in the environment or in a .env file next "
            "to the config file (create a bot with @BotFather to get one)"
        )
    chat_ids = telegram_chat_ids(settings, environ)
    if not chat_ids:
        notice(
            f"{TELEGRAM_CHAT_IDS} is empty: every message is ignored, and the chat ids of those who "
            "write to the bot are printed here"
        )
    runtime = build_runtime(settings)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
            try:
                api = telegram_api(token.reveal(), http, api_url)
            except ConfigError as exc:
                raise ConfigError(f"{TELEGRAM_TOKEN}: {exc}") from None
            bot = TelegramBot(
                api=api,
                commands=Commands(runtime, SessionWorker(runtime, name="orch-telegram-engine"), "telegram"),
                chat_ids=frozenset(chat_ids),
                offsets=OffsetFile(settings.state_dir / OFFSET_FILE),
                poll_timeout_s=poll_timeout_s,
                notice=notice,
            )
            with sending(runtime):  # notifications (to Telegram too, if configured) meanwhile
                bot.run(stop or threading.Event())
    finally:
        runtime.close()
