"""A scripted fake of the Ollama HTTP API on 127.0.0.1, as the official ``ollama`` client uses it.

It speaks the wire protocol of ollama's ``docs/api.md`` and ``server/routes.go``:
``GET /`` ("Ollama is running"), ``GET /api/version``, ``GET /api/tags``,
``POST /api/show`` (``model_info`` with ``<arch>.context_length``) and ``POST /api/chat``,
non-streaming (one JSON object) or streaming (``application/x-ndjson``: ``done:false``
chunks, then a ``done:true`` line with ``done_reason``, token counts and durations in ns).
A model that is not pulled gets the real 404 bodies (chat: ``model "X" not found, try
pulling it first``; show: ``model 'X' not found``); chat with no messages loads the model
(``done_reason: "load"``) and consumes nothing.

Each chat for a pulled model takes the next step of the test's script: an :class:`Answer`
(content, streamed in pieces, optionally slowly), a :class:`Fail` (an HTTP error with an
``{"error": ...}`` body, e.g. :meth:`Fail.queue_full`), an :class:`ErrorMidStream` (some
chunks, then an ``{"error": ...}`` line), a :class:`Stall` (headers and maybe some chunks,
then silence until the client leaves) or a callable that makes one of those from the
request. When the script runs out a chat gets a 500 ``fake: script exhausted`` and
``exhausted`` counts it, so a test fails on its assertions instead of hanging. Every
request is recorded with its parsed body, so tests can assert on what the client sent.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import attrs

from tests.fakes.loopback import FakeServer, LoopbackFake

JsonDict: TypeAlias = dict[str, Any]
VERSION = "0.12.6"
QUEUE_FULL = "server busy, please try again.  maximum pending requests exceeded"


@attrs.frozen
class Model:
    """A pulled model: what ``/api/tags`` lists and ``/api/show`` describes.

    ``context_length`` None: ``model_info`` has no ``<arch>.context_length`` key.
    """

    name: str
    architecture: str = "qwen2"
    context_length: int | None = 32768
    parameter_size: str = "32.8B"
    quantization_level: str = "Q4_K_M"


@attrs.frozen
class Answer:
    """A chat reply whose ``message.content`` is ``content``, streamed in ``chunks`` pieces.

    ``delay_s`` is a pause before each piece: a slow model that still makes progress.
    """

    content: str
    chunks: int = 3
    delay_s: float = 0.0
    done_reason: str = "stop"
    prompt_eval_count: int = 420
    eval_count: int = 64


@attrs.frozen
class Fail:
    """An HTTP error answered before any content, body ``{"error": error}``."""

    status: int
    error: str = "fake error"

    @classmethod
    def queue_full(cls) -> Fail:
        """The 503 Ollama answers when its queue is full (``OLLAMA_MAX_QUEUE``)."""
        return cls(503, QUEUE_FULL)


@attrs.frozen
class ErrorMidStream:
    """Stream ``content`` in ``chunks`` pieces, then an ``{"error": error}`` line instead of ``done``.

    Non-streaming, the real server answers 500 with the error: so does the fake.
    """

    error: str = "an error was encountered while running the model: unexpected EOF"
    content: str = '{"overall": "me'
    chunks: int = 2


@attrs.frozen
class Stall:
    """Send headers and ``chunks`` pieces of ``content`` (streaming), then nothing until the
    client goes away or the fake stops. Non-streaming, not even headers are sent."""

    content: str = '{"overall": '
    chunks: int = 0


@attrs.frozen
class RecordedRequest:
    """One request the fake received, body parsed as JSON when it was JSON."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def json(self) -> JsonDict:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path == "/api/chat"


Reply: TypeAlias = Answer | Fail | ErrorMidStream | Stall
Step: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


class _Server(FakeServer):
    fake: FakeOllama


