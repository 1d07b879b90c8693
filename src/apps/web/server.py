"""`orch serve`: the webhook app under uvicorn, with the engine thread
(:class:`apps.worker.SessionWorker`) that runs the sessions it starts.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from apps.worker import STOP_WAIT_S, SessionWorker
from orchcore.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

    from apps.bootstrap import Runtime
    from apps.settings import Settings

__all__ = [
    "STOP_WAIT_S",
    "Prepared",
    "SessionWorker",
    "check_exposure",
    "listen",
    "prepare",
    "serve",
    "uvicorn_server",
]

log = logging.getLogger("apps.web")

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_exposure(host: str, has_secret: bool, insecure_local: bool) -> None:
    """Refuse (ConfigError) to serve without a secret, except on loopback with --insecure-local."""
    if insecure_local and host not in LOOPBACK:
        raise ConfigError(f"--insecure-local is only allowed on {', '.join(sorted(LOOPBACK))}, not {host}")
    if not has_secret and not insecure_local:
        raise ConfigError(
            "no webhook secret: set ORCH_WEBHOOK_SECRET in the environment or in a .env file next "
            "to the config file (or, on 127.0.0.1 only, pass --insecure-local to run without one)"
        )


BACKLOG = 2048  # as uvicorn's default: a burst of clients connecting at once is queued, not dropped


def listen(host: str, port: int) -> socket.socket:
    """A TCP listening socket on ``host`` (a name, IPv4 or IPv6 address; port 0: any free one);
    ConfigError if it cannot be had.

    Made with proto IPPROTO_TCP, not ``socket.create_server``'s 0 (which is also IPv4 only),
    so asyncio sets TCP_NODELAY on every accepted connection: a keep-alive client then gets
    each reply at once instead of after its delayed ACK (40 ms).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            if os.name == "posix":  # rebind at once after a restart; elsewhere it would share the port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_HEADER_BYTES = 16 * 1024  # h11's limit on a request's head (request line + headers)
MAX_CONNECTIONS = 200  # beyond this, uvicorn answers 503 instead of holding more


def uvicorn_server(
    app: Any,
    *,
    access_log: bool = True,
    log_config: Any = "default",
    header_timeout_s: float | None = None,
) -> uvicorn.Server:
    """The uvicorn server used by `orch serve` and by the tests: same settings in both.

    Client addresses are taken from the connection, never from X-Forwarded-For, so a
    client cannot dodge the failed-secret limit by forging a header. Slow clients are
    bounded: headers within ``header_timeout_s`` (apps.web.protocol), idle keep-alive
    connections closed after KEEP_ALIVE_S, bodies within the app's body timeout.
    """
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from apps.web.protocol import HEADER_TIMEOUT_S, bounded_protocol

    config = uvicorn.Config(
        app,
        http=bounded_protocol(HEADER_TIMEOUT_S if header_timeout_s is None else header_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
        lifespan="on",
        ws="none",
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
        log_config=LOGGING_CONFIG if log_config == "default" else log_config,
        timeout_graceful_shutdown=int(STOP_WAIT_S),
    )
    redact_uvicorn_logs()
    server = uvicorn.Server(config)
    state = getattr(app, "state", None)
    if state is not None:  # the dashboard's event streams end as soon as a stop is asked for
        state.stopping = lambda: server.should_exit
    return server


def redact_uvicorn_logs() -> None:
    """Pass uvicorn's own loggers (the access log's request lines, its errors) through the one
    redaction of apps.logs, so a ``?secret=`` or ``user:pass@`` is never written. Idempotent."""
    from apps.logs import RedactingFilter

    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


def settle_garbage_collector() -> None:
    """Move everything built so far (modules, app, runtime) out of the collector's sight.

    Those ~45k objects live as long as the server; without this each full collection walks
    them all while serving: 160 ms pauses, the 50-client p99 and maximum (issue 9.3).
    """
    gc.collect()
    gc.freeze()


@attrs.define
class Prepared:
    """A server ready to run on its socket, and the runtime to close after it."""

    server: uvicorn.Server
    sock: socket.socket
    runtime: Runtime
    secured: bool

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def run(self) -> None:
        """Serve until stopped (Ctrl-C, SIGTERM or ``server.should_exit``), then close the runtime.
        Notifications are delivered meanwhile by a background sender."""
        from apps.notify import sending

        try:
            with sending(self.runtime):
                settle_garbage_collector()
                self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:
            pass  # uvicorn has shut down cleanly, then re-raised Ctrl-C: that is a normal stop
        finally:
            gc.unfreeze()  # a process that goes on (a test, an embedding app) collects as before
            self.sock.close()
            self.runtime.close()


def prepare(
    settings: Settings,
    host: str,
    port: int,
    insecure_local: bool,
    *,
    environ: Mapping[str, str] | None = None,
    access_log: bool = True,
    log_config: Any = "default",
    secure_cookie: bool | None = None,
) -> Prepared:
    """Check the exposure rule, wire the runtime and bind the socket; nothing runs yet."""
    from apps.bootstrap import build_runtime
    from apps.secrets import webhook_secret
    from apps.web.app import create_app

    secret = webhook_secret(settings, environ)
    check_exposure(host, secret is not None, insecure_local)
    sock = listen(host, port)
    try:
        runtime = build_runtime(settings)
    except BaseException:
        sock.close()
        raise
    app = create_app(runtime, secret=None if secret is None else secret.reveal(), secure_cookie=secure_cookie)
    server = uvicorn_server(app, access_log=access_log, log_config=log_config)
    if secret is None:
        log.warning("serving on %s:%s WITHOUT authentication (--insecure-local)", host, port)
    return Prepared(server, sock, runtime, secured=secret is not None)


def serve(
    settings: Settings,
    host: str,
    port: int,
    insecure_local: bool,
    *,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Run the webhook server until interrupted. ConfigError before binding if it may not start."""
    prepare(settings, host, port, insecure_local, environ=environ).run()
