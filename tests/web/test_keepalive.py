"""Keep-alive clients (httpx, n8n) get each reply at once: every socket `orch serve` accepts has
TCP_NODELAY, on whatever address the user passes (IPv4, IPv6, any, localhost).

Without it the reply's body waits behind its head for the client's delayed ACK: 40 ms per
request on a reused connection. Timing that would be a flaky test, so these tests look at the
server side of the connection instead: one connection served the requests, and it has the option.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from apps.settings import Settings, load_settings
from apps.web.server import Prepared, listen, prepare, uvicorn_server
from tests.support import ORCH, wait_until
from tests.web.test_webhook import HEADERS, SECRET, SIMPLE, World

pytestmark = pytest.mark.integration

REQUESTS = 20


def ipv6_loopback() -> str | None:
    """Why IPv6 loopback cannot be used here, or None if it can."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        return f"this machine has no IPv6 loopback ({exc})"
    return None


def settings_in(tmp_path: Path) -> Settings:
    (tmp_path / "tasks").mkdir(exist_ok=True)
    (tmp_path / "tasks" / "simple.md").write_text(SIMPLE)
    config = tmp_path / "orch.yaml"
    config.write_text('agent:\n  command: ["true"]\n  timeout_s: 30\n')
    return load_settings(str(config), environ={})


@pytest.fixture
def serving(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Prepared, str]]:
    """`orch serve --host HOST` (its real prepare: SQLite store, secret) and the URL to reach it."""
    host, reach = request.param
    if ":" in reach and (why := ipv6_loopback()) is not None:
        pytest.skip(why)
    ready = prepare(
        settings_in(tmp_path),
        host,
        0,
        False,
        environ={"ORCH_WEBHOOK_SECRET": SECRET},
        access_log=False,
        log_config=None,
    )
    thread = threading.Thread(target=ready.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: ready.server.started, "the server to start")
        yield ready, f"http://{f'[{reach}]' if ':' in reach else reach}:{ready.port}"
    finally:
        ready.server.should_exit = True
        thread.join(10)


def accepted_sockets(server: object) -> list[socket.socket]:
    """The server side of every connection the uvicorn server holds now."""
    connections = list(server.server_state.connections)  # type: ignore[attr-defined]
    return [conn.transport.get_extra_info("socket") for conn in connections]


def nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


HOSTS = [
    pytest.param(("127.0.0.1", "127.0.0.1"), id="ipv4-loopback"),
    pytest.param(("localhost", "localhost"), id="localhost"),
    pytest.param(("0.0.0.0", "127.0.0.1"), id="ipv4-any"),  # noqa: S104 - with a secret, as a user would
    pytest.param(("::1", "::1"), id="ipv6-loopback"),
    pytest.param(("::", "::1"), id="ipv6-any"),
]


@pytest.mark.parametrize("serving", HOSTS, indirect=True)
def test_replies_on_a_keep_alive_connection_never_wait_for_the_clients_ack(
    serving: tuple[Prepared, str],
) -> None:
    ready, url = serving
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
        for _ in range(REQUESTS):
            response = client.post("/webhook/help", json={})
            assert response.status_code == 200, response.text
            held = accepted_sockets(ready.server)
            assert len(held) == 1, "the client's requests should share one keep-alive connection"
            assert nodelay(held[0]), "the reply's body would wait for the client's delayed ACK"


def test_the_listening_socket_is_tcp_so_asyncio_sets_nodelay_itself() -> None:
    with listen("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1"


def test_a_host_that_cannot_be_resolved_is_a_clear_error() -> None:
    from orchcore.errors import ConfigError

    with pytest.raises(ConfigError, match=r"cannot listen on no-such-host\.invalid:0"):
        listen("no-such-host.invalid", 0)


def test_sockets_from_elsewhere_get_nodelay_from_the_protocol(tmp_path: Path) -> None:
    """A socket made by someone else (a test, socket activation) with proto 0 gets it too."""
    w = World(tmp_path)
    from apps.web.app import create_app

    app = create_app(w.runtime, secret=SECRET, driver=w.worker, monotonic=w.monotonic)
    sock = socket.create_server(("127.0.0.1", 0))
    assert sock.proto == 0  # asyncio only sets TCP_NODELAY itself for proto IPPROTO_TCP
    server = uvicorn_server(app, access_log=False, log_config=None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the server to start")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
            for _ in range(3):
                assert client.post("/webhook/help", json={}).status_code == 200
                assert [nodelay(s) for s in accepted_sockets(server)] == [True]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        w.client.close()


def test_orch_serve_on_ipv6_loopback_prints_an_address_a_client_can_use(tmp_path: Path) -> None:
    if (why := ipv6_loopback()) is not None:
        pytest.skip(why)
    settings_in(tmp_path)
    env = {**os.environ, "ORCH_WEBHOOK_SECRET": SECRET, "ORCH_STATE_DIR": str(tmp_path / "state")}
    args = [str(ORCH), "serve", "--config", str(tmp_path / "orch.yaml"), "--host", "::1", "--port", "0"]
    with subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stderr is not None
            line = server.stderr.readline()
            found = re.search(r"listening on (\[::1\]:\d+),", line)
            assert found, line
            with httpx.Client(base_url=f"http://{found.group(1)}", headers=HEADERS, timeout=10) as client:
                assert client.get("/health").json()["status"] == "ok"
                assert client.post("/webhook/help", json={}).status_code == 200
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(10)