class FakeOllama(LoopbackFake):
    """The fake server; use as a context manager (it starts on enter, stops on exit).

    ``models`` are the pulled models (default: one ``qwen2.5-coder:32b``); ``then`` answers
    every chat once the script is used up (instead of the "exhausted" error). Thread-safe.
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        models: Iterable[Model] | None = None,
        then: Step | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(_Handler, _Server, port)
        self._script: deque[Step] = deque(script)
        self._requests: list[RecordedRequest] = []
        chosen = [Model("qwen2.5-coder:32b")] if models is None else list(models)
        self.models: dict[str, Model] = {m.name: m for m in chosen}
        self.then = then
        self.exhausted = 0
        self.stalls_released = 0

    @property
    def url(self) -> str:
        """What to give the client as its host (OLLAMA_HOST)."""
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
    def chats(self) -> list[RecordedRequest]:
        """The chat requests that asked for an answer (not the empty-message loads)."""
        return [r for r in self.requests if r.is_chat and r.json.get("messages")]

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_step(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if not self._script and self.then is not None:
                step = self.then
            elif not self._script:
                self.exhausted += 1
                return Fail(500, "fake: script exhausted")
            else:
                step = self._script.popleft()
        return step(request) if callable(step) else step

    def _stall_released(self) -> None:
        with self._lock:
            self.stalls_released += 1

    def wait_closing(self, timeout: float) -> bool:
        return self._closing.wait(timeout)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _pieces(text: str, count: int) -> list[str]:
    count = max(1, count)
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def tags_json(models: Iterable[Model]) -> JsonDict:
    """``GET /api/tags``: the pulled models."""
    return {
        "models": [
            {
                "name": m.name,
                "model": m.name,
                "modified_at": "2026-11-30T10:00:00.000000000Z",
                "size": 19851337640,
                "digest": "b" * 64,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": m.architecture,
                    "families": [m.architecture],
                    "parameter_size": m.parameter_size,
                    "quantization_level": m.quantization_level,
                },
            }
            for m in models
        ]
    }


def show_json(model: Model) -> JsonDict:
    """``POST /api/show``: the model's details and ``model_info``."""
    info: JsonDict = {
        "general.architecture": model.architecture,
        "general.parameter_count": 32763876352,
        f"{model.architecture}.block_count": 64,
        f"{model.architecture}.embedding_length": 5120,
    }
    if model.context_length is not None:
        info[f"{model.architecture}.context_length"] = model.context_length
    return {
        "modelfile": f"FROM {model.name}\n",
        "parameters": 'stop "<|im_end|>"',
        "template": "{{ .Prompt }}",
        "details": tags_json([model])["models"][0]["details"],
        "model_info": info,
        "capabilities": ["completion", "tools", "insert"],
        "modified_at": "2026-11-30T10:00:00.000000000Z",
    }


def _chunk_json(model: str, content: str) -> JsonDict:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done": False,
    }


