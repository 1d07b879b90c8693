"""The webhook app: parse, authenticate, call one use case, answer JSON.

Control without IPC: a command changes stored state through the same use
cases as the CLI; the engine (the server's worker, or any other) re-reads it.
The ports are synchronous, so every use case runs in the thread pool.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apps.web import schema
from orchcore import errors as e
from orchcore.service import create_session, resolve_session, send_command, suggestions, unfinished_sessions
from orchcore.state import Command, SessionState
from orchcore.taskfile import parse_task_file

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from apps.settings import Settings
    from orchcore.records import Event, Snapshot

log = logging.getLogger("apps.web")

MAX_BODY = 64 * 1024
AUTH_FAILURES = 10
AUTH_WINDOW_S = 60.0
SECRET_HEADER = "x-orch-secret"  # noqa: S105 - a header name, not a secret


class Driver(Protocol):
    """Runs sessions in the server process: one long-lived engine thread."""

    def start(self) -> None:
        """Begin accepting sessions."""
        ...

    def stop(self) -> None:
        """Stop after the current step; do not wait for a long agent run."""
        ...

    def submit(self, session_id: str) -> None:
        """Drive ``session_id`` soon (once, however often it is submitted meanwhile)."""
        ...

    def driving(self) -> str | None:
        """The session being driven now, if any."""
        ...

    def alive(self) -> bool:
        """Whether the engine thread is running."""
        ...


class WebError(Exception):
    """An answer other than 200: a code from schema.ERROR_STATUS and a message for humans."""

    def __init__(
        self, code: str, message: str, details: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return JSONResponse(
            {"ok": False, "error": error}, status_code=schema.ERROR_STATUS[self.code], headers=self.headers
        )


def from_orch_error(exc: e.OrchError) -> WebError:
    """The one place that maps orchcore errors to HTTP answers."""
    if isinstance(exc, e.IllegalTransition):
        return WebError("illegal_transition", f"{exc}; nothing was changed", list(exc.allowed))
    if isinstance(exc, e.NotFound):
        return WebError("not_found", str(exc))
    if isinstance(exc, e.SessionBusy):
        return WebError("busy", f"{exc}; wait for it to stop, or pause it")
    if isinstance(exc, e.TaskFileError):
        n = len(exc.problems)
        return WebError(
            "bad_request",
            f"the task file has {n} problem{'s' if n != 1 else ''}",
            [str(p) for p in exc.problems],
        )
    if isinstance(exc, e.AgentUnavailable):
        return WebError("agent_unavailable", f"agent unavailable: {exc}")
    if isinstance(exc, e.StoreError):
        return WebError("store_error", f"state store: {exc}")
    return WebError("internal", str(exc))


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
) -> Starlette:
    """The webhook ASGI app over ``runtime``. ``secret=None`` turns authentication off (only
    `orch serve --insecure-local` does that). The driver's thread lives as long as the app."""
    if driver is None:
        from apps.web.server import SessionWorker

        driver = SessionWorker(runtime)
    hooks = _Webhook(
        runtime,
        None if secret is None else secret.encode(),
        driver,
        FailureLimiter(auth_failures, auth_window_s, monotonic),
        max_body,
        monotonic,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hooks.driver.start()
        try:
            yield
        finally:
            await run_in_threadpool(hooks.driver.stop)  # it joins a thread: not on the event loop

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
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )


