"""A scripted fake of the Anthropic Messages API on 127.0.0.1, as the Claude Code CLI uses it.

The real CLI (``ANTHROPIC_BASE_URL=fake.base_url``) talks to it exactly as it would to
the real service: one ``HEAD <base_url>`` probe at start, then one
``POST /v1/messages?beta=true`` per model turn with ``"stream": true`` (SSE), and a
non-streaming POST when a stream was empty or broken. Each main model turn takes the
next step of the test's script: a :class:`Turn` of content blocks, a :class:`Fail`
(HTTP error), a :class:`Stall` (``message_start`` and then silence) or an
:class:`EmptyStream` (the CLI falls back to a non-streaming request, which takes
the next step and gets one JSON message). Requests that
offer no tools (title generation and other side calls) get a plain "ok" and consume
nothing. Every request is recorded, body parsed, so tests can assert on what the CLI
sent back (e.g. a ``tool_result``).

Usage per turn is set by the script, so costs are exact: the CLI prices usage itself
(claude-opus-4-8: 5 / 25 / 6.25 / 0.50 USD per million input / output / cache-write /
cache-read tokens).
"""

from __future__ import annotations

import json
import select
import socket
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import attrs

from tests.fakes.loopback import FakeServer, LoopbackFake

JsonDict: TypeAlias = dict[str, Any]


@attrs.frozen
class Usage:
    """Token counts the fake reports for one model turn.

    ``output_tokens`` is sent in ``message_delta`` (the CLI adds those up); the
    ``message_start`` event carries the input counts and ``output_tokens: 1`` as the
    real API does.
    """

    input_tokens: int = 1000
    output_tokens: int = 50
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def as_json(self, output_tokens: int | None = None) -> JsonDict:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
        }


@attrs.frozen
class Text:
    """A text content block."""

    text: str


@attrs.frozen
class ToolUse:
    """A tool_use content block; ``id`` is generated when left empty."""

    name: str
    input: Mapping[str, Any]
    id: str = attrs.field(factory=lambda: f"toolu_fake_{uuid.uuid4().hex[:16]}")


Block: TypeAlias = Text | ToolUse


@attrs.frozen
class Turn:
    """One model reply. ``stop_reason`` defaults to tool_use if a tool is called, else end_turn."""

    blocks: tuple[Block, ...]
    usage: Usage = Usage()
    stop_reason: str | None = None

    @property
    def effective_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


