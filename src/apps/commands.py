"""Remote commands, shared by the front ends that take them from afar (the webhook
app, the Telegram bot): run one command against the store, answer a plain dict
shaped as ``apps.web.schema.SUCCESS``.

Control without IPC: a command changes stored state through the same use cases
as the CLI; the engine (the front end's worker, or any other) re-reads it. No
web framework here, so `orch telegram` needs no ``serve`` extra.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from apps.taskfile_reader import read_plan
from apps.views import session_fields, task_rows
from apps.web import schema
from orchcore import errors as e
from orchcore.service import (
    build_report,
    claim_for_resume,
    resolve_session,
    send_command,
    start_session,
    suggestions,
)
from orchcore.state import Command, SessionState

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from apps.settings import Settings
    from apps.temporal_sessions import Registry, TemporalRef
    from orchcore.records import Event, Snapshot

log = logging.getLogger("apps.commands")

TASK_SUFFIXES = (".md", ".yaml", ".yml")


class Driver(Protocol):
    """Runs sessions in the front end's process: one long-lived engine thread."""

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


class CommandError(Exception):
    """A command refused: a code from schema.ERROR_STATUS and a message for humans."""

    def __init__(
        self, code: str, message: str, details: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


#: Problems of a task file listed in a refusal; a file with 10,000 mistakes still gets a short answer.
SHOWN_PROBLEMS = 100


def from_orch_error(exc: e.OrchError) -> CommandError:
    """The one place that maps orchcore errors to a command's refusal."""
    if isinstance(exc, e.IllegalTransition):
        return CommandError("illegal_transition", f"{exc}; nothing was changed", list(exc.allowed))
    if isinstance(exc, e.NotFound):
        return CommandError("not_found", str(exc))
    if isinstance(exc, e.SessionBusy):
        return CommandError("busy", f"{exc}; wait for it to stop, or pause it")
    if isinstance(exc, e.TaskFileError):
        n, more = len(exc.problems), len(exc.problems) - SHOWN_PROBLEMS
        details = [str(p) for p in exc.problems[:SHOWN_PROBLEMS]]
        return CommandError(
            "bad_request",
            f"the task file has {n:,} problem{'s' if n != 1 else ''}",
            [*details, f"… and {more:,} more"] if more > 0 else details,
        )
    if isinstance(exc, e.AgentUnavailable):
        return CommandError("agent_unavailable", f"agent unavailable: {exc}")
    if isinstance(exc, e.StoreError):
        return CommandError("store_error", f"state store: {exc}")
    return CommandError("internal", str(exc))


@attrs.define
class Commands:
    """Runs remote commands (names and params as in ``schema.PARAMS``, already validated).

    The ports are synchronous: call from a worker thread, never an event loop.
    ``source`` names the front end in events and reasons ("rejected by telegram").
    """

    runtime: Runtime
    driver: Driver
    source: str = "webhook"
    start_lock: threading.Lock = attrs.field(factory=threading.Lock)
    _last_status: tuple[tuple[str, int, str | None], dict[str, Any]] | None = attrs.field(
        default=None, init=False
    )
    _temporal: Registry | None = attrs.field(default=None, init=False)  # found on first use

    def execute(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``command``; the success body, or CommandError / OrchError."""
        rt = self.runtime
        if command == "start":
            return self._start(params)
        if command == "help":
            newest = rt.store.sessions()
            snap = rt.store.load(newest[0].id) if newest else None
            return self.respond("help", snap, "commands: " + ", ".join(schema.COMMANDS), help=schema.COMMANDS)
        from apps.temporal_sessions import Registry, held

        if self._temporal is None:
            self._temporal = Registry.of(rt.settings)
        ref = held(rt.settings, params.get("session"), rt.store, registry=self._temporal)
        if ref is not None:  # a workflow holds it: commands are its updates, status its query
            return self._on_temporal(ref, command, params)
        sid = resolve_session(rt.store, params.get("session"))
        if command == "status":
            return self._status(sid)
        if command == "logs":
            return self._logs(sid, params)
        if command == "report":
            text = build_report(rt.store, rt.logs, rt.clock, sid, rt.settings.budget_policy())
            return self.respond("report", rt.store.load(sid), text)
        return self._command(sid, Command(command), params)

    def _status(self, sid: str) -> dict[str, Any]:
        """The status answer, the same object again while the session's version and its engine
        are unchanged (every change bumps the version): a client polling status costs a store
        read, not the rows, hints and JSON of every task each time. Callers must not change it."""
        snap = self.runtime.store.load(sid)
        engine = self.runtime.store.lease_holder(sid)
        key = (sid, snap.session.version, engine)
        last = self._last_status
        if last is not None and last[0] == key:
            return last[1]
        reason = f" — {snap.session.reason}" if snap.session.reason else ""
        answer = self.respond(
            "status", snap, f"session {sid}: {snap.session.state.value}{reason}", engine=engine
        )
        self._last_status = (key, answer)  # one assignment: threads see the old pair or the new
        return answer

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        from apps.daily import start_file  # it imports this module

        rt = self.runtime
        name = start_file(rt.settings, rt.clock, params)
        path = task_file(rt.settings, name)
        try:
            plan = attrs.evolve(read_plan(str(path), name), source=str(path))
        except OSError as exc:
            raise CommandError("bad_request", f"cannot read task file {name!r}: {exc.strerror}") from None
        agent = rt.settings.agent.name
        rt.agents(agent).check()
        with self.start_lock:  # the existing-session check and the create are one step
            try:
                after = start_session(
                    rt.store,
                    plan,
                    rt.ids,
                    rt.clock,
                    agent=agent,
                    auto_approve=bool(params.get("auto_approve")),
                    new=bool(params.get("new", False)),
                    source=self.source,
                    routing=rt.routing,
                )
            except e.SessionExists as exc:
                go_on = (
                    f"continue it with resume (session {exc.session_id}), or "
                    if exc.state != "completed"
                    else "running it again runs every task again: "
                )
                raise CommandError("conflict", f'{exc}: {go_on}start another with "new": true') from None
            sid = after.session.id
        learn_from_feedback(rt)
        self.driver.submit(sid)
        n = len(plan.tasks)
        message = f"session {sid} started: {n} task{'s' if n != 1 else ''} from {name}, agent {agent}"
        return self.respond("start", after, message, queued=True)

    def _on_temporal(self, ref: TemporalRef, command: str, params: dict[str, Any]) -> dict[str, Any]:
        from apps import temporal_sessions

        if command == "status":
            snap = temporal_sessions.snapshot(ref)
            reason = f" — {snap.session.reason}" if snap.session.reason else ""
            message = f"session {ref.session_id}: {snap.session.state.value}{reason}"
            return self.respond("status", snap, message, backend=ref.backend)
        if command not in {c.value for c in Command}:
            raise CommandError("bad_request", f"{command} is not available for a session on Temporal yet")
        task = None if params.get("task") is None else str(params["task"])
        text = str(params.get("text") or params.get("reason") or "")
        before, after = temporal_sessions.command(
            ref, Command(command), task_id=task, text=text, source=self.source
        )
        changed = {t: after.runs[t].state.value for t in after.plan.ids if after.runs[t] != before.runs[t]}
        return self.respond(
            command,
            after,
            f"{command}: session {ref.session_id} is now {after.session.state.value}",
            changed={"previous_state": before.session.state.value, "tasks": changed},
            backend=ref.backend,
        )

    def _command(self, sid: str, command: Command, params: dict[str, Any]) -> dict[str, Any]:
        rt = self.runtime
        task = None if params.get("task") is None else str(params["task"])
        text = str(params.get("text") or params.get("reason") or "")
        if command is Command.RESUME:
            claim_for_resume(rt.store, sid, driving=self.driver.driving())
            rt.agents(rt.store.session(sid).agent or rt.settings.agent.name).check()
        before = rt.store.load(sid)
        after = send_command(
            rt.store, sid, command, rt.clock, task_id=task, text=text, source=self.source, routing=rt.routing
        )
        from apps.day_report import report_after_command

        report_after_command(rt, before, after, summarize=False)  # no LLM wait in a remote command
        if rt.status_files is not None:
            rt.status_files.update(after)
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
        return self.respond(
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
            found = [event_line(ev) for ev in rt.store.events(sid)[-lines:]]
            logs: dict[str, Any] = {"task": None, "attempt": None, "lines": found}
            return self.respond("logs", snap, f"the last {len(found)} events of session {sid}", logs=logs)
        task = str(params["task"])
        if task not in snap.runs:
            raise e.NotFound(f"task {task} is not in session {sid} (tasks: {', '.join(snap.plan.ids)})")
        attempt = int(params.get("attempt") or snap.runs[task].attempt)
        if attempt == 0:
            raise e.NotFound(f"task {task} has not run yet")
        tail = rt.logs.tail(sid, task, attempt, lines)
        logs = {"task": task, "attempt": attempt, "lines": tail}
        return self.respond("logs", snap, f"task {task}, attempt {attempt}: {len(tail)} lines", logs=logs)

    def respond(
        self,
        command: str,
        snap: Snapshot | None,
        message: str,
        *,
        queued: bool = False,
        changed: dict[str, Any] | None = None,
        logs: dict[str, Any] | None = None,
        help: dict[str, str] | None = None,  # noqa: A002 - the response field's name
        backend: str | None = None,  # a workflow holds the session: that is its engine
        engine: str | Literal[False] | None = False,
    ) -> dict[str, Any]:
        """A success body (schema.SUCCESS): every field present, null when it does not apply
        (``engine``: the session's lease holder when the caller read it already)."""
        if backend is not None:
            engine = backend
        elif engine is False:
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


def learn_from_feedback(rt: Runtime) -> None:
    """Keep the lessons of new or changed feedback files before a remote start's engine builds its
    prompts, as `orch run` does; a file with problems is skipped with a warning in the log."""
    from apps.feedback_files import feedback_folder, import_new_feedback

    if not feedback_folder(rt.settings).is_dir():
        return
    for done in import_new_feedback(rt.lesson_store(), rt.settings, rt.clock):
        for problem in done.problems:
            log.warning("feedback skipped: %s", problem)
        if done.error:
            log.warning("feedback skipped: %s", done.error)


def task_file(settings: Settings, name: str) -> Path:
    """The task file ``name`` inside the tasks directory, resolved; CommandError for anything
    else (absolute paths, ``..``, symlinks leading out, other suffixes, missing files)."""
    root = settings.path(settings.paths.tasks_dir).resolve()
    given = PurePosixPath(name)
    what = f"task file {name!r}"
    if "\x00" in name or given.is_absolute() or name.startswith("~"):
        raise CommandError("bad_request", f"{what}: give a name relative to the tasks directory")
    if ".." in given.parts:
        raise CommandError(
            "bad_request", f"{what}: '..' is not allowed; name a file inside the tasks directory"
        )
    if given.suffix.lower() not in TASK_SUFFIXES:
        raise CommandError("bad_request", f"{what}: expected a .md, .yaml or .yml file")
    resolved = (root / given).resolve()
    if not resolved.is_relative_to(root) or resolved.suffix.lower() not in TASK_SUFFIXES:
        raise CommandError("bad_request", f"{what} leads outside the tasks directory (a symlink?)")
    if not resolved.exists():
        raise CommandError("not_found", f"no {what} in the tasks directory")
    if not resolved.is_file():
        raise CommandError("bad_request", f"{what} is not a regular file")
    return resolved


def task_files(settings: Settings, limit: int = 50) -> list[str]:
    """Names of the task files in the tasks directory (what ``start`` accepts), sorted."""
    root = settings.path(settings.paths.tasks_dir).resolve()
    if not root.is_dir():
        return []
    found = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix.lower() in TASK_SUFFIXES and p.is_file() and p.resolve().is_relative_to(root)
    )
    return found[:limit]


def session_view(snap: Snapshot, engine: str | None) -> dict[str, Any]:
    """A session as schema.SESSION_VIEW: the fields of `orch status --json`, tasks inside."""
    return {**session_fields(snap, engine), "tasks": task_rows(snap)}


def event_line(ev: Event) -> str:
    """One event as a log line: sequence, time, kind, task, data."""
    where = f" task {ev.task_id}" if ev.task_id else ""
    detail = " ".join(f"{k}={v}" for k, v in ev.data.items() if v not in (None, "", [], {}))
    return f"{ev.seq} {ev.at:%H:%M:%S} {ev.kind.value}{where} {detail}".rstrip()