@attrs.define
class _Webhook:
    runtime: Runtime
    secret: bytes | None
    driver: Driver
    limiter: FailureLimiter
    max_body: int
    monotonic: Callable[[], float]
    started: float = 0.0
    start_lock: threading.Lock = attrs.field(factory=threading.Lock)
    document: dict[str, Any] = attrs.field(factory=lambda: schema.openapi_document(_version()))

    def __attrs_post_init__(self) -> None:
        self.started = self.monotonic()

    async def health(self, _: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok" if self.driver.alive() else "degraded",
                "version": _version(),
                "uptime": round(self.monotonic() - self.started, 3),
            }
        )

    async def openapi(self, _: Request) -> Response:
        return JSONResponse(self.document)

    async def webhook(self, request: Request) -> Response:
        try:
            result = await self._handle(request)
        except WebError as exc:
            return exc.response()
        except e.OrchError as exc:
            return from_orch_error(exc).response()
        except Exception:
            log.exception("webhook %s failed", request.url.path)
            return WebError("internal", "internal error; the server log has the details").response()
        return JSONResponse(result)

    async def _handle(self, request: Request) -> dict[str, Any]:
        """Limit, read (bounded), authenticate, then parse, validate and run: nothing in the
        body but the ``secret`` field is looked at before the sender is known."""
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.retry_after(client)
        if wait is not None:
            raise WebError(
                "rate_limited",
                "too many failed attempts from this client; try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        raw = await self._read_body(request)
        body, bad_json = _parse(raw)
        self._authenticate(request, body, client, bad_json)
        if bad_json is not None:
            raise WebError("invalid_json", f"the body is not valid JSON: {bad_json}")
        command, params = _command(request.path_params.get("name"), body)
        return await run_in_threadpool(self._execute, command, params)

    async def _read_body(self, request: Request) -> bytes:
        """The body, refusing (413) as soon as it passes the limit: never read unbounded."""
        too_large = WebError("too_large", f"the body is larger than {self.max_body} bytes")
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise WebError("bad_request", "invalid Content-Length header")
            if int(declared) > self.max_body:
                raise too_large
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self.max_body:
                raise too_large
        return bytes(data)

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
            return
        self.limiter.record(client)
        why = "wrong secret" if presented is not None else "no secret"
        log.warning("unauthorized webhook request from %s to %s: %s", client, request.url.path, why)
        hint = " (the body is not JSON, so no `secret` field could be read)" if bad_json else ""
        raise WebError("unauthorized", f"{why}: send the shared secret in the X-Orch-Secret header{hint}")

    # ---- use cases: these run in the thread pool, the ports being synchronous ----

    def _execute(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        rt = self.runtime
        if command == "start":
            return self._start(params)
        if command == "help":
            newest = rt.store.sessions()
            snap = rt.store.load(newest[0].id) if newest else None
            return self._answer("help", snap, "commands: " + ", ".join(schema.COMMANDS), help=schema.COMMANDS)
        sid = resolve_session(rt.store, params.get("session"))
        if command == "status":
            snap = rt.store.load(sid)
            reason = f" — {snap.session.reason}" if snap.session.reason else ""
            return self._answer("status", snap, f"session {sid}: {snap.session.state.value}{reason}")
        if command == "logs":
            return self._logs(sid, params)
        return self._command(sid, Command(command), params)

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        rt = self.runtime
        name = str(params["file"])
        path = task_file(rt.settings, name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WebError("bad_request", f"cannot read task file {name!r}: {exc}") from None
        plan = attrs.evolve(parse_task_file(text, name), source=str(path))
        agent = rt.settings.agent.name
        rt.agents(agent).check()
        with self.start_lock:  # the unfinished-session check and the create are one step
            if not params.get("new", False):
                for s in unfinished_sessions(rt.store, plan.source):
                    raise WebError(
                        "conflict",
                        f"session {s.id} from this file is {s.state.value}: continue it with resume "
                        f'(session {s.id}), or start another with "new": true',
                    )
            snap = create_session(
                rt.store, plan, rt.ids, rt.clock, auto_approve=bool(params.get("auto_approve")), agent=agent
            )
            sid = snap.session.id
            after = send_command(rt.store, sid, Command.START, rt.clock, source="webhook")
        self.driver.submit(sid)
        n = len(plan.tasks)
        message = f"session {sid} started: {n} task{'s' if n != 1 else ''} from {name}, agent {agent}"
        return self._answer("start", after, message, queued=True)

    def _command(self, sid: str, command: Command, params: dict[str, Any]) -> dict[str, Any]:
        rt = self.runtime
        task = None if params.get("task") is None else str(params["task"])
        text = str(params.get("text") or params.get("reason") or "")
        if command is Command.RESUME:
            holder = rt.store.lease_holder(sid)
            if holder is not None and self.driver.driving() != sid:
                raise e.SessionBusy(f"session {sid} is being run by {holder}")
            rt.agents(rt.store.session(sid).agent or rt.settings.agent.name).check()
        before = rt.store.load(sid)
        after = send_command(rt.store, sid, command, rt.clock, task_id=task, text=text, source="webhook")
        holder = rt.store.lease_holder(sid)
        # a session left running needs an engine: ours, unless another one drives it already
        queued = after.session.state is SessionState.RUNNING and (
            holder is None or self.driver.driving() == sid
        )
        if queued:
            self.driver.submit(sid)
        changed = {t: after.runs[t].state.value for t in after.plan.ids if after.runs[t] != before.runs[t]}
        subject = next(iter(changed), None) or before.session.waiting_for or task
        done = {
            Command.APPROVE: f"approved task {subject}",
            Command.REJECT: f"rejected task {subject}: it is failed",
            Command.PAUSE: "paused: a running task finishes, nothing new starts",
            Command.RESUME: "resumed",
            Command.SKIP: f"skipped task {subject}",
            Command.RETRY: f"task {subject} queued for another attempt",
            Command.CANCEL: "cancelled the session",
            Command.ANSWER: f"answered task {subject}",
        }.get(command, command.value)
        return self._answer(
            command.value,
            after,
            f"{done} (session {sid} is now {after.session.state.value})",
            queued=queued,
            changed={"previous_state": before.session.state.value, "tasks": changed},
        )

    def _logs(self, sid: str, params: dict[str, Any]) -> dict[str, Any]:
        rt = self.runtime
        lines = int(params.get("lines", 40))
        snap = rt.store.load(sid)
        if params.get("task") is None:
            found = [_event_line(ev) for ev in rt.store.events(sid)[-lines:]]
            logs: dict[str, Any] = {"task": None, "attempt": None, "lines": found}
            return self._answer("logs", snap, f"the last {len(found)} events of session {sid}", logs=logs)
        task = str(params["task"])
        if task not in snap.runs:
            raise e.NotFound(f"task {task} is not in session {sid} (tasks: {', '.join(snap.plan.ids)})")
        attempt = int(params.get("attempt") or snap.runs[task].attempt)
        if attempt == 0:
            raise e.NotFound(f"task {task} has not run yet")
        tail = rt.logs.tail(sid, task, attempt, lines)
        logs = {"task": task, "attempt": attempt, "lines": tail}
        return self._answer("logs", snap, f"task {task}, attempt {attempt}: {len(tail)} lines", logs=logs)

    def _answer(
        self,
        command: str,
        snap: Snapshot | None,
        message: str,
        *,
        queued: bool = False,
        changed: dict[str, Any] | None = None,
        logs: dict[str, Any] | None = None,
        help: dict[str, str] | None = None,  # noqa: A002 - the response field's name
    ) -> dict[str, Any]:
        """A success body (schema.SUCCESS): every field present, null when it does not apply."""
        engine = None if snap is None else self.runtime.store.lease_holder(snap.session.id)
        return {
            "ok": True,
            "command": command,
            "message": message,
            "session": None if snap is None else session_view(snap, engine),
            "next": [] if snap is None else suggestions(snap, engine_attached=engine is not None or queued),
            "changed": changed,
            "queued": queued,
            "logs": logs,
            "help": help,
        }


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
        problems = schema.validate(body, schema.COMMAND_REQUEST)
        if problems:
            raise WebError("validation", problems[0], problems)
        assert isinstance(body, dict)  # noqa: S101 - the schema says object
        return str(body["command"]), dict(body.get("params", {}))
    if name not in schema.COMMANDS:
        raise WebError("not_found", f"no endpoint /webhook/{name}; commands: {', '.join(schema.COMMANDS)}")
    problems = schema.validate(body, schema.endpoint_body(name))
    if problems:
        raise WebError("validation", problems[0], problems)
    assert isinstance(body, dict)  # noqa: S101 - the schema says object
    return name, {k: v for k, v in body.items() if k != "secret"}


TASK_SUFFIXES = (".md", ".yaml", ".yml")


def task_file(settings: Settings, name: str) -> Path:
    """The task file ``name`` inside the tasks directory, resolved; WebError for anything else
    (absolute paths, ``..``, symlinks leading out, other suffixes, missing files)."""
    root = settings.path(settings.paths.tasks_dir).resolve()
    given = PurePosixPath(name)
    what = f"task file {name!r}"
    if "\x00" in name or given.is_absolute() or name.startswith("~"):
        raise WebError("bad_request", f"{what}: give a name relative to the tasks directory")
    if ".." in given.parts:
        raise WebError("bad_request", f"{what}: '..' is not allowed; name a file inside the tasks directory")
    if given.suffix.lower() not in TASK_SUFFIXES:
        raise WebError("bad_request", f"{what}: expected a .md, .yaml or .yml file")
    resolved = (root / given).resolve()
    if not resolved.is_relative_to(root) or resolved.suffix.lower() not in TASK_SUFFIXES:
        raise WebError("bad_request", f"{what} leads outside the tasks directory (a symlink?)")
    if not resolved.exists():
        raise WebError("not_found", f"no {what} in the tasks directory")
    if not resolved.is_file():
        raise WebError("bad_request", f"{what} is not a regular file")
    return resolved


def session_view(snap: Snapshot, engine: str | None) -> dict[str, Any]:
    """A session as schema.SESSION_VIEW: the fields of `orch status --json`, tasks inside."""
    from orchcore.decide import blocked_tasks
    from orchcore.graph import TaskGraph
    from orchcore.report import task_cost

    s = snap.session
    blocked = blocked_tasks(snap, TaskGraph(snap.plan.tasks))
    tasks = []
    for task in snap.plan.tasks:
        run = snap.runs[task.id]
        cost = task_cost(run)
        tasks.append(
            {
                "id": task.id,
                "title": task.title,
                "type": task.type,
                "priority": task.priority.value,
                "state": run.state.value,
                "attempts": run.attempt,
                "reason": run.reason,
                "blocked_by": blocked.get(task.id),
                "cost_usd": None if cost is None else str(cost),
                "input_tokens": sum(a.input_tokens or 0 for a in run.attempts) if run.attempts else None,
                "output_tokens": sum(a.output_tokens or 0 for a in run.attempts) if run.attempts else None,
            }
        )
    return {
        "id": s.id,
        "state": s.state.value,
        "reason": s.reason,
        "source": s.source,
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "version": s.version,
        "waiting_for": s.waiting_for,
        "gate": None if s.gate is None else s.gate.value,
        "auto_approve": s.auto_approve,
        "agent": s.agent,
        "engine": engine,
        "tasks": tasks,
    }


def _event_line(ev: Event) -> str:
    where = f" task {ev.task_id}" if ev.task_id else ""
    detail = " ".join(f"{k}={v}" for k, v in ev.data.items() if v not in (None, "", [], {}))
    return f"{ev.seq} {ev.at:%H:%M:%S} {ev.kind.value}{where} {detail}".rstrip()
