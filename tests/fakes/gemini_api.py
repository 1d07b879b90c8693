"""A scripted fake of the Gemini API (generativelanguage v1beta) on 127.0.0.1, as Gemini CLI uses it.

The real CLI (``GOOGLE_GEMINI_BASE_URL=fake.base_url``, auth type ``gemini-api-key``)
talks to it as it would to Google: one ``POST /v1beta/models/MODEL:streamGenerateContent?alt=sse``
per model turn, the API key in the ``x-goog-api-key`` header. Each main turn (a request
that offers ``tools``) takes the next step of the test's script: a :class:`Turn` of parts
(text and ``functionCall``), a :class:`Fail` (HTTP error with a Google error body; a 429
may carry a ``RetryInfo`` delay), a :class:`Stall` (headers, then silence) or a
:class:`Slow` turn (a pause before each chunk). Side calls without tools (the CLI's
routing or summaries), ``countTokens`` and ``generateContent`` are answered too and
consume nothing. Every request is recorded, its body parsed, so a test can assert on
what the CLI sent back (a ``functionResponse``).

Usage per turn is set by the script (``usageMetadata``), so costs are exact.
"""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest

from tests.fakes.loopback import FakeServer, LoopbackFake

JsonDict: TypeAlias = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
GEMINI = ROOT / ".tools" / "gemini" / "current" / "node_modules" / ".bin" / "gemini"
"""The pinned CLI that scripts/install-gemini-cli.sh installs."""

needs_gemini = pytest.mark.skipif(
    not GEMINI.exists(), reason=f"{GEMINI} is absent: run scripts/install-gemini-cli.sh"
)


@attrs.frozen
class Usage:
    """The ``usageMetadata`` of one turn (sent on its last chunk, as the real API does)."""

    prompt_tokens: int = 1000
    output_tokens: int = 50
    cached_tokens: int = 0
    thoughts_tokens: int = 0

    def as_json(self) -> JsonDict:
        data: JsonDict = {
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": self.output_tokens,
            "totalTokenCount": self.prompt_tokens + self.output_tokens + self.thoughts_tokens,
        }
        if self.cached_tokens:
            data["cachedContentTokenCount"] = self.cached_tokens
        if self.thoughts_tokens:
            data["thoughtsTokenCount"] = self.thoughts_tokens
        return data


@attrs.frozen
class Text:
    """A text part."""

    text: str


@attrs.frozen
class Call:
    """A ``functionCall`` part: the model asks the CLI to run tool ``name`` with ``args``."""

    name: str
    args: Mapping[str, Any]


Part: TypeAlias = Text | Call


@attrs.frozen
class Turn:
    """One model reply, streamed as one chunk per part; ``finish_reason`` on the last."""

    parts: tuple[Part, ...]
    usage: Usage = Usage()
    finish_reason: str = "STOP"


@attrs.frozen
class Fail:
    """An HTTP error with Google's error body; ``retry_delay_s`` adds a RetryInfo detail."""

    status: int
    message: str = "fake error"
    retry_delay_s: float | None = None

    @property
    def status_name(self) -> str:
        return {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED",
        }.get(self.status, "UNKNOWN")

    def body(self) -> JsonDict:
        error: JsonDict = {"code": self.status, "message": self.message, "status": self.status_name}
        if self.retry_delay_s is not None:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{self.retry_delay_s:g}s",
                }
            ]
        return {"error": error}


@attrs.frozen
class Stall:
    """Send the stream's headers (and nothing else), then hold the connection silent."""


@attrs.frozen
class Slow:
    """``turn``, with ``delay_s`` of silence before each chunk."""

    turn: Turn
    delay_s: float


@attrs.frozen
class RecordedRequest:
    """One request the fake received, body parsed as JSON when it was JSON."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: Any

    @property
    def model(self) -> str:
        """``gemini-2.5-flash`` of ``/v1beta/models/gemini-2.5-flash:streamGenerateContent``."""
        name = self.path.rsplit("/", 1)[-1]
        return name.split(":", 1)[0]

    @property
    def method_name(self) -> str:
        """``streamGenerateContent``, ``generateContent``, ``countTokens``, ... ('' if none)."""
        last = self.path.rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else ""

    @property
    def is_main_turn(self) -> bool:
        """A model turn of the agent itself (it offers tools), not a side call."""
        return (
            self.method_name in ("streamGenerateContent", "generateContent")
            and isinstance(self.body, dict)
            and bool(self.body.get("tools"))
        )

    @property
    def contents(self) -> list[JsonDict]:
        if not isinstance(self.body, dict):
            return []
        return [c for c in self.body.get("contents") or [] if isinstance(c, dict)]


Reply: TypeAlias = Turn | Fail | Stall | Slow
Step: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


def text_turn(text: str, usage: Usage = Usage()) -> Turn:
    """A turn that answers ``text`` and ends."""
    return Turn((Text(text),), usage)


def call_turn(name: str, args: Mapping[str, Any], usage: Usage = Usage()) -> Turn:
    """A turn that calls one tool (``run_shell_command``, ``write_file``, ...)."""
    return Turn((Call(name, dict(args)),), usage)


def shell_turn(command: str, usage: Usage = Usage()) -> Turn:
    """A turn that runs one shell command with the CLI's ``run_shell_command`` tool."""
    return call_turn("run_shell_command", {"command": command, "description": "run it"}, usage)


