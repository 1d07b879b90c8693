"""Server-sent events for the dashboard: a task attempt's output, and the session's changes.

Each event carries an ``id`` the browser sends back as ``Last-Event-ID`` when it reconnects,
so nothing is lost or repeated: for output the number of lines sent so far, for changes the
store's event sequence number. An id that is not a small non-negative integer is a 400.
The store and the logs are read on the app's command threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from orchcore import errors as e
from orchcore.records import EventKind
from orchcore.state import TaskState

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from apps.bootstrap import Runtime

POLL_S = 0.25
KEEPALIVE_S = 15.0
MAX_ID = 10**12
#: the output stream reads at most this much per poll: a huge log streams in pieces
READ_CHUNK = 256 * 1024
MAX_LINE = 4000  # a longer line is cut in the stream (the log file keeps it whole)
#: terminal escapes (colours, cursor moves) and other control characters but tab: noise in a page
_TERMINAL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0a-\x1f\x7f]")
CHANGE_KINDS = (
    EventKind.SESSION_STATE,
    EventKind.TASK_STATE,
    EventKind.TASK_STARTED,
    EventKind.TASK_FINISHED,
    EventKind.APPROVAL_NEEDED,
    EventKind.QUESTION,
    EventKind.COMMAND,
)
SSE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


#: the last event of a stream when the server stops (the browser reconnects once it is back)
CLOSING = "event: closing\ndata: the server is stopping\n\n"


class BadEventId(ValueError):
    """A Last-Event-ID (or ``after``) that is not a count."""


def event_id(raw: str | None) -> int | None:
    """The position a client resumes from, or None; BadEventId for anything but digits."""
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)) or int(raw) > MAX_ID:
        raise BadEventId(f"Last-Event-ID must be a count (0 to {MAX_ID}), not {raw[:40]!r}")
    return int(raw)


def shown(line: str) -> str:
    """A log line as the page shows it: without terminal escapes, at most MAX_LINE characters."""
    return _TERMINAL.sub("", line)[:MAX_LINE]


def resume_from(request: Request) -> int:
    """Where a stream starts: the ``Last-Event-ID`` header, else ``?after=``, else 0."""
    after = event_id(request.headers.get("last-event-id"))
    return event_id(request.query_params.get("after")) or 0 if after is None else after


def stopping(request: Request) -> Callable[[], bool]:
    """Whether the server is shutting down (``app.state.stopping``, set by apps.web.server), so an
    open stream ends at once instead of holding the shutdown up until uvicorn's grace runs out."""
    found = getattr(request.app.state, "stopping", None)
    return found if callable(found) else (lambda: False)


def sse(data: str, *, event: str | None = None, id_: int | None = None) -> str:
    """One event in the text/event-stream format (a multi-line ``data`` becomes several fields)."""
    out = []
    if event:
        out.append(f"event: {event}")
    if id_ is not None:
        out.append(f"id: {id_}")
    out.extend(f"data: {part}" for part in (data.split("\n") or [""]))
    return "\n".join(out) + "\n\n"


@attrs.define
class OutputReader:
    """Reads an attempt's log from line ``after`` on: from the file by offset when the logs are
    files, else through the port's ``tail``. Keeps its place between reads."""

    runtime: Runtime
    session: str
    task: str
    attempt: int
    after: int
    sent: int = 0
    _offset: int = 0
    _partial: bytes = b""

    def read(self, final: bool) -> list[str]:
        """New complete lines (and, when ``final``, the unfinished last one) past ``after``."""
        first = self.sent
        path = self.runtime.logs.path(self.session, self.task, self.attempt)
        if Path(path).is_file():
            lines = self._from_file(path, final)
        else:
            lines = self.runtime.logs.tail(self.session, self.task, self.attempt, 1_000_000)[first:]
        self.sent = first + len(lines)
        return lines[max(0, self.after - first) :]

    def _from_file(self, path: str, final: bool) -> list[str]:
        with Path(path).open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(READ_CHUNK)
        self._offset += len(data)
        whole = len(data) < READ_CHUNK
        data = self._partial + data
        parts = data.split(b"\n")
        self._partial = parts.pop()
        if final and whole and self._partial:
            parts.append(self._partial)
            self._partial = b""
        return [p.decode("utf-8", errors="replace").rstrip("\r") for p in parts]


@attrs.define
class Live:
    runtime: Runtime
    pool: ThreadPoolExecutor
    poll_s: float = POLL_S

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def output(self, request: Request) -> Response:
        """``GET /ui/live/SESSION/TASK/ATTEMPT``: the attempt's output, line by line, until it ends."""
        sid, task, attempt = (request.path_params[k] for k in ("session", "task", "attempt"))
        try:
            after = resume_from(request)
            snap = await self._run(self.runtime.store.load, sid)
        except BadEventId as exc:
            return _plain(400, str(exc))
        except e.NotFound as exc:
            return _plain(404, str(exc))
        if task not in snap.runs or not 1 <= attempt <= max(1, snap.runs[task].attempt):
            return _plain(404, f"no attempt {attempt} of task {task} in session {sid}")
        reader = OutputReader(self.runtime, sid, task, attempt, after)
        stream = self._lines(reader, stopping(request))
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    def _over(self, reader: OutputReader) -> bool:
        run = self.runtime.store.load(reader.session).runs[reader.task]
        return run.attempt > reader.attempt or run.state is not TaskState.RUNNING

    async def _lines(self, reader: OutputReader, stop: Callable[[], bool]) -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        quiet = 0.0
        while True:
            if stop():
                yield CLOSING
                return
            over = await self._run(self._over, reader)
            lines = await self._run(reader.read, over)
            first = reader.sent - len(lines)
            for n, line in enumerate(lines, start=first + 1):
                yield sse(shown(line), event="line", id_=n)
            if lines:
                quiet = 0.0
            if over and not lines:
                yield sse("the attempt is over", event="end", id_=reader.sent)
                return
            if not lines:
                await asyncio.sleep(self.poll_s)
                quiet += self.poll_s
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"

    def _events_after(self, sid: str, after: int) -> list[Any]:
        return self.runtime.store.events(sid, after, 100, kinds=CHANGE_KINDS)

    async def changes(self, request: Request) -> Response:
        """``GET /ui/events/SESSION``: a ``change`` event for each state change after ``after``."""
        sid = request.path_params["session"]
        try:
            after = resume_from(request)
            await self._run(self.runtime.store.session, sid)
        except BadEventId as exc:
            return _plain(400, str(exc))
        except e.NotFound as exc:
            return _plain(404, str(exc))
        stream = self._changes(sid, after, stopping(request))
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    async def _changes(self, sid: str, after: int, stop: Callable[[], bool]) -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        quiet = 0.0
        while True:
            if stop():
                yield CLOSING
                return
            found = await self._run(self._events_after, sid, after)
            for ev in found:
                after = ev.seq
                body = {"kind": ev.kind.value, "task": ev.task_id, "seq": ev.seq}
                yield sse(json.dumps(body), event="change", id_=ev.seq)
            if not found:
                await asyncio.sleep(self.poll_s)
                quiet += self.poll_s
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keep-alive\n\n"


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status, media_type="text/plain", headers=SSE_HEADERS)
