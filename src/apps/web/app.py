"""The webhook app: parse, authenticate, call one use case, answer JSON.

Control without IPC: a command changes stored state through the same use
cases as the CLI; the engine (the server's worker, or any other) re-reads it.
The ports are synchronous, so every use case runs on the app's few command threads.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apps.commands import CommandError, Commands, Driver, from_orch_error
from apps.web import schema
from apps.web.bodies import body_problems
from apps.web.incidents import IncidentLog
from orchcore import errors as e

if TYPE_CHECKING:
    from apps.bootstrap import Runtime

log = logging.getLogger("apps.web")

MAX_BODY = 64 * 1024
BODY_TIMEOUT_S = 10.0  # the whole body must arrive within this; a stalled upload is cut off
AUTH_FAILURES = 10
AUTH_WINDOW_S = 60.0
SECRET_HEADER = "x-orch-secret"  # noqa: S105 - a header name, not a secret
#: threads that run commands: the store serialises them anyway, and anyio's default pool (40
#: threads, a cancel scope and limiter per call) cost 40 % more CPU per request under 50 clients
COMMAND_THREADS = 4
#: commands that only read: identical ones waiting at the same time share one run
SHARED_READS = frozenset({"status", "help"})


class WebError(CommandError):
    """An answer other than 200: a code from schema.ERROR_STATUS and a message for humans."""

    def response(self) -> JSONResponse:
        return error_response(self)


def error_response(exc: CommandError) -> JSONResponse:
    """The JSON answer (schema.ERROR) for a refused command."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        error["details"] = exc.details
    return JSONResponse(
        {"ok": False, "error": error}, status_code=schema.ERROR_STATUS[exc.code], headers=exc.headers
    )


