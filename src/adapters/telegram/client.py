"""A small typed client of the Telegram Bot API (getMe, getUpdates, sendMessage) on an
injected ``httpx.Client``.

Errors are translated here: every failure is a :class:`TelegramError` (a NotifyError)
whose ``retryable`` says whether a later try may help (network, timeouts, 5xx, 429
with ``retry_after``) or not (401 bad token, 400 bad request, 403 blocked, 409 another
poller); a malformed token is a ConfigError at once. The token is part of every URL;
it is scrubbed from error texts, never in a repr, and hidden from httpx's own request
log lines (a filter on the ``httpx`` and ``httpcore`` loggers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs
import httpx

from orchcore.errors import ConfigError, NotifyError

API_URL = "https://api.telegram.org"
MAX_MESSAGE = 4096  # characters (UTF-16 code units) per message
MAX_PARTS = 5  # a longer text is cut, ending with TRUNCATED
TRUNCATED = "\n… (truncated)"
POLL_MARGIN_S = 10.0
IDEMPOTENCY_HEADER = "Idempotency-Key"  # a long poll's HTTP read timeout is its own timeout plus this

# MarkdownV2: every one of these must be escaped outside entities (core.telegram.org/bots/api#markdownv2-style)
MARKDOWN_SPECIAL = frozenset("_*[]()~`>#+-=|{}.!\\")


class TelegramError(NotifyError):
    """A Bot API call failed. ``status`` is the HTTP status (None: no answer);
    ``retry_after`` the seconds Telegram asked to wait (429 only)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status
        self.retry_after = retry_after


@attrs.frozen
class BotUser:
    """Who the bot is (getMe)."""

    id: int
    username: str
    first_name: str


@attrs.frozen
class Update:
    """One incoming update, reduced to what a command bot needs.

    ``chat_id`` is None for updates that carry no message (edits, callbacks,
    channel posts...); they still advance the offset. ``date`` is Unix seconds.
    """

    update_id: int
    chat_id: int | None = None
    text: str = ""
    sender: str = ""
    date: int = 0
    message_id: int | None = None


def escape_markdown(text: str) -> str:
    """``text`` for parse_mode MarkdownV2, shown exactly as given."""
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in text)


def _markdown_units(c: str) -> int:
    """Telegram counts UTF-16 code units; an escaped character counts twice (conservative:
    the limit applies after parsing, where the backslash is gone)."""
    units = 2 if ord(c) > 0xFFFF else 1
    return units * 2 if c in MARKDOWN_SPECIAL else units


def _plain_units(c: str) -> int:
    return 2 if ord(c) > 0xFFFF else 1


def cost(text: str, *, markdown: bool = True) -> int:
    """Length of ``text`` as sent (escaped when ``markdown``), in UTF-16 code units."""
    units = _markdown_units if markdown else _plain_units
    return sum(units(c) for c in text)


def _cut(text: str, budget: int, units: Callable[[str], int]) -> int:
    """Where to end a piece of ``text`` that costs at most ``budget``: at a line break or a
    space in its second half if there is one, else as late as the budget allows."""
    spent = 0
    end = 0
    for i, c in enumerate(text):
        spent += units(c)
        if spent > budget:
            break
        end = i + 1
    else:
        return len(text)
    for sep in ("\n", " "):
        at = text.rfind(sep, 0, end)
        if at > end // 2:
            return at + 1
    return max(end, 1)


def split_text(
    text: str, budget: int = MAX_MESSAGE, first_budget: int | None = None, *, markdown: bool = True
) -> list[str]:
    """``text`` in pieces that each fit one message as sent (``first_budget`` for the first
    piece, which may carry a heading); no piece is empty unless ``text`` is."""
    units = _markdown_units if markdown else _plain_units
    pieces: list[str] = []
    rest = text
    while rest:
        limit = first_budget if not pieces and first_budget is not None else budget
        end = _cut(rest, limit, units)
        piece = rest[:end].rstrip("\n")
        if piece:
            pieces.append(piece)
        rest = rest[end:]
    return pieces or [""]