def function_responses(request: RecordedRequest) -> list[JsonDict]:
    """Every ``functionResponse`` part of the contents of ``request``."""
    return [
        part["functionResponse"]
        for content in request.contents
        for part in content.get("parts") or []
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict)
    ]


def user_texts(request: RecordedRequest) -> list[str]:
    """Every text part of the user contents of ``request``."""
    return [
        str(part["text"])
        for content in request.contents
        if content.get("role") == "user"
        for part in content.get("parts") or []
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


class _Server(FakeServer):
    fake: FakeGeminiAPI


class FakeGeminiAPI(LoopbackFake):
    """The fake API server; use as a context manager (it starts on enter, stops on exit).

    Thread-safe. ``requests`` is every request in arrival order, ``main_turns`` the
    model turns of the agent. When the script runs out, a main turn gets the text
    ``"(fake: script exhausted)"`` and ``exhausted`` counts it, so a test fails on its
    assertions instead of hanging.
    """

    def __init__(self, script: Iterable[Step] = ()) -> None:
        super().__init__(_Handler, _Server)
        self._script: deque[Step] = deque(script)
        self._requests: list[RecordedRequest] = []
        self.exhausted = 0
        self.stalls_released = 0

    @property
    def base_url(self) -> str:
        """What to put in GOOGLE_GEMINI_BASE_URL."""
        assert self._server is not None, "the fake is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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


def response_chunks(turn: Turn, model: str) -> Iterator[JsonDict]:
    """The turn as ``GenerateContentResponse`` chunks: one per part, usage and finish on the last."""
    response_id = uuid.uuid4().hex[:20]
    parts = turn.parts or (Text(""),)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        body: JsonDict = (
            {"text": part.text}
            if isinstance(part, Text)
            else {"functionCall": {"name": part.name, "args": dict(part.args)}}
        )
        candidate: JsonDict = {"content": {"parts": [body], "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = turn.finish_reason
        chunk: JsonDict = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
        chunk["usageMetadata"] = (
            turn.usage.as_json() if last else {"promptTokenCount": turn.usage.prompt_tokens}
        )
        yield chunk


def whole_response(turn: Turn, model: str) -> JsonDict:
    """The turn as one non-streaming ``generateContent`` response."""
    parts: list[JsonDict] = [
        {"text": p.text} if isinstance(p, Text) else {"functionCall": {"name": p.name, "args": dict(p.args)}}
        for p in turn.parts
    ]
    return {
        "candidates": [
            {"content": {"parts": parts, "role": "model"}, "finishReason": turn.finish_reason, "index": 0}
        ],
        "usageMetadata": turn.usage.as_json(),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:20],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output clean; everything is in ``fake.requests``."""

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
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake._record(request)
        return request

    def _send_json(self, status: int, payload: JsonDict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=UTF-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
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

    def do_GET(self) -> None:
        self._read_request()
        self._send_json(404, Fail(404, "not faked").body())

    def do_POST(self) -> None:
        request = self._read_request()
        method = request.method_name
        if method == "countTokens":
            self._send_json(200, {"totalTokens": 42})
            return
        if method not in ("streamGenerateContent", "generateContent"):
            self._send_json(404, Fail(404, f"not faked: {request.path}").body())
            return
        step = self.server.fake._next_step(request) if request.is_main_turn else text_turn("ok", Usage(10, 1))
        try:
            self._reply(step, request)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the CLI was killed mid-reply

    def _reply(self, step: Reply, request: RecordedRequest) -> None:
        if isinstance(step, Fail):
            self._send_json(step.status, step.body())
            return
        if isinstance(step, Stall):
            self._start_stream()
            self._hold()
            return
        turn, delay = (step.turn, step.delay_s) if isinstance(step, Slow) else (step, 0.0)
        if request.method_name == "generateContent":
            time.sleep(delay)
            self._send_json(200, whole_response(turn, request.model))
            return
        self._start_stream()
        for chunk in response_chunks(turn, request.model):
            if delay:
                time.sleep(delay)
            self._chunk(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
