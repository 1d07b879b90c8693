"""A fake Telegram Bot API on 127.0.0.1, speaking the real wire format.

``POST|GET /bot<TOKEN>/<method>`` with a JSON, form or query-string body, answering
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``:

- ``getMe``; ``getUpdates`` (``offset`` confirms every update before it, ``timeout``
  holds the request until an update is queued or the time passes: long polling);
- ``sendMessage``: recorded (``messages``), parse modes checked as Telegram does
  (MarkdownV2: a reserved character not escaped; legacy Markdown: an unbalanced ``_``,
  ``*`` or `````; HTML: an unknown or unclosed tag: each a 400 "can't parse entities"); more than 4096
  characters after parsing is a 400 "message is too long");
- ``setWebhook`` / ``getWebhookInfo`` / ``deleteWebhook`` (what n8n's Telegram
  Trigger calls on activation), recorded in ``webhook``.

A wrong token gets 401 Unauthorized. ``fail(method, status, ...)`` queues error
answers (429 with ``retry_after``, 500, ...) for the next calls of ``method``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

JsonDict = dict[str, Any]
RESERVED = "_*[]()~`>#+-=|{}.!"
ENTITY_MARKS = "*_~|`"  # bold, italic/underline, strikethrough, spoiler, code
MAX_TEXT = 4096
BOT = {"id": 4242, "is_bot": True, "first_name": "Orch", "username": "orch_test_bot"}


@attrs.frozen
class Sent:
    """A message the bot sent: the raw text, and what a human sees (escapes and marks gone)."""

    chat_id: int
    text: str
    parse_mode: str | None
    shown: str
    message_id: int
    key: str | None = None  # the Idempotency-Key header, if the client sent one


@attrs.define
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    skip: int = 0  # calls to let through first


def parse_markdown_v2(text: str) -> str:
    """What Telegram shows for ``text``; ValueError with Telegram's message when it would refuse."""
    shown: list[str] = []
    open_marks: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise ValueError("Can't parse entities: can't find end of escape sequence")
            shown.append(text[i + 1])
            i += 2
            continue
        if c in ENTITY_MARKS:
            mark = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else c
            if open_marks and open_marks[-1] == mark:
                open_marks.pop()
            else:
                open_marks.append(mark)
            i += len(mark)
            continue
        if c in RESERVED:
            raise ValueError(
                f"Can't parse entities: character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        shown.append(c)
        i += 1
    if open_marks:
        raise ValueError(
            f"Can't parse entities: can't find end of the entity starting with '{open_marks[0]}'"
        )
    return "".join(shown)


LEGACY_ESCAPABLE = "_*`["
HTML_TAGS = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    ]
)
HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_markdown_legacy(text: str) -> str:
    """What Telegram shows for ``text`` in legacy Markdown: ``*bold*``, ``_italic_``,
    `` `code` ``, ```` ```pre``` ````, ``[text](url)``; ``\\`` escapes ``_*`[`` only.
    An entity that does not end is refused, as Telegram does."""
    shown: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in LEGACY_ESCAPABLE:
            shown.append(text[i + 1])
            i += 2
            continue
        if c in "*_`[":
            if c == "[":
                link = re.match(r"\[([^\]]*)\]\(([^)]*)\)", text[i:])
                end, inner = (i + link.end(), link.group(1)) if link else (-1, "")
            else:
                mark = "```" if text.startswith("```", i) else c
                close = text.find(mark, i + len(mark))
                end, inner = (close + len(mark), text[i + len(mark) : close]) if close >= 0 else (-1, "")
            if end < 0:
                offset = len(text[:i].encode("utf-8"))
                raise ValueError(
                    f"Can't parse entities: can't find end of the entity starting at byte offset {offset}"
                )
            shown.append(inner)
            i = end
            continue
        shown.append(c)
        i += 1
    return "".join(shown)