class _TokenRedactor(logging.Filter):
    """Hides bot tokens in the records of httpx's logger ('HTTP Request: POST .../bot<TOKEN>/...')."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.lock = threading.Lock()

    def add(self, token: str) -> None:
        with self.lock:
            self.tokens.add(token)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for token in tuple(self.tokens):
            hidden = hidden.replace(token, "***")
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_REDACTOR = _TokenRedactor()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_REDACTOR)


class TelegramClient:
    """Bot API calls for one bot. The ``httpx.Client`` is the caller's (its timeout bounds
    every call but long polls); this object never closes it."""

    def __init__(self, token: str, client: httpx.Client, base_url: str = API_URL) -> None:
        if not token or any(c.isspace() or c == "/" for c in token):
            raise ConfigError("the Telegram bot token is empty or malformed (expected 123456:ABC...)")
        self._token = token
        self._client = client
        self._base = base_url.rstrip("/")
        _REDACTOR.add(token)

    def __repr__(self) -> str:
        return f"TelegramClient(base_url={self._base!r}, token='***')"

    def scrub(self, text: str) -> str:
        """``text`` with the token hidden."""
        return text.replace(self._token, "***")

    def get_me(self) -> BotUser:
        """The bot itself; a TelegramError(retryable=False) means the token is wrong."""
        result = self._call("getMe", {})
        return BotUser(int(result["id"]), str(result.get("username", "")), str(result.get("first_name", "")))

    def get_updates(self, offset: int | None, timeout: float, *, limit: int = 100) -> list[Update]:
        """Updates from ``offset`` on (which confirms all before it), waiting up to ``timeout``
        seconds for one to arrive (long polling)."""
        payload: dict[str, Any] = {"timeout": max(0, int(timeout)), "limit": limit}
        if offset is not None:
            payload["offset"] = offset
        result = self._call("getUpdates", payload, timeout=timeout + POLL_MARGIN_S)
        if not isinstance(result, list):
            raise TelegramError("Telegram getUpdates: the answer is not a list", retryable=True)
        return [_update(item) for item in result if isinstance(item, dict) and "update_id" in item]

    def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = "MarkdownV2",
        title: str | None = None,
        max_parts: int = MAX_PARTS,
        key: str | None = None,
    ) -> list[int]:
        """Send plain ``text`` (escaped for MarkdownV2, so shown as given), led by ``title`` in
        bold; split into as many messages as it needs, at most ``max_parts`` (the rest is cut
        and marked). Returns the message ids. A failure after some parts raises, naming them.

        ``key`` goes along as an ``Idempotency-Key`` header (``key#2``... for later parts):
        Telegram ignores it, proxies and stand-ins can tell one message from its retry."""
        parts = self._render(text, title, markdown=parse_mode == "MarkdownV2", max_parts=max(1, max_parts))
        sent: list[int] = []
        for number, part in enumerate(parts, 1):
            payload: dict[str, Any] = {"chat_id": chat_id, "text": part, "disable_web_page_preview": True}
            if parse_mode:
                payload["parse_mode"] = parse_mode
            headers = {} if key is None else {IDEMPOTENCY_HEADER: key if number == 1 else f"{key}#{number}"}
            try:
                result = self._call("sendMessage", payload, headers=headers)
            except TelegramError as exc:
                if sent:
                    exc.args = (f"{exc.args[0]} (after {len(sent)} of {len(parts)} parts)",)
                raise
            sent.append(int(result.get("message_id", 0)) if isinstance(result, dict) else 0)
        return sent

    def _render(self, text: str, title: str | None, *, markdown: bool, max_parts: int) -> list[str]:
        escape = escape_markdown if markdown else str
        heading = ""
        if title:
            heading = (f"*{escape(title)}*" if markdown else title) + ("\n\n" if text else "")
            if cost(heading, markdown=False) > MAX_MESSAGE // 2:  # an absurd title joins the text
                text, heading = f"{title}\n\n{text}", ""
        first = MAX_MESSAGE - cost(heading, markdown=False)
        pieces = split_text(text, MAX_MESSAGE, first, markdown=markdown)
        if len(pieces) > max_parts:
            room = (first if max_parts == 1 else MAX_MESSAGE) - cost(TRUNCATED, markdown=markdown)
            last = split_text(pieces[max_parts - 1], room, markdown=markdown)[0]
            pieces = [*pieces[: max_parts - 1], last + TRUNCATED]
        rendered = [escape(p) for p in pieces]
        rendered[0] = heading + rendered[0]
        return [r for r in rendered if r]

    def _call(
        self,
        method: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST ``payload`` as JSON to ``method``; the ``result`` of an ok answer."""
        url = f"{self._base}/bot{self._token}/{method}"
        what = f"Telegram {method}"
        try:
            if timeout is None:
                response = self._client.post(url, json=payload, headers=headers)
            else:
                long_poll = httpx.Timeout(10.0, read=timeout)
                response = self._client.post(url, json=payload, headers=headers, timeout=long_poll)
        except httpx.TimeoutException:
            raise TelegramError(f"{what}: timed out", retryable=True) from None
        except httpx.HTTPError as exc:
            # the exception's text may hold the URL, so the token: scrub, and do not chain it
            detail = self.scrub(str(exc)) or type(exc).__name__
            raise TelegramError(f"{what}: {detail}", retryable=True) from None
        return self._result(what, response)

    def _result(self, what: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if status == 200 and body.get("ok") is True:
            return body.get("result")
        description = self.scrub(str(body.get("description") or response.reason_phrase or "no description"))
        if status == 429:
            retry_after = _seconds(_object(body.get("parameters")).get("retry_after"))
            if retry_after is None:
                retry_after = _seconds(response.headers.get("retry-after"))
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            raise TelegramError(
                f"{what}: 429 {description}{wait}", retryable=True, status=status, retry_after=retry_after
            )
        retryable = status >= 500 or status == 200  # 200 with ok:false is not the API speaking
        hint = {
            401: " (the bot token is wrong or revoked)",
            403: " (the bot cannot write to this chat: blocked, or never started?)",
            409: " (another program is polling this bot, or a webhook is set for it)",
        }.get(status, "")
        raise TelegramError(f"{what}: {status} {description}{hint}", retryable=retryable, status=status)


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _update(item: dict[str, Any]) -> Update:
    update_id = int(item["update_id"])
    message = item.get("message")
    if not isinstance(message, dict):
        return Update(update_id)
    chat_id = _object(message.get("chat")).get("id")
    sender = _object(message.get("from"))
    return Update(
        update_id=update_id,
        chat_id=int(chat_id) if isinstance(chat_id, int) else None,
        text=str(message.get("text") or ""),
        sender=str(sender.get("username") or sender.get("first_name") or ""),
        date=int(message.get("date") or 0),
        message_id=int(message["message_id"]) if isinstance(message.get("message_id"), int) else None,
    )