@attrs.frozen
class Fail:
    """An HTTP error reply with an Anthropic error body (500, 429 + retry-after, 529, ...)."""

    status: int
    message: str = "fake error"
    retry_after: float | None = None

    @property
    def error_type(self) -> str:
        return {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(self.status, "api_error")


@attrs.frozen
class Stall:
    """Accept the request, send headers and ``message_start`` (or nothing at all), then hang.

    The connection is held until the client goes away or the fake stops.
    """

    send_message_start: bool = True


@attrs.frozen
class EmptyStream:
    """Answer 200 with an event stream that has no events (the CLI then retries non-streaming)."""


@attrs.frozen
class RecordedRequest:
    """One request the fake received, body parsed as JSON when it was JSON."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: Any

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.endswith("/v1/messages")

    @property
    def is_main_turn(self) -> bool:
        """A model turn of the agent itself (it offers tools), not a side call like a title."""
        return self.is_messages and isinstance(self.body, dict) and bool(self.body.get("tools"))

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def messages(self) -> list[JsonDict]:
        if not isinstance(self.body, dict):
            return []
        return list(self.body.get("messages") or [])


Reply: TypeAlias = Turn | Fail | Stall | EmptyStream
Step: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


def text_turn(text: str, usage: Usage = Usage()) -> Turn:
    """A turn that answers ``text`` and ends."""
    return Turn((Text(text),), usage)


def tool_turn(name: str, tool_input: Mapping[str, Any], usage: Usage = Usage()) -> Turn:
    """A turn that calls one tool."""
    return Turn((ToolUse(name, dict(tool_input)),), usage)


def tool_results(request: RecordedRequest) -> list[JsonDict]:
    """Every tool_result block in the messages of ``request``."""
    found: list[JsonDict] = []
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, list):
            found.extend(b for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return found


def user_texts(request: RecordedRequest) -> list[str]:
    """Every text block or string content of the user messages of ``request``."""
    texts: list[str] = []
    for message in request.messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text")
    return texts


class _Server(FakeServer):
    fake: FakeAnthropicAPI


class FakeAnthropicAPI(LoopbackFake):
    """The fake API server; use as a context manager (it starts on enter, stops on exit).

    Thread-safe: the CLI may hold several connections. ``requests`` is every request in
    arrival order; ``main_turns`` only the model turns that consumed (or found no) step.
    When the script runs out, a main turn gets the text ``"(fake: script exhausted)"``
    and ``exhausted`` counts it, so a test fails on its assertions instead of hanging.
    """

    def __init__(self, script: Iterable[Step] = ()) -> None:
        super().__init__(_Handler, _Server)
        self._script: deque[Step] = deque(script)
        self._requests: list[RecordedRequest] = []
        self.exhausted = 0
        self.stalls_released = 0

    @property
    def base_url(self) -> str:
        """What to put in ANTHROPIC_BASE_URL."""
        return f"http://127.0.0.1:{self.port}"

    # -- script and record -------------------------------------------------------------

    def play(self, *steps: Step) -> None:
        """Append steps to the script."""
        with self._lock:
            self._script.extend(steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def main_turns(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_main_turn]

    @property
    def remaining(self) -> int:
        """Steps not played yet."""
        with self._lock:
            return len(self._script)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_step(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if not self._script:
                self.exhausted += 1
                return text_turn("(fake: script exhausted)")
            step = self._script.popleft()
        return step(request) if callable(step) else step

    def _stall_released(self) -> None:
        with self._lock:
            self.stalls_released += 1

    def wait_closing(self, timeout: float) -> bool:
        return self._closing.wait(timeout)


def _message_id() -> str:
    return f"msg_fake_{uuid.uuid4().hex[:16]}"


def _block_json(block: Block) -> JsonDict:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input)}


def message_json(turn: Turn, model: str) -> JsonDict:
    """The whole reply as a non-streaming Messages API response."""
    return {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_block_json(b) for b in turn.blocks],
        "stop_reason": turn.effective_stop_reason,
        "stop_sequence": None,
        "usage": turn.usage.as_json(),
    }


def _message_start(turn_usage: Usage, model: str) -> JsonDict:
    return {
        "type": "message_start",
        "message": {
            "id": _message_id(),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": turn_usage.as_json(output_tokens=1),
        },
    }


def sse_events(turn: Turn, model: str) -> Iterator[JsonDict]:
    """The reply as the streamed events of the Messages API, in order."""
    yield _message_start(turn.usage, model)
    yield {"type": "ping"}
    for index, block in enumerate(turn.blocks):
        if isinstance(block, Text):
            yield {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
            yield {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": block.text},
            }
        else:
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            yield {"type": "content_block_start", "index": index, "content_block": start}
            raw = json.dumps(dict(block.input))
            half = len(raw) // 2
            for part in (raw[:half], raw[half:]):
                yield {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                }
        yield {"type": "content_block_stop", "index": index}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": turn.effective_stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": turn.usage.output_tokens},
    }
    yield {"type": "message_stop"}


def _sse(event: JsonDict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output clean; everything is in ``fake.requests``."""

    # -- plumbing ----------------------------------------------------------------------

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        url = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake._record(request)
        return request

    def _send_json(self, status: int, payload: JsonDict, extra: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _hold(self) -> None:
        """Keep the connection open and silent until the client leaves or the fake stops."""
        self.close_connection = True
        fake = self.server.fake
        sock = self.connection
        while not fake.wait_closing(0.1):
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and sock.recv(1, socket.MSG_PEEK) == b"":
                    break
            except OSError:
                break
        fake._stall_released()

    # -- methods -----------------------------------------------------------------------

    def do_HEAD(self) -> None:
        """The CLI probes ``HEAD <base_url>`` once at start; any 200 will do."""
        self._read_request()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._read_request()
        self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not faked"}})

    def do_POST(self) -> None:
        request = self._read_request()
        if request.path.endswith("/v1/messages/count_tokens"):
            self._send_json(200, {"input_tokens": 42})
            return
        if not request.is_messages:
            self._send_json(
                404, {"type": "error", "error": {"type": "not_found_error", "message": "not faked"}}
            )
            return
        model = (
            str(request.body.get("model", "claude-fake")) if isinstance(request.body, dict) else "claude-fake"
        )
        step: Reply
        step = self.server.fake._next_step(request) if request.is_main_turn else text_turn("ok")
        try:
            self._reply(request, step, model)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the CLI was killed mid-reply

    def _reply(self, request: RecordedRequest, step: Reply, model: str) -> None:
        if isinstance(step, Fail):
            headers = {} if step.retry_after is None else {"retry-after": f"{step.retry_after:g}"}
            body = {"type": "error", "error": {"type": step.error_type, "message": step.message}}
            self._send_json(step.status, body, headers)
            return
        if isinstance(step, EmptyStream):
            self._start_stream()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if isinstance(step, Stall):
            if step.send_message_start:
                self._start_stream()
                self._chunk(_sse(_message_start(Usage(), model)))
            self._hold()
            return
        if not request.streaming:
            self._send_json(200, message_json(step, model))
            return
        self._start_stream()
        for event in sse_events(step, model):
            self._chunk(_sse(event))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
