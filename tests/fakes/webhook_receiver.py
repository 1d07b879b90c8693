"""A stand-in for an n8n Webhook node on 127.0.0.1 that dedupes by Idempotency-Key.

It shows (records in ``shown``) the first accepted delivery of each key and counts
any later accepted delivery of the same key in ``duplicates``, as a receiving n8n
flow with a "remove duplicates" step would. Tests script its answers: a queue of
HTTP statuses for the next requests (default 200), ``hold``/``release`` (requests
unanswered meanwhile, then 503 and not shown: a receiver that hangs), and ``lose_answers`` (accept and
show, then hold the answer past the client's timeout: the sender must retry, and
the receiver must not show it twice). It can also start late on a reserved port,
so a test can begin with the port refusing connections.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

HOLD_LIMIT_S = 30.0  # a held request is answered after this at the latest


@attrs.frozen
class Received:
    """One request as the receiver saw it, and the status it answered."""

    key: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    status: int


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookReceiver:
    """Satisfies nothing: a loopback HTTP server playing the n8n side."""

    def __init__(self, port: int = 0, *, secret: str | None = None, path: str = "/webhook/orch") -> None:
        self.port = port
        self.path = path
        self.secret = secret
        self.requests: list[Received] = []
        self.shown: list[str] = []
        self.duplicates: Counter[str] = Counter()
        self.answers: deque[int] = deque()
        self.lose_answers = 0
        self.lost: list[str] = []  # keys shown whose answer the client never got
        self.held = 0  # requests that arrived while holding
        self._holding = threading.Event()  # set: hold every request until released
        self._released = threading.Event()
        self._closing = threading.Event()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                return

            def do_POST(self) -> None:
                receiver.handle(self)

        self._closing.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def hold(self) -> None:
        """Leave requests unanswered (a receiver that hangs) until :meth:`release`."""
        self._released.clear()
        self._holding.set()

    def release(self) -> None:
        self._holding.clear()
        self._released.set()

    def stop(self) -> None:
        self._closing.set()
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        raw = request.rfile.read(length)
        key = request.headers.get("Idempotency-Key")
        headers = {k.lower(): v for k, v in request.headers.items()}
        held = self._holding.is_set()
        if held:
            with self.lock:
                self.held += 1
            self._released.wait(HOLD_LIMIT_S)
        with self.lock:
            if held:
                status = 503  # stuck before doing anything: nothing was shown
            elif self.secret is not None and headers.get("x-orch-secret") != self.secret:
                status = 401
            else:
                status = self.answers.popleft() if self.answers else 200
            lose = status == 200 and self.lose_answers > 0
            if lose:
                self.lose_answers -= 1
                self.lost.append(key or "")
            if status == 200 and key is not None:
                if key in self.shown:
                    self.duplicates[key] += 1
                else:
                    self.shown.append(key)
            self.requests.append(Received(key, json.loads(raw or b"{}"), headers, status))
        if lose:
            self._closing.wait(HOLD_LIMIT_S)  # the client times out first: its answer is lost
        body = json.dumps({"ok": status == 200}).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting

    def keys_shown(self) -> list[str]:
        with self.lock:
            return list(self.shown)
