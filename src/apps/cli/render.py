"""How the CLI shows things: plain lines when piped, live progress on a terminal.

Renderers are functions of domain values; the domain knows nothing of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.cli.echo import echo
from apps.cli.terminal import terminal_safe

if TYPE_CHECKING:
    from orchcore.errors import Problem, TaskFileError
    from orchcore.records import Event, JsonObject, OutboxEntry, SessionSummary, Snapshot
    from orchcore.safety.events import RecordedSafetyEvent
    from orchcore.service import BudgetReport
    from orchcore.state import Command
    from orchcore.tasks import Plan


STATUS_SCHEMA_VERSION = 1  # `orch status --json`: bumped only by a change that is not an addition


def _json(data: object) -> None:
    echo(json.dumps(data, indent=2, default=str))


def _time(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M:%S")


def _hints(snap: Snapshot, engine: str | None, *, newest: bool = True, config_flag: str = "") -> list[str]:
    from orchcore.service import suggestions

    pin = ("" if newest else f" -s {snap.session.id}") + config_flag
    return [as_command(s, pin) for s in suggestions(snap, engine_attached=engine is not None)]


def as_command(suggestion: str, pin: str = "") -> str:
    """A suggestion ("approve 3 (then: resume)") as shell commands that run as written
    (``orch approve 3 && orch resume``), each with ``pin`` (``-s ID``) when the session is not
    the newest; a note in brackets is dropped (the session's reason says it)."""
    command, _, note = suggestion.partition(" (")
    then = note.removesuffix(")").removeprefix("then: ") if note.startswith("then: ") else ""
    return f"orch {command}{pin}" + (f" && orch {then}{pin}" if then else "")


#: Problems printed before the rest are counted: a file with 10,000 mistakes stays readable.
SHOWN_PROBLEMS = 100


def problems(found: Sequence[Problem]) -> None:
    """Each problem on one line starting with FILE:LINE (at most SHOWN_PROBLEMS), then the count."""
    for problem in found[:SHOWN_PROBLEMS]:
        echo(terminal_safe(str(problem), one_line=True), err=True)
    n, more = len(found), len(found) - SHOWN_PROBLEMS
    if more > 0:
        echo(f"orch: … and {more:,} more (`orch validate --json FILE` lists every one)", err=True)
    echo(f"orch: {n:,} problem{'s' if n != 1 else ''} found", err=True)


def invalid(file: str, exc: TaskFileError | OSError) -> None:
    """`orch validate --json` of a file that is not valid: every problem, as JSON on stdout."""
    from orchcore.errors import TaskFileError

    if isinstance(exc, TaskFileError):
        found = [
            {"file": p.file, "line": p.line, "field": p.field, "message": p.message} for p in exc.problems
        ]
        _json({"valid": False, "file": file, "problems": found})
    else:
        _json(
            {"valid": False, "file": file, "error": f"cannot read task file: {exc.strerror}", "problems": []}
        )


def validated(plan: Plan, *, json_out: bool) -> None:
    from orchcore.graph import TaskGraph

    order = TaskGraph(plan.tasks).schedule()
    if json_out:
        _json(
            {"valid": True, "file": plan.source, "date": plan.date, "tasks": len(plan.tasks), "order": order}
        )
        return
    approvals = [t.id for t in plan.tasks if t.requires_approval]
    echo(
        terminal_safe(
            f"{plan.source}: OK, {len(plan.tasks)} task{'s' if len(plan.tasks) != 1 else ''}"
            + (f" for {plan.date}" if plan.date else ""),
            one_line=True,
        )
    )
    echo(terminal_safe(f"run order if all succeed: {' -> '.join(order)}", one_line=True))
    if approvals:
        echo(terminal_safe(f"marked for approval: {', '.join(approvals)}", one_line=True))
    if plan.max_cost_usd is not None:
        echo(f"cost limit for this run: ${plan.max_cost_usd}")


def started(snap: Snapshot) -> None:
    s = snap.session
    approve = " (auto-approve)" if s.auto_approve else ""
    echo(
        terminal_safe(
            f"session {s.id}: {len(snap.plan.tasks)} tasks from {snap.plan.source}, agent {s.agent}{approve}"
        )
    )


class Progress:
    """Turns engine events into lines (and a live spinner on a terminal)."""

    def __init__(self, *, verbose: bool, tty: bool) -> None:
        self.verbose = verbose
        self.tty = tty
        self._live: Any = None
        self._bar: Any = None
        self._task_ids: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if self.tty:
            from rich.console import Console
            from rich.progress import Progress as Bar
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def line(self, text: str) -> None:
        text = terminal_safe(text)
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            echo(text)

    def __call__(self, event: Event) -> None:
        from orchcore.records import EventKind

        data = event.data
        when = _time(event.at)
        if event.kind is EventKind.TASK_STARTED:
            self.line(
                f"{when} task {event.task_id} started (attempt {event.attempt}): {data.get('title', '')}"
            )
            if self._bar is not None and event.task_id is not None:
                self._task_ids[event.task_id] = self._bar.add_task(
                    terminal_safe(f"task {event.task_id}: {data.get('title', '')}", one_line=True), total=None
                )
        elif event.kind is EventKind.TASK_FINISHED:
            if self._bar is not None and event.task_id in self._task_ids:
                self._bar.remove_task(self._task_ids.pop(event.task_id))
            state = data.get("state")
            took = f" in {data.get('duration_s')}s" if data.get("duration_s") is not None else ""
            why = f": {data.get('reason')}" if data.get("reason") else ""
            self.line(f"{when} task {event.task_id} {state}{took}{why}")
        elif event.kind is EventKind.TASK_STATE and data.get("state") == "interrupted":
            self.line(f"{when} task {event.task_id} was interrupted earlier; it runs again")
        elif event.kind is EventKind.APPROVAL_NEEDED:
            what = {
                "before": "needs approval to start",
                "review": str(data.get("text") or "stopped for review"),
            }.get(str(data.get("gate")), "is done; checkpoint: review it")
            self.line(f"{when} task {event.task_id} {what}")
        elif event.kind is EventKind.QUESTION:
            self.line(f"{when} task {event.task_id} asks: {data.get('text', '')}")
        elif event.kind is EventKind.SANDBOX:
            loud = "WARNING: " if data.get("wanted") and not data.get("active") else ""
            self.line(f"{when} {loud}{data.get('text', '')}")
        elif event.kind is EventKind.FILES:
            from orchcore.live_files import files_line

            line = files_line([event], str(event.task_id), event.attempt or 0)
            flagged = "⚑ " if data.get("forbidden") else ""
            if line is not None and (self.verbose or flagged):
                self.line(f"{when} {flagged}task {event.task_id} {line}")
        elif event.kind is EventKind.BUDGET:
            word = "budget warning" if data.get("level") == "warn" else "budget reached"
            self.line(f"{when} {word}: {data.get('text', '')}")
        elif event.kind is EventKind.AGENT and self.verbose:
            text = str(data.get("text", ""))
            kind = data.get("kind")
            self.line(f"    | {text}" if kind == "output" else f"    · {kind} {text}".rstrip())


def finished(snap: Snapshot, *, newest: bool = True, config_flag: str = "") -> None:
    """Say how the run ended and what to do next."""
    session = snap.session
    counts: dict[str, int] = {}
    for run in snap.runs.values():
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    reason = f" — {session.reason}" if session.reason else ""
    echo(terminal_safe(f"session {session.id} {session.state.value}{reason} ({summary})"))
    hints = _hints(snap, None, newest=newest, config_flag=config_flag)
    if hints:
        echo(terminal_safe("next: " + "   ".join(hints)))


def undelivered_line(outbox: Sequence[OutboxEntry]) -> str | None:
    """``3 notifications undelivered (1 given up; last error on n8n: ...)``, or None when all went out."""
    if not outbox:
        return None
    n = len(outbox)
    gave_up = sum(1 for e in outbox if e.gave_up)
    tried = [e for e in outbox if e.last_error]
    details = [f"{gave_up} given up"] if gave_up else []
    if tried:
        details.append(f"last error on {tried[-1].channel}: {tried[-1].last_error}")
    else:
        details.append("not tried yet")
    return f"{n} notification{'s' if n != 1 else ''} undelivered ({'; '.join(details)})"


def prepared_status(
    snap: Snapshot,
    engine: str | None,
    *,
    json_out: bool,
    outbox: Sequence[OutboxEntry] = (),
    safety: Sequence[RecordedSafetyEvent] = (),
    newest: bool = True,
    config: str = "",
    sandbox: str | None = None,
    supervision: Mapping[str, Sequence[JsonObject]] | None = None,
    files: Mapping[str, str] | None = None,
) -> Callable[[], None]:
    """What `status` prints, made in full first: the call that prints it can fail only writing."""
    from apps.views import safety_rows, session_fields, task_rows

    files = files or {}

    supervision = supervision or {}
    s = snap.session
    rows = task_rows(snap)
    hints = _hints(snap, engine, newest=newest)
    if json_out:
        text = json.dumps(
            {
                "schema_version": STATUS_SCHEMA_VERSION,  # docs/status-json.md, docs/status.schema.json
                "session": session_fields(snap, engine),
                "config": config or None,
                "sandbox": sandbox,
                "tasks": rows,
                "safety": safety_rows(safety),
                "supervision": {t: list(found) for t, found in supervision.items()},
                "files": dict(files),
                "next": hints,
                "undelivered_notifications": len(outbox),
            },
            indent=2,
            default=str,
        )
        return lambda: echo(text)
    reason = f" — {s.reason}" if s.reason else ""
    out = [
        terminal_safe(f"session {s.id}: {s.state.value}{reason}"),
        terminal_safe(
            f"file: {s.source}   started: {s.created_at.astimezone():%Y-%m-%d %H:%M}   "
            f"engine: {engine or 'not running'}"
        ),
        f"config: {config or 'none found (defaults)'}",
        terminal_safe(sandbox or "sandbox: not known yet (no run of this session started)"),
    ]
    width = max(len(r["id"]) for r in rows)
    lines = []
    for r in rows:
        state = r["state"] + (f" (blocked by {r['blocked_by']})" if r["blocked_by"] else "")
        extra = (
            f"  {r['reason']}"
            if r["reason"] and r["state"] in ("failed", "interrupted", "cancelled", "skipped")
            else ""
        )
        line = f"  {r['id']:>{width}}  {state:<26} {r['attempts']:>2}  {r['title']}{extra}"
        lines.append(terminal_safe(line, one_line=True))
        if supervision.get(r["id"]):
            from orchcore.supervision_view import supervision_line

            checked = f"  {'':>{width}}  checked: {supervision_line(supervision[r['id']][-1])}"
            lines.append(terminal_safe(checked, one_line=True))
        if r["id"] in files:
            lines.append(terminal_safe(f"  {'':>{width}}  files: {files[r['id']]}", one_line=True))
    lines.extend(
        terminal_safe(
            f"  safety: task {found.task_id or '-'} attempt {found.attempt or '-'}: {found.event.text}",
            one_line=True,
        )
        for found in safety
    )
    out.extend(lines)
    waiting = undelivered_line(outbox)
    if waiting is not None:
        out.append(terminal_safe(waiting))
    if hints:
        out.append(terminal_safe("next: " + "   ".join(hints)))
    return lambda: echo("\n".join(out))  # one write: echo flushes each call


def command_done(
    command: Command,
    before: Snapshot,
    after: Snapshot,
    engine: str | None,
    *,
    json_out: bool,
    newest: bool = True,
) -> None:
    changed = [t for t in after.plan.ids if after.runs[t].state is not before.runs[t].state]
    hints = _hints(after, engine, newest=newest)
    if json_out:
        _json(
            {
                "command": command.value,
                "session": after.session.id,
                "state": after.session.state.value,
                "previous_state": before.session.state.value,
                "tasks_changed": {t: after.runs[t].state.value for t in changed},
                "next": hints,
            }
        )
        return
    task = next(iter(changed), None) or before.session.waiting_for
    done = {
        "approve": f"approved task {task}",
        "answer": f"answered task {task}",
        "reject": f"rejected task {task}: "
        + (
            "it runs again with your reason"
            if task and after.runs[task].state.value == "pending"
            else "it is failed"
        ),
        "pause": "paused: a running task finishes, nothing new starts",
        "resume": "resumed",
        "skip": f"skipped task {task}",
        "retry": f"task {task} queued for another attempt",
        "cancel": "cancelled the session",
    }.get(command.value, command.value)
    echo(terminal_safe(f"{done} (session {after.session.id} is now {after.session.state.value})"))
    if engine is not None:
        echo(f"the running engine ({engine}) picks this up at its next step")
    elif hints:
        echo(terminal_safe("next: " + "   ".join(hints)))


def events(items: Sequence[Event], *, json_out: bool) -> None:
    if json_out:
        _json(
            [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "kind": e.kind.value,
                    "task": e.task_id,
                    "attempt": e.attempt,
                    "data": e.data,
                }
                for e in items
            ]
        )
        return
    lines = []
    for e in items:
        where = f" task {e.task_id}" if e.task_id else ""
        detail = " ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", [], {}))
        lines.append(terminal_safe(f"{e.seq:>5} {_time(e.at)} {e.kind.value}{where} {detail}".rstrip()))
    _echo_lines(lines)