def _final_json(model: str, answer: Answer, content: str = "") -> JsonDict:
    eval_ns = answer.eval_count * 25_000_000  # 40 tokens/s
    prompt_ns = answer.prompt_eval_count * 400_000
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": answer.done_reason,
        "total_duration": 5_000_000 + prompt_ns + eval_ns,
        "load_duration": 5_000_000,
        "prompt_eval_count": answer.prompt_eval_count,
        "prompt_eval_duration": prompt_ns,
        "eval_count": answer.eval_count,
        "eval_duration": eval_ns,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep test output clean; everything is in ``fake.requests``."""

    def setup(self) -> None:
        """No Nagle: headers and body go in separate writes, which would otherwise wait ~40 ms
        for the client's delayed ACK on every reply."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

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
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake._record(request)
        return request

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: JsonDict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _line(self, payload: JsonDict) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hold(self) -> None:
        """Keep the connection open and silent until the client leaves or the fake stops."""
        self.close_connection = True
        fake = self.server.fake
        sock = self.connection
        while not fake.wait_closing(0.05):
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and sock.recv(1, socket.MSG_PEEK) == b"":
                    break
            except OSError:
                break
        fake._stall_released()

    # -- methods -----------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._read_request()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        request = self._read_request()
        fake = self.server.fake
        if request.path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif request.path == "/api/version":
            self._send_json(200, {"version": VERSION})
        elif request.path == "/api/tags":
            self._send_json(200, tags_json(fake.models.values()))
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        request = self._read_request()
        try:
            if request.path == "/api/show":
                self._show(request)
            elif request.path == "/api/chat":
                self._chat(request)
            else:
                self._send(404, b"404 page not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up mid-reply

    def _show(self, request: RecordedRequest) -> None:
        if not isinstance(request.body, dict):
            self._send_json(400, {"error": "missing request body"})
            return
        name = str(request.json.get("model") or request.json.get("name") or "")
        model = self.server.fake.models.get(name)
        if model is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        self._send_json(200, show_json(model))

    def _chat(self, request: RecordedRequest) -> None:
        if not isinstance(request.body, dict):
            self._send_json(400, {"error": "missing request body"})
            return
        name = str(request.json.get("model") or "")
        if name not in self.server.fake.models:
            # server/routes.go handleScheduleError: Go's %q quoting
            self._send_json(404, {"error": f"model {json.dumps(name)} not found, try pulling it first"})
            return
        streaming = request.json.get("stream", True) is not False
        if not request.json.get("messages"):
            load = {**_final_json(name, Answer("")), "done_reason": "load"}
            for key in ("total_duration", "prompt_eval_count", "eval_count"):
                load.pop(key, None)
            if streaming:
                self._start_stream()
                self._line(load)
                self._end_stream()
            else:
                self._send_json(200, load)
            return
        self._reply(self.server.fake._next_step(request), name, streaming)

    def _reply(self, step: Reply, model: str, streaming: bool) -> None:
        if isinstance(step, Fail):
            self._send_json(step.status, {"error": step.error})
        elif isinstance(step, Stall):
            if streaming:
                self._start_stream()
                for piece in _pieces(step.content, step.chunks)[: step.chunks]:
                    self._line(_chunk_json(model, piece))
            self._hold()
        elif isinstance(step, ErrorMidStream):
            if not streaming:
                self._send_json(500, {"error": step.error})
                return
            self._start_stream()
            for piece in _pieces(step.content, step.chunks):
                self._line(_chunk_json(model, piece))
            self._line({"error": step.error})
            self._end_stream()
        elif not streaming:
            time.sleep(step.delay_s * max(1, step.chunks))
            self._send_json(200, _final_json(model, step, step.content))
        else:
            self._start_stream()
            for piece in _pieces(step.content, step.chunks):
                if step.delay_s:
                    time.sleep(step.delay_s)
                self._line(_chunk_json(model, piece))
            if step.delay_s:
                time.sleep(step.delay_s)
            self._line(_final_json(model, step))
            self._end_stream()


def verdict_json(criteria: Iterable[str], judgement: str = "met", critique: str = "") -> str:
    """A well-formed verdict on ``criteria`` (the adapter's schema), as a model would write it."""
    items = [{"criterion": c, "judgement": judgement, "reason": f"checked: {judgement}"} for c in criteria]
    answer: JsonDict = {"criteria": items} if items else {}
    answer.update(overall=judgement, critique=critique)
    return json.dumps(answer)


def asked_criteria(request: RecordedRequest) -> list[str]:
    """The criteria a chat request asks about: the ``enum`` of its ``format`` schema."""
    schema = request.json.get("format")
    if not isinstance(schema, dict):
        return []
    prop = schema.get("properties", {}).get("criteria")
    return list(prop["items"]["properties"]["criterion"]["enum"]) if prop else []


def agreeing(judgement: str = "met") -> Callable[[RecordedRequest], Answer]:
    """A step that answers any chat with a verdict of ``judgement`` on exactly what it asked."""
    return lambda request: Answer(verdict_json(asked_criteria(request), judgement))