def parse_html(text: str) -> str:
    """What Telegram shows for ``text`` in HTML mode: known tags only, closed in order;
    ``<`` must open a tag and ``&name;`` must be a known entity."""
    shown: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "<":
            tag = re.match(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>", text[i:])
            if tag is None or tag.group(2).lower() not in HTML_TAGS:
                raise ValueError(
                    f"Can't parse entities: unsupported start tag at byte offset {len(text[:i].encode())}"
                )
            name = tag.group(2).lower()
            if tag.group(1):
                if not stack or stack[-1] != name:
                    raise ValueError(f"Can't parse entities: unmatched end tag {name}")
                stack.pop()
            else:
                stack.append(name)
            i += tag.end()
            continue
        if c == "&":
            entity = re.match(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if entity:
                name = entity.group(1)
                if name.startswith("#"):
                    shown.append(chr(int(name, 0) if name[1] in "xX" else int(name[1:])))
                elif name in HTML_ENTITIES:
                    shown.append(HTML_ENTITIES[name])
                else:
                    raise ValueError(f"Can't parse entities: unsupported HTML entity &{name};")
                i += entity.end()
                continue
        shown.append(c)
        i += 1
    if stack:
        raise ValueError(f"Can't parse entities: can't find end tag corresponding to start tag {stack[-1]}")
    return "".join(shown)


def telegram_shows(text: str, parse_mode: str | None) -> str:
    """What Telegram shows for ``text`` sent with ``parse_mode``; ValueError as Telegram's 400."""
    if parse_mode == "MarkdownV2":
        return parse_markdown_v2(text)
    if parse_mode == "Markdown":
        return parse_markdown_legacy(text)
    if parse_mode == "HTML":
        return parse_html(text)
    if parse_mode:
        raise ValueError(f"Unsupported parse_mode {parse_mode}")
    return text


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    """The fake API; ``base_url`` is what a client's ``base_url`` should be."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Condition()
        self.updates: list[JsonDict] = []
        self.history: dict[int, JsonDict] = {}  # every update ever queued
        self.generation = 0  # bumped by interrupt_polls
        self.next_update_id = 100
        self.messages: list[Sent] = []
        self.calls: list[tuple[str, JsonDict]] = []
        self.failures: dict[str, deque[Failure]] = {}
        self.webhook: JsonDict = {}
        self.unauthorized = 0
        self.closing = False
        fake = self

        self.connections: set[socket.socket] = set()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections.add(self.connection)

            def finish(self) -> None:
                with fake.lock:
                    fake.connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                fake.handle(self)

            def do_POST(self) -> None:
                fake.handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        """Stop serving, and cut kept-alive connections too: clients see the server gone."""
        with self.lock:
            self.closing = True
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)

    # ---- what tests do -------------------------------------------------------------------------

    def push(self, chat_id: int, text: str, *, user: str = "alice", date: float | None = None) -> int:
        """Queue a text message from ``chat_id``; its update id."""
        with self.lock:
            update_id = self.next_update_id
            self.next_update_id += 1
            message_id = 1000 + update_id
            self.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": message_id,
                        "from": {
                            "id": chat_id,
                            "is_bot": False,
                            "first_name": user.title(),
                            "username": user,
                        },
                        "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                        "date": int(time.time() if date is None else date),
                        "text": text,
                    },
                }
            )
            self.history[update_id] = self.updates[-1]
            self.lock.notify_all()
        return update_id

    def push_raw(self, update: JsonDict) -> int:
        """Queue any update (an edit, a callback...); ``update_id`` is filled in."""
        with self.lock:
            update_id = self.next_update_id
            self.next_update_id += 1
            self.updates.append({**update, "update_id": update_id})
            self.history[update_id] = self.updates[-1]
            self.lock.notify_all()
        return update_id

    def requeue(self, update_id: int) -> None:
        """Offer an update again, as Telegram does until a getUpdates confirms it (a bot that
        crashed after running a command, before its next poll)."""
        with self.lock:
            self.updates.insert(0, self.history[update_id])
            self.lock.notify_all()

    def interrupt_polls(self) -> None:
        """End the long polls waiting now (empty answers), so a stopping bot stops at once."""
        with self.lock:
            self.generation += 1
            self.lock.notify_all()

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        after: int = 0,
    ) -> None:
        """The next call of ``method`` (after ``after`` successful ones) gets this error; queue
        several for several calls."""
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            400: "Bad Request: chat not found",
            403: "Forbidden: bot was blocked by the user",
        }.get(status, "error")
        with self.lock:
            self.failures.setdefault(method, deque()).append(Failure(status, text, retry_after, after))

    def sent_to(self, chat_id: int) -> list[Sent]:
        with self.lock:
            return [m for m in self.messages if m.chat_id == chat_id]

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Block until ``check()`` holds (re-checked whenever the fake changes); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.lock.wait(left)

    def wait_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Sent]:
        self.wait_for(
            lambda: len(self.sent_to(chat_id)) >= count, f"{count} messages to chat {chat_id}", timeout
        )
        return self.sent_to(chat_id)

    def pending(self) -> int:
        """Updates not confirmed yet (no getUpdates with a greater offset has been seen)."""
        with self.lock:
            return len(self.updates)

    # ---- the wire ------------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        params: JsonDict = dict(parse_qsl(url.query))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        kind = request.headers.get("Content-Type", "")
        if raw and "json" in kind:
            params.update(json.loads(raw))
        elif raw:
            params.update(parse_qsl(raw.decode()))
        prefix, _, method = url.path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            with self.lock:
                self.unauthorized += 1
                self.lock.notify_all()
            self.answer(request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        with self.lock:
            self.calls.append((method, params))
            queued = self.failures.get(method)
            failure = None
            if queued and queued[0].skip > 0:
                queued[0].skip -= 1
            elif queued:
                failure = queued.popleft()
            self.lock.notify_all()
        if failure is not None:
            body: JsonDict = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            self.answer(request, failure.status, body)
            return
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            self.answer(request, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            result = handler(params, request.headers.get("Idempotency-Key"))
        except ValueError as exc:
            self.answer(request, 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
            return
        self.answer(request, 200, {"ok": True, "result": result})

    @staticmethod
    def answer(request: BaseHTTPRequestHandler, status: int, body: JsonDict) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a long poll cut short)

    def api_getMe(self, _: JsonDict, key: str | None = None) -> JsonDict:  # noqa: N802 - the API's method name
        return dict(BOT)

    def api_getUpdates(self, params: JsonDict, key: str | None = None) -> list[JsonDict]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self.lock:
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                self.lock.notify_all()
            generation = self.generation
            while not self.updates and not self.closing and generation == self.generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            return list(self.updates[:limit])

    def api_sendMessage(self, params: JsonDict, key: str | None = None) -> JsonDict:  # noqa: N802
        chat_id = int(params["chat_id"])
        text = str(params.get("text") or "")
        mode = params.get("parse_mode")
        if not text.strip():
            raise ValueError("message text is empty")
        shown = telegram_shows(text, None if mode is None else str(mode))
        if utf16_len(shown) > MAX_TEXT:
            raise ValueError("message is too long")
        with self.lock:
            message_id = 5000 + len(self.messages)
            self.messages.append(Sent(chat_id, text, mode, shown, message_id, key))
            self.lock.notify_all()
        return {
            "message_id": message_id,
            "from": dict(BOT),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "date": int(time.time()),
            "text": shown,
        }

    def api_setWebhook(self, params: JsonDict, key: str | None = None) -> bool:  # noqa: N802
        with self.lock:
            self.webhook = dict(params)
            self.lock.notify_all()
        return True

    def api_getWebhookInfo(self, _: JsonDict, key: str | None = None) -> JsonDict:  # noqa: N802
        with self.lock:
            return {"url": self.webhook.get("url", ""), "pending_update_count": len(self.updates)}

    def api_deleteWebhook(self, _: JsonDict, key: str | None = None) -> bool:  # noqa: N802
        with self.lock:
            self.webhook = {}
        return True


@contextmanager
def fake_telegram(token: str) -> Iterator[FakeTelegram]:
    fake = FakeTelegram(token)
    try:
        yield fake
    finally:
        fake.close()
