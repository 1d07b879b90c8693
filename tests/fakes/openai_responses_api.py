"""A scripted fake of OpenAI's Responses API on 127.0.0.1, as the Codex CLI uses it.

The real CLI (``-c model_providers.<id>.base_url=fake.base_url``, ``wire_api="responses"``)
talks to it as it would to the real service: ``GET /v1/models`` at start, then one
``POST /v1/responses`` with ``"stream": true`` per model turn, answered with SSE events
``response.created``, ``response.output_item.added``, ``response.output_text.delta``,
``response.output_item.done`` and ``response.completed`` (with ``usage``). Each turn takes
the next step of the test's script: a :class:`Turn` of output items (:class:`Message`
text, :class:`ExecCommand` tool calls), a :class:`Fail` (an HTTP error; the CLI retries
429 and 5xx itself), a :class:`Failed` (HTTP 200 then ``response.failed``) or a
:class:`Stall` (``response.created`` and then silence). ``Turn.delay_s`` makes a slow
model. Every request is recorded with its JSON body, so tests can assert on what the CLI
sent back (e.g. a ``function_call_output``).
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
    """Token counts the fake reports in ``response.completed`` for one turn."""

    input_tokens: int = 1000
    output_tokens: int = 50
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    def as_json(self) -> JsonDict:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_input_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.input_tokens + self.output_tokens,
        }


@attrs.frozen
class Message:
    """An assistant message output item with one ``output_text`` part."""

    text: str


@attrs.frozen
class ExecCommand:
    """A ``function_call`` output item calling Codex's ``exec_command`` tool with ``cmd``."""

    cmd: str
    call_id: str = attrs.field(factory=lambda: f"call_fake_{uuid.uuid4().hex[:16]}")


Item: TypeAlias = Message | ExecCommand


@attrs.frozen
class Turn:
    """One model reply: its output items, usage, and how long the model "thinks" first."""

    items: tuple[Item, ...]
    usage: Usage = Usage()
    delay_s: float = 0.0


@attrs.frozen
class Fail:
    """An HTTP error reply with an OpenAI error body (500, 429 + retry-after, 401, ...)."""

    status: int
    message: str = "fake error"
    retry_after: float | None = None


@attrs.frozen
class Failed:
    """HTTP 200, ``response.created``, then ``response.failed`` carrying ``code``/``message``."""

    message: str = "the fake model failed"
    code: str = "server_error"


@attrs.frozen
class Stall:
    """Accept the request, send ``response.created``, then hang until the client leaves."""


@attrs.frozen
class RecordedRequest:
    """One request the fake received, body parsed as JSON when it was JSON."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def is_turn(self) -> bool:
        return self.method == "POST" and self.path.endswith("/responses")

    @property
    def input_items(self) -> list[JsonDict]:
        """The ``input`` list the CLI sent (the conversation so far)."""
        items = self.body.get("input") if isinstance(self.body, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def function_outputs(self) -> list[str]:
        """The ``output`` of every ``function_call_output`` item sent back."""
        found = []
        for item in self.input_items:
            if item.get("type") == "function_call_output":
                output = item.get("output")
                found.append(output if isinstance(output, str) else json.dumps(output))
        return found

    def tool_names(self) -> list[str]:
        tools = self.body.get("tools") if isinstance(self.body, dict) else None
        if not isinstance(tools, list):
            return []
        return [str(t.get("name") or t.get("type")) for t in tools if isinstance(t, dict)]


Reply: TypeAlias = Turn | Fail | Failed | Stall
Step: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


def text_turn(text: str, usage: Usage = Usage()) -> Turn:
    """A turn that answers ``text`` and ends."""
    return Turn((Message(text),), usage)


def exec_turn(cmd: str, usage: Usage = Usage()) -> Turn:
    """A turn that runs one shell command through ``exec_command``."""
    return Turn((ExecCommand(cmd),), usage)


class _Server(FakeServer):
    fake: FakeResponsesAPI


class FakeResponsesAPI(LoopbackFake):
    """The fake server; a context manager (starts on enter, stops on exit). Thread-safe.

    When the script runs out, a turn gets the text ``"(fake: script exhausted)"`` and
    ``exhausted`` counts it, so a test fails on its assertions instead of hanging.
    """

    def __init__(self, script: Iterable[Step] = ()) -> None:
        super().__init__(_Handler, _Server)
        self._script: deque[Step] = deque(script)
        self._requests: list[RecordedRequest] = []
        self.exhausted = 0

    @property
    def base_url(self) -> str:
        """What the provider's ``base_url`` must be (the CLI appends ``/responses``)."""
        assert self._server is not None, "the fake is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def play(self, *steps: Step) -> None:
        """Append steps to the script."""
        with self._lock:
            self._script.extend(steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def turns(self) -> list[RecordedRequest]:
        """The ``POST /v1/responses`` requests, in order."""
        return [r for r in self.requests if r.is_turn]

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

    def wait_closing(self, timeout: float) -> bool:
        return self._closing.wait(timeout)


def _response(response_id: str, status: str, output: list[JsonDict], usage: JsonDict | None) -> JsonDict:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": MODEL,
        "output": output,
        "usage": usage,
        "error": None,
    }


