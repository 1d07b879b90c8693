"""`orch serve`: the webhook app under uvicorn, and the engine thread that runs
the sessions it starts.

Agents are started with PR_SET_PDEATHSIG, which fires when the *thread* that
started them exits; so every engine runs in one long-lived worker thread,
never in a short-lived one (nor in the ASGI thread pool).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from orchcore.errors import ConfigError, OrchError, SessionBusy
from orchcore.records import EventKind

if TYPE_CHECKING:
    import uvicorn

    from apps.bootstrap import Runtime
    from apps.settings import Settings
    from orchcore.records import Event

log = logging.getLogger("apps.web")

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
STOP_WAIT_S = 5.0


class SessionWorker:
    """Drives submitted sessions one at a time, in one thread that lives as long as the server.

    A session submitted while queued is queued once; one submitted while it is
    being driven is driven again afterwards (the engine may have stopped already).
    Errors are logged, never fatal: the thread goes on with the next session.
    """

    def __init__(self, runtime: Runtime, *, name: str = "orch-engine") -> None:
        self._runtime = runtime
        self._name = name
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._current: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Ask the thread to end after the session it drives; wait at most ``timeout``. An agent
        still running then is killed with the process (PDEATHSIG); `orch resume` re-runs its task."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("engine thread still driving session %s at shutdown", self._current)
        with self._lock:
            left = sorted(self._queued)
        if left:
            log.warning("sessions not driven before shutdown (continue with resume): %s", ", ".join(left))

    def submit(self, session_id: str) -> None:
        with self._lock:
            if session_id in self._queued:
                return
            self._queued.add(session_id)
        self._queue.put(session_id)

    def driving(self) -> str | None:
        return self._current

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """Nothing queued and nothing being driven."""
        with self._lock:
            return not self._queued and self._current is None

    def _loop(self) -> None:
        while True:
            session_id = self._queue.get()
            if session_id is None:
                return
            with self._lock:
                self._queued.discard(session_id)
                self._current = session_id
            try:
                self._drive(session_id)
            except SessionBusy as exc:
                log.warning("not driving session %s: %s", session_id, exc)
            except OrchError as exc:
                log.error("session %s stopped: %s", session_id, exc)  # noqa: TRY400 - expected, no traceback
            except Exception:
                log.exception("engine failed on session %s", session_id)
            finally:
                with self._lock:
                    self._current = None

    def _drive(self, session_id: str) -> None:
        rt = self._runtime
        agent = rt.agents(rt.store.session(session_id).agent or rt.settings.agent.name)
        outcome = rt.engine(agent, _log_event).run(session_id)
        log.info("session %s stopped in state %s", session_id, outcome.session.state.value)


def _log_event(event: Event) -> None:
    if event.kind is not EventKind.AGENT:  # agent chatter stays in the task logs
        log.info("event %s task=%s %s", event.kind.value, event.task_id, event.data)


def check_exposure(host: str, has_secret: bool, insecure_local: bool) -> None:
    """Refuse (ConfigError) to serve without a secret, except on loopback with --insecure-local."""
    if insecure_local and host not in LOOPBACK:
        raise ConfigError(f"--insecure-local is only allowed on {', '.join(sorted(LOOPBACK))}, not {host}")
    if not has_secret and not insecure_local:
        raise ConfigError(
            "no webhook secret: set ORCH_WEBHOOK_SECRET in the environment or in a .env file next "
            "to the config file (or, on 127.0.0.1 only, pass --insecure-local to run without one)"
        )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one); ConfigError if it cannot be had."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def uvicorn_server(app: Any, *, access_log: bool = True, log_config: Any = "default") -> uvicorn.Server:
    """The uvicorn server used by `orch serve` and by the tests: same settings in both.

    Client addresses are taken from the connection, never from X-Forwarded-For, so a
    client cannot dodge the failed-secret limit by forging a header.
    """
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    config = uvicorn.Config(
        app,
        lifespan="on",
        ws="none",
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
        log_config=LOGGING_CONFIG if log_config == "default" else log_config,
        timeout_graceful_shutdown=int(STOP_WAIT_S),
    )
    return uvicorn.Server(config)


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
        """Serve until stopped (Ctrl-C, SIGTERM or ``server.should_exit``), then close the runtime."""
        try:
            self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:
            pass  # uvicorn has shut down cleanly, then re-raised Ctrl-C: that is a normal stop
        finally:
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
    app = create_app(runtime, secret=None if secret is None else secret.reveal())
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