def log_lines(
    task: str,
    attempt: int,
    lines: Sequence[str],
    path: str,
    *,
    json_out: bool,
    safety: Sequence[RecordedSafetyEvent] = (),
) -> None:
    from apps.views import safety_rows

    if json_out:
        _json(
            {
                "task": task,
                "attempt": attempt,
                "path": path,
                "lines": list(lines),
                "safety": safety_rows(safety),
            }
        )
        return
    echo(terminal_safe(f"== task {task}, attempt {attempt}: {path}", one_line=True))
    _echo_lines([terminal_safe(line) for line in lines])
    _echo_lines([terminal_safe(f"== safety: {found.event.text}", one_line=True) for found in safety])


def budget(report: BudgetReport, *, json_out: bool) -> None:
    from orchcore.budget import amount_text, usd

    rows: list[dict[str, Any]] = [
        {
            "session": r.session_id,
            "task": r.task_id,
            "attempt": r.attempt.number,
            "started_at": r.attempt.started_at.isoformat(),
            "cost_usd": None if r.attempt.cost_usd is None else str(r.attempt.cost_usd),
            "input_tokens": r.attempt.input_tokens,
            "output_tokens": r.attempt.output_tokens,
        }
        for r in report.ledger
    ]
    status = report.status
    if json_out:
        _json(
            {
                "since": report.since.isoformat(),
                "spent_usd": str(status.spent),
                "daily_limit_usd": None if report.daily_limit is None else str(report.daily_limit),
                "remaining_usd": None if status.remaining is None else str(status.remaining),
                "level": status.level.value,
                "warn_at": str(report.warn_ratio),
                "task_limit_usd": None if report.task_limit is None else str(report.task_limit),
                "attempts": rows,
            }
        )
        return
    since = report.since.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    if report.daily_limit is None:
        echo(f"today (since {since}): {usd(status.spent)} spent; no daily limit (budget.max_daily_cost_usd)")
    else:
        pct = status.spent / report.daily_limit * 100 if report.daily_limit else 100
        echo(
            f"today (since {since}): {usd(status.spent)} of ${report.daily_limit} ({pct:.0f}%), "
            f"{status.level.value}; warns at {report.warn_ratio * 100:.0f}%"
        )
    if report.task_limit is not None:
        echo(f"per-task limit: ${report.task_limit}")
    per_task: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        per_task.setdefault((r["session"], r["task"]), []).append(r)
    priced = {k: v for k, v in per_task.items() if any(r["cost_usd"] is not None for r in v)}
    unpriced = len(rows) - sum(len(v) for v in priced.values())
    if priced:
        echo("  session   task   attempts  cost (USD)  tokens in/out")
    for (session, task), items in priced.items():
        cost = sum((Decimal(r["cost_usd"]) for r in items if r["cost_usd"] is not None), Decimal(0))
        t_in = sum(r["input_tokens"] or 0 for r in items)
        t_out = sum(r["output_tokens"] or 0 for r in items)
        echo(
            terminal_safe(
                f"  {session:<9} {task:<6} {len(items):>8}  {amount_text(cost):>10}  {t_in}/{t_out}"
            )
        )
    if unpriced:
        echo(f"  ({unpriced} attempt{'s' if unpriced != 1 else ''} today reported no cost)")
    if not rows:
        echo("no attempts today")


def session_list(items: Sequence[SessionSummary], *, json_out: bool) -> None:
    if json_out:
        _json(
            [
                {
                    "id": s.id,
                    "state": s.state.value,
                    "source": s.source,
                    "created_at": s.created_at.isoformat(),
                }
                for s in items
            ]
        )
        return
    if not items:
        echo("no sessions yet: start one with `orch run TASKFILE`")
    _echo_lines(
        [
            terminal_safe(
                f"{s.id}  {s.state.value:<17} {s.created_at.astimezone():%Y-%m-%d %H:%M}  {s.source}",
                one_line=True,
            )
            for s in items
        ]
    )


def _echo_lines(lines: Sequence[str]) -> None:
    """Print ``lines`` with one write: echo flushes each call, a thousand tasks a thousand times."""
    if lines:
        echo("\n".join(lines))
