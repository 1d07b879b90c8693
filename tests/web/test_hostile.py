"""Hostile and careless clients against the real server on loopback (issue 8, items 10 and 11)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from apps.web.app import create_app
from apps.web.server import uvicorn_server
from tests.support import wait_until
from tests.web.test_webhook import SECRET, World


class Lines(logging.Handler):
    """Collects formatted records of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_logged(tmp_path: Path) -> Iterator[tuple[str, Lines]]:
    """The URL of a server that writes uvicorn's access log as `orch serve` does, and its lines."""
    w = World(tmp_path)
    app = create_app(w.runtime, secret=SECRET, driver=w.worker, monotonic=w.monotonic)
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn_server(app, access_log=True)
    lines = Lines()
    logging.getLogger("uvicorn.access").addHandler(lines)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", lines
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        logging.getLogger("uvicorn.access").removeHandler(lines)
        w.client.close()


def test_a_secret_in_the_query_string_never_reaches_the_access_log(access_logged: tuple[str, Lines]) -> None:
    url, lines = access_logged
    with httpx.Client(timeout=10) as client:
        client.post(f"{url}/webhook/help?secret=hunter2-xyz&token=tok-77", json={})
        client.get(f"{url}/health?sig=sig-99&lines=5")
    wait_until(lambda: len(lines.lines) >= 2, "two access log lines")
    text = "\n".join(lines.lines)
    assert "/webhook/help?secret=***&token=***" in text
    assert "/health?sig=***&lines=5" in text
    for leaked in ("hunter2-xyz", "tok-77", "sig-99"):
        assert leaked not in text