def _item_json(item: Item, item_id: str, done: bool) -> JsonDict:
    status = "completed" if done else "in_progress"
    if isinstance(item, Message):
        content = [{"type": "output_text", "text": item.text, "annotations": []}] if done else []
        return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": item.call_id,
        "name": "exec_command",
        "arguments": json.dumps({"cmd": item.cmd}) if done else "",
    }


def sse_events(turn: Turn, response_id: str) -> Iterator[JsonDict]:
    """The reply as the streamed events of the Responses API, in order."""
    yield {"type": "response.created", "response": _response(response_id, "in_progress", [], None)}
    done: list[JsonDict] = []
    for index, item in enumerate(turn.items):
        item_id = f"{'msg' if isinstance(item, Message) else 'fc'}_fake_{uuid.uuid4().hex[:12]}"
        added = {"type": "response.output_item.added", "output_index": index}
        yield added | {"item": _item_json(item, item_id, done=False)}
        if isinstance(item, Message):
            half = len(item.text) // 2
            for part in (item.text[:half], item.text[half:]):
                yield {
                    "type": "response.output_text.delta",
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": 0,
                    "delta": part,
                }
        finished = _item_json(item, item_id, done=True)
        done.append(finished)
        yield {"type": "response.output_item.done", "output_index": index, "item": finished}
    yield {
        "type": "response.completed",
        "response": _response(response_id, "completed", done, turn.usage.as_json()),
    }


def _sse(event: JsonDict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


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
        self.send_header("x-request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
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
            self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            return
        self._send_json(404, {"error": {"type": "not_found", "message": "not faked", "code": None}})

    def do_POST(self) -> None:
        request = self._read_request()
        if not request.is_turn:
            self._send_json(404, {"error": {"type": "not_found", "message": "not faked", "code": None}})
            return
        step = self.server.fake._next_step(request)
        try:
            self._reply(step)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the CLI was killed mid-reply

    def _reply(self, step: Reply) -> None:
        response_id = f"resp_fake_{uuid.uuid4().hex[:16]}"
        if isinstance(step, Fail):
            headers = {} if step.retry_after is None else {"retry-after": f"{step.retry_after:g}"}
            kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
            body = {"error": {"type": kind, "message": step.message, "code": kind, "param": None}}
            self._send_json(step.status, body, headers)
            return
        self._start_stream()
        created = {"type": "response.created", "response": _response(response_id, "in_progress", [], None)}
        if isinstance(step, Stall):
            self._chunk(_sse(created))
            self._hold()
            return
        if isinstance(step, Failed):
            self._chunk(_sse(created))
            failed = _response(response_id, "failed", [], None)
            failed["error"] = {"code": step.code, "message": step.message}
            self._chunk(_sse({"type": "response.failed", "response": failed}))
            self._end_stream()
            return
        if step.delay_s > 0 and self.server.fake.wait_closing(step.delay_s):
            return
        for event in sse_events(step, response_id):
            self._chunk(_sse(event))
        self._end_stream()