@attrs.define
class FailureLimiter:
    """Counts failed secrets per client; ``limit`` failures within ``window_s`` block it until
    the oldest of them is ``window_s`` old. Memory is bounded: ``limit`` stamps per client."""

    limit: int
    window_s: float
    now: Callable[[], float]
    max_clients: int = 10_000
    _failures: dict[str, deque[float]] = attrs.field(factory=dict)

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None if it may now."""
        stamps = self._failures.get(client)
        if stamps is None or len(stamps) < self.limit:
            return None
        wait = stamps[0] + self.window_s - self.now()
        return wait if wait > 0 else None

    def record(self, client: str) -> None:
        """Count one failed attempt by ``client``."""
        if len(self._failures) >= self.max_clients:
            cutoff = self.now() - self.window_s
            self._failures = {c: s for c, s in self._failures.items() if s[-1] > cutoff}
        self._failures.setdefault(client, deque(maxlen=self.limit)).append(self.now())


def _version() -> str:
    import orchcore

    return str(orchcore.__version__)


def create_app(
    runtime: Runtime,
    *,
    secret: str | None,
    driver: Driver | None = None,
    max_body: int = MAX_BODY,
    auth_failures: int = AUTH_FAILURES,
    auth_window_s: float = AUTH_WINDOW_S,
    monotonic: Callable[[], float] = time.monotonic,
    body_timeout_s: float = BODY_TIMEOUT_S,
    command_threads: int = COMMAND_THREADS,
    secure_cookie: bool | None = None,
) -> Starlette:
    """The webhook ASGI app over ``runtime``. ``secret=None`` turns authentication off (only
    `orch serve --insecure-local` does that). The driver's thread and the ``command_threads``
    that run commands live as long as the app. The dashboard (apps.web.dashboard) is served
    under /ui/; ``secure_cookie`` marks its cookie Secure (None: when the request is https)."""
    if driver is None:
        from apps.worker import SessionWorker

        driver = SessionWorker(runtime)
    hooks = _Webhook(
        Commands(runtime, driver),
        None if secret is None else secret.encode(),
        driver,
        FailureLimiter(auth_failures, auth_window_s, monotonic),
        max_body,
        monotonic,
        body_timeout_s,
        ThreadPoolExecutor(command_threads, thread_name_prefix="orch-web"),
    )

    from apps.web.dashboard import Dashboard

    dashboard = Dashboard(
        runtime,
        Commands(runtime, driver, source="dashboard", start_lock=hooks.commands.start_lock),
        driver,
        hooks.secret,
        hooks.limiter,
        hooks.pool,
        monotonic,
        secure_cookie=secure_cookie,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hooks.driver.start()
        try:
            yield
        finally:
            await run_in_threadpool(hooks.driver.stop)  # it joins a thread: not on the event loop
            await run_in_threadpool(hooks.pool.shutdown)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return WebError(code, exc.detail).response()

    return Starlette(
        routes=[
            Route("/health", hooks.health, methods=["GET"]),
            Route("/openapi.json", hooks.openapi, methods=["GET"]),
            Route("/webhook/command", hooks.webhook, methods=["POST"]),
            Route("/webhook/{name}", hooks.webhook, methods=["POST"]),
            *dashboard.routes(),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )


@attrs.define
class _Webhook:
    commands: Commands
    secret: bytes | None
    driver: Driver
    limiter: FailureLimiter
    max_body: int
    monotonic: Callable[[], float]
    body_timeout_s: float
    pool: ThreadPoolExecutor
    incidents: IncidentLog = attrs.field(factory=lambda: IncidentLog(log))
    started: float = 0.0
    _last_body: tuple[dict[str, Any], bytes] | None = attrs.field(default=None, init=False)
    #: per shared read (command, params): the run that has not started yet, which requests
    #: arriving now join, and the one running
    _next_read: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = attrs.field(factory=dict, init=False)
    _running_read: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = attrs.field(factory=dict, init=False)
    version: str = attrs.field(factory=_version)
    document: dict[str, Any] = attrs.field(
        default=attrs.Factory(lambda self: schema.openapi_document(self.version), takes_self=True)
    )

    def __attrs_post_init__(self) -> None:
        self.started = self.monotonic()

    async def health(self, _: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok" if self.driver.alive() else "degraded",
                "version": self.version,
                "uptime": round(self.monotonic() - self.started, 3),
            }
        )

    async def openapi(self, _: Request) -> Response:
        return JSONResponse(self.document)

    async def webhook(self, request: Request) -> Response:
        try:
            result = await self._handle(request)
        except ClientDisconnect:
            client = request.client.host if request.client else "a client"
            self.incidents.report("client_gone", f"{client} closed the connection mid-body; nothing was done")
            return Response(status_code=400)  # nobody reads it: the client is gone
        except CommandError as exc:
            return error_response(exc)
        except e.OrchError as exc:
            return error_response(from_orch_error(exc))
        except Exception:
            log.exception("webhook %s failed", request.url.path)
            return WebError("internal", "internal error; the server log has the details").response()
        return self._encoded(result)

    def _encoded(self, result: dict[str, Any]) -> Response:
        """``result`` as JSON; the bytes of the last answer again when Commands gave the very same
        object (an unchanged status: see Commands._status), so polling encodes nothing."""
        last = self._last_body
        if last is not None and last[0] is result:
            return Response(last[1], media_type="application/json")
        response = JSONResponse(result)
        self._last_body = (result, bytes(response.body))
        return response

    async def _handle(self, request: Request) -> dict[str, Any]:
        """Read (bounded in size and time), authenticate, then parse, validate and run: nothing
        in the body but the ``secret`` field is looked at before the sender is known."""
        client = request.client.host if request.client else "unknown"
        raw = await self._read_body(request)
        body, bad_json = _parse(raw)
        self._authenticate(request, body, client, bad_json)
        if bad_json is not None:
            raise WebError("invalid_json", f"the body is not valid JSON: {bad_json}")
        command, params = _command(request.path_params.get("name"), body)
        if command in SHARED_READS:
            return await self._shared(command, params)
        return await self._run(command, params)

    async def _run(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        # the ports are synchronous: a command runs on the app's threads, never on the event loop
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, self.commands.execute, command, params
        )

    async def _shared(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run a read-only command once for all the identical requests waiting for it.

        Handing a command to a thread and back costs ~300 us of CPU under 50 clients, five times
        the read itself; polling clients ask the same thing. A request joins the run that has not
        started yet, else starts one, which waits for the running one to end: a run starts after
        every request it answers arrived, so none is answered with a state older than itself (a
        status sent after an approve was answered shows the approval).
        """
        key = (command, json.dumps(params, sort_keys=True))
        run = self._next_read.get(key)
        if run is None:
            run = self._next_read[key] = asyncio.ensure_future(self._shared_run(key, command, params))
        return await asyncio.shield(run)  # a request given up on does not cancel the others' run

    async def _shared_run(self, key: tuple[str, str], command: str, params: dict[str, Any]) -> dict[str, Any]:
        running = self._running_read.get(key)
        if running is not None:
            await asyncio.wait([running])  # its outcome is its own requests'
        run = asyncio.current_task()
        assert run is not None  # noqa: S101 - a coroutine of a task
        del self._next_read[key]  # from now on, requests join the next run
        self._running_read[key] = run
        try:
            return await self._run(command, params)
        finally:
            del self._running_read[key]

    async def _read_body(self, request: Request) -> bytes:
        """The body, refusing (413) as soon as it passes the limit: never read unbounded."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise WebError("bad_request", "invalid Content-Length header")
            if int(declared) > self.max_body:
                raise self._too_large()
        data = bytearray()
        try:
            async with asyncio.timeout(self.body_timeout_s):
                async for chunk in request.stream():
                    data += chunk
                    if len(data) > self.max_body:
                        raise self._too_large()
        except TimeoutError:
            client = request.client.host if request.client else "a client"
            self.incidents.report(
                "slow_body", f"{client} did not send its body within {self.body_timeout_s:g} s"
            )
            raise WebError(
                "request_timeout", f"the body did not arrive within {self.body_timeout_s:g} s"
            ) from None
        return bytes(data)

    def _too_large(self) -> WebError:
        return WebError("too_large", f"the body is larger than {self.max_body} bytes")

    def _authenticate(self, request: Request, body: object, client: str, bad_json: str | None) -> None:
        if self.secret is None:
            return
        # header values arrive decoded as latin-1: encoding back gives the bytes sent (UTF-8)
        presented: bytes | None = None
        header = request.headers.get(SECRET_HEADER)
        auth = request.headers.get("authorization", "")
        if header is not None:
            presented = header.encode("latin-1")
        elif auth[:7].lower() == "bearer ":
            presented = auth[7:].strip().encode("latin-1")
        elif isinstance(body, dict) and isinstance(body.get("secret"), str):
            presented = body["secret"].encode()
        if presented is not None and hmac.compare_digest(presented, self.secret):
            return  # the right secret always passes: only failing credentials are throttled
        wait = self.limiter.retry_after(client)
        if wait is not None:
            raise WebError(
                "rate_limited",
                "too many failed attempts from this client; try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        self.limiter.record(client)
        why = "wrong secret" if presented is not None else "no secret"
        log.warning("unauthorized webhook request from %s to %s: %s", client, request.url.path, why)
        hint = " (the body is not JSON, so no `secret` field could be read)" if bad_json else ""
        raise WebError("unauthorized", f"{why}: send the shared secret in the X-Orch-Secret header{hint}")


def _parse(raw: bytes) -> tuple[object, str | None]:
    """The parsed body ({} when empty) and None, or None and why it is not JSON."""
    if not raw.strip():
        return {}, None

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(raw, parse_constant=no_constants), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except ValueError as exc:
        return None, str(exc)
    except RecursionError:
        return None, "nested too deeply"


def _command(name: str | None, body: object) -> tuple[str, dict[str, Any]]:
    """The command and its params from a validated body; 404 for an unknown endpoint."""
    if name is None:
        problems = body_problems(None, body)
        if problems:
            raise WebError("validation", problems[0], problems)
        assert isinstance(body, dict)  # noqa: S101 - the schema says object
        return str(body["command"]), dict(body.get("params", {}))
    if name not in schema.COMMANDS:
        raise WebError("not_found", f"no endpoint /webhook/{name}; commands: {', '.join(schema.COMMANDS)}")
    problems = body_problems(name, body)
    if problems:
        raise WebError("validation", problems[0], problems)
    assert isinstance(body, dict)  # noqa: S101 - the schema says object
    return name, {k: v for k, v in body.items() if k != "secret"}
