"""What every loopback API fake shares: an HTTP server on 127.0.0.1 served from a background
thread, started on enter and stopped on exit, whose handler reaches its fake as ``server.fake``.

A fake subclasses ``LoopbackFake`` and gives it its request handler and, for typed access from
that handler, its server class (a ``FakeServer`` subclass whose ``fake`` is annotated with the
fake's own type). ``closing`` is set as the fake stops, so a reply
it holds back (a stalled stream) can let go.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeServer(ThreadingHTTPServer):
    """The server of one fake: a thread per connection, none of them keeping the process alive."""

    daemon_threads = True
    fake: Any


class LoopbackFake:
    """Serve ``handler`` on 127.0.0.1 (``port`` 0: an ephemeral one) while in a ``with`` block."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        server_class: type[FakeServer] = FakeServer,
        port: int = 0,
    ) -> None:
        self._handler = handler
        self._server_class = server_class
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._bind_port = port
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve from a background thread."""
        server = self._server_class(("127.0.0.1", self._bind_port), self._handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held replies, stop serving and close the socket."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (after ``start``)."""
        assert self._server is not None, "the fake is not started"
        return int(self._server.server_address[1])
