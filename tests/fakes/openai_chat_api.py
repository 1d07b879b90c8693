"""A scripted fake of OpenAI's Chat Completions API on 127.0.0.1, as Aider (through litellm) uses it.

``POST /v1/chat/completions`` answers each request with the next step of the test's script:
a :class:`Reply` (streamed as SSE ``chat.completion.chunk`` deltas ending in ``data: [DONE]``
when the request says ``"stream": true``, else one ``chat.completion`` object), a :class:`Fail`
(an HTTP error with an OpenAI error body: 500, 429...) or a :class:`Stall` (headers, then
silence). ``usage`` is in the final chunk only when ``stream_options.include_usage`` asks for
it (the real API's rule), always in a non-streamed reply. ``GET /v1/models`` lists the model.
Every request is recorded with its JSON body.
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
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import attrs

from tests.fakes.loopback import FakeServer, LoopbackFake

JsonDict: TypeAlias = dict[str, Any]
MODEL = "fake-model"


@attrs.frozen
class Usage:
    """Token counts the fake reports for one reply."""

    prompt_tokens: int = 1000
    completion_tokens: int = 50

    def as_json(self) -> JsonDict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@attrs.frozen
class Reply:
    """One assistant message: its text, usage, how long the model "thinks" first, chunk count."""

    text: str
    usage: Usage = Usage()
    delay_s: float = 0.0
    chunks: int = 3


@attrs.frozen
class Fail:
    """An HTTP error reply with an OpenAI error body (500, 429 + retry-after, 401, ...)."""

    status: int
    message: str = "fake error"
    retry_after: float | None = None


@attrs.frozen
class Stall:
    """Accept the request, send the stream's headers, then hang until the client leaves."""


@attrs.frozen
class RecordedRequest:
    """One request the fake received, body parsed as JSON when it was JSON."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def is_completion(self) -> bool:
        return self.method == "POST" and self.path.endswith("/chat/completions")

    @property
    def messages(self) -> list[JsonDict]:
        found = self.body.get("messages") if isinstance(self.body, dict) else None
        return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []

    def text(self) -> str:
        """Every message's content joined: what the model was shown."""
        parts = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts += [str(c.get("text", "")) for c in content if isinstance(c, dict)]
        return "\n".join(parts)


Step: TypeAlias = Reply | Fail | Stall | Callable[[RecordedRequest], "Reply | Fail | Stall"]


def edit_reply(path: str, search: str, replace: str, said: str = "I will make the change.") -> Reply:
    """A reply with one SEARCH/REPLACE block for ``path`` (empty ``search`` creates the file)."""
    search_part = f"{search}\n" if search else ""
    block = f"{path}\n```\n<<<<<<< SEARCH\n{search_part}=======\n{replace}\n>>>>>>> REPLACE\n```\n"
    return Reply(f"{said}\n\n{block}")


class _Server(FakeServer):
    fake: FakeChatAPI


class FakeChatAPI(LoopbackFake):
    """The fake server; a context manager (starts on enter, stops on exit). Thread-safe.

    When the script runs out, a request gets the text ``"(fake: script exhausted)"`` and
    ``exhausted`` counts it, so a test fails on its assertions instead of hanging.
    """

    def __init__(self, script: Iterable[Step] = ()) -> None:
        super().__init__(_Handler, _Server)
        self._script: deque[Step] = deque(script)
        self._requests: list[RecordedRequest] = []
        self.exhausted = 0

    @property
    def base_url(self) -> str:
        """What ``--openai-api-base`` must be (the client appends ``/chat/completions``)."""
        assert self._server is not None, "the fake is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def play(self, *steps: Step) -> None:
        with self._lock:
            self._script.extend(steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        """The ``POST /v1/chat/completions`` requests, in order."""
        return [r for r in self.requests if r.is_completion]

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_step(self, request: RecordedRequest) -> Reply | Fail | Stall:
        with self._lock:
            if not self._script:
                self.exhausted += 1
                return Reply("(fake: script exhausted)")
            step = self._script.popleft()
        return step(request) if callable(step) else step

    def wait_closing(self, timeout: float) -> bool:
        return self._closing.wait(timeout)


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // max(count, 1)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_chunks(reply: Reply, completion_id: str, include_usage: bool) -> Iterator[JsonDict]:
    """The reply as ``chat.completion.chunk`` objects, in order (without the ``[DONE]`` sentinel)."""
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
    }
    yield base | {
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    }
    for piece in _pieces(reply.text, reply.chunks):
        yield base | {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
    yield base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if include_usage:
        yield base | {"choices": [], "usage": reply.usage.as_json()}


def completion(reply: Reply, completion_id: str) -> JsonDict:
    """The reply as one non-streamed ``chat.completion`` object."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
        ],
        "usage": reply.usage.as_json(),
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
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
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
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _hold(self) -> None:
        """Keep the connection open and silent until the client leaves or the fake stops."""
        self.close_connection = True
        sock = self.connection
        while not self.server.fake.wait_closing(0.1):
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and sock.recv(1, socket.MSG_PEEK) == b"":
                    break
            except OSError:
                break

    def do_GET(self) -> None:
        request = self._read_request()
        if request.path.endswith("/models"):
            self._send_json(
                200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]}
            )
            return
        self._send_json(404, {"error": {"type": "not_found", "message": "not faked", "code": None}})

    def do_POST(self) -> None:
        request = self._read_request()
        if not request.is_completion:
            self._send_json(404, {"error": {"type": "not_found", "message": "not faked", "code": None}})
            return
        step = self.server.fake._next_step(request)
        try:
            self._reply(step, request)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client was killed mid-reply

    def _reply(self, step: Reply | Fail | Stall, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        completion_id = f"chatcmpl-fake{uuid.uuid4().hex[:16]}"
        if isinstance(step, Fail):
            headers = {} if step.retry_after is None else {"retry-after": f"{step.retry_after:g}"}
            kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
            self._send_json(
                step.status, {"error": {"type": kind, "message": step.message, "code": kind}}, headers
            )
            return
        streaming = body.get("stream") is True
        if isinstance(step, Reply) and step.delay_s > 0 and self.server.fake.wait_closing(step.delay_s):
            return
        if not streaming:
            if isinstance(step, Stall):
                self._hold()
                return
            self._send_json(200, completion(step, completion_id))
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        if isinstance(step, Stall):
            self._hold()
            return
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        for chunk in stream_chunks(step, completion_id, include_usage):
            self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
