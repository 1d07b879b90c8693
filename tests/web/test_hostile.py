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


# ---- item 11: dropped and slow clients, failed secrets ------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path).serve()
    yield w
    w.close()


def raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_by_server(conn: socket.socket, within_s: float) -> bytes:
    """What the server sends until it closes the connection; fails if it holds it longer."""
    conn.settimeout(within_s)
    got = b""
    try:
        while chunk := conn.recv(4096):
            got += chunk
    except TimeoutError:
        raise AssertionError(f"the server held a stalled connection for more than {within_s} s") from None
    finally:
        conn.close()
    return got


def test_the_right_secret_always_passes_even_after_many_wrong_ones(world: World) -> None:
    for _ in range(15):
        assert world.post("/webhook/help", {}, headers={"X-Orch-Secret": "wrong"}).status_code in (401, 429)
    assert world.post("/webhook/help", {}, headers={"X-Orch-Secret": "wrong"}).status_code == 429
    assert world.post("/webhook/help", {}).status_code == 200  # the right one is never locked out


def test_clients_dropping_mid_body_log_one_line_not_tracebacks(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(30):
        conn = raw(world.url)
        conn.sendall(
            b"POST /webhook/help HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"secret": '
        )
        conn.close()
    assert world.post("/webhook/help", {}).status_code == 200  # still serving
    ours = [r for r in caplog.records if r.name.startswith("apps")]
    assert [r for r in ours if r.levelno >= logging.ERROR] == []
    assert [r for r in ours if r.exc_info] == []
    assert 1 <= len([r for r in ours if "mid-body" in r.getMessage()]) <= 2  # rate-limited


def test_a_body_that_stalls_is_cut_off(tmp_path: Path) -> None:
    w = World(tmp_path)
    app = create_app(w.runtime, secret=SECRET, driver=w.worker, monotonic=w.monotonic, body_timeout_s=0.5)
    server = uvicorn_server(app, access_log=False, log_config=None)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        conn = raw(f"http://127.0.0.1:{sock.getsockname()[1]}")
        conn.sendall(
            b"POST /webhook/help HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{"
        )
        answer = closed_by_server(conn, within_s=5)
        assert answer.startswith(b"HTTP/1.1 408")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        w.client.close()


def test_headers_that_never_finish_are_cut_off(tmp_path: Path) -> None:
    w = World(tmp_path)
    app = create_app(w.runtime, secret=SECRET, driver=w.worker, monotonic=w.monotonic)
    server = uvicorn_server(app, access_log=False, log_config=None, header_timeout_s=0.5)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        conn = raw(f"http://127.0.0.1:{sock.getsockname()[1]}")
        conn.sendall(b"POST /webhook/help HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        closed_by_server(conn, within_s=5)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        w.client.close()


@pytest.mark.parametrize("protocol", ["as installed", "h11"])
def test_headers_larger_than_the_limit_are_refused_at_once_and_a_normal_request_passes(
    tmp_path: Path, protocol: str
) -> None:
    from apps.web import protocol as protocols

    w = World(tmp_path)
    app = create_app(w.runtime, secret=SECRET, driver=w.worker, monotonic=w.monotonic)
    server = uvicorn_server(app, access_log=False, log_config=None, header_timeout_s=60)
    if protocol == "h11":
        server.config.http = protocols.bounded_h11(60)
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        pad = {b"X-Orch-Secret": SECRET.encode(), b"X-Pad": b"p" * 8000}
        fine = httpx.post(f"{url}/webhook/help", json={}, headers=pad, timeout=10)
        assert fine.status_code == 200
        conn = raw(url)
        conn.sendall(b"POST /webhook/help HTTP/1.1\r\nHost: x\r\n")
        for _ in range(9):  # 18 KB of headers, no end to them; only the last chunk passes 16 KiB,
            conn.sendall(b"X-Pad: " + b"p" * 2000 + b"\r\n")  # so the server has read all when it closes
        answer = closed_by_server(conn, within_s=5)  # long before the 60 s header deadline
        assert answer.startswith(b"HTTP/1.1 400")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        w.client.close()
