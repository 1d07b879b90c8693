"""Use cases every front end shares: plan a session, send a command, report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from orchcore.budget import BudgetPolicy, BudgetStatus, total
from orchcore.budget import status as budget_status
from orchcore.commands import apply_command
from orchcore.errors import NotFound, SessionBusy, SessionExists
from orchcore.notify import Routing, with_outbox
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.ports.store import Store
from orchcore.records import AttemptRecord, Event, EventKind, Session, SessionSummary, Snapshot, TaskRun
from orchcore.report import render_report
from orchcore.safety.events import recorded_safety_events
from orchcore.sandbox import sandbox_line
from orchcore.state import TERMINAL_SESSION, Command, SessionState, TaskState
from orchcore.tasks import Plan

REPORT_TAIL_LINES = 20


def create_session(
    store: Store, plan: Plan, ids: Ids, clock: Clock, *, auto_approve: bool = False, agent: str = ""
) -> Snapshot:
    """Store a new session for ``plan`` in state planned, with every task pending."""
    now = clock.now()
    session = Session(
        id=ids.new_id(),
        source=plan.source,
        state=SessionState.PLANNED,
        created_at=now,
        updated_at=now,
        auto_approve=auto_approve,
        agent=agent,
    )
    runs = [TaskRun(task_id=t.id) for t in plan.tasks]
    event = Event(
        EventKind.SESSION_CREATED,
        now,
        data={"source": plan.source, "tasks": len(plan.tasks), "auto_approve": auto_approve, "agent": agent},
    )
    store.create(session, plan, runs, [event])
    return store.load(session.id)


def start_session(
    store: Store,
    plan: Plan,
    ids: Ids,
    clock: Clock,
    *,
    agent: str,
    auto_approve: bool = False,
    new: bool = False,
    source: str = "cli",
    routing: Routing | None = None,
) -> Snapshot:
    """Create a session for ``plan`` and start it, unless its file already has one.

    Without ``new``, an unfinished session of the same file (continue it instead) or a
    last session that completed (running again pays for every task twice) raise
    SessionExists and change nothing. Callers serialise concurrent starts themselves.
    """
    if not new:
        existing = existing_session(store, plan.source)
        if existing is not None:
            at = existing.updated_at if existing.state is SessionState.COMPLETED else existing.created_at
            raise SessionExists(existing.id, existing.state.value, f"{at:%Y-%m-%d %H:%M} UTC")
    snap = create_session(store, plan, ids, clock, auto_approve=auto_approve, agent=agent)
    return send_command(store, snap.session.id, Command.START, clock, source=source, routing=routing)


def existing_session(store: Store, source: str) -> SessionSummary | None:
    """The session a new run of ``source`` would duplicate: an unfinished one, else the
    newest when it completed (a cancelled last session is no reason to stop)."""
    unfinished = unfinished_sessions(store, source)
    if unfinished:
        return unfinished[0]
    newest = next((s for s in store.sessions() if s.source == source), None)
    return newest if newest is not None and newest.state is SessionState.COMPLETED else None


def claim_for_resume(store: Store, session_id: str, *, driving: str | None = None) -> None:
    """Refuse (SessionBusy) to resume a session another engine drives; ``driving`` is the
    session the caller's own engine drives now, which it may resume."""
    holder = store.lease_holder(session_id)
    if holder is not None and driving != session_id:
        raise SessionBusy(f"session {session_id} is being run by {holder}")


def resume_session(
    store: Store,
    session_id: str,
    clock: Clock,
    *,
    driving: str | None = None,
    source: str = "cli",
    routing: Routing | None = None,
) -> Snapshot:
    """Resume ``session_id`` unless another engine drives it (SessionBusy, nothing changed)."""
    claim_for_resume(store, session_id, driving=driving)
    return send_command(store, session_id, Command.RESUME, clock, source=source, routing=routing)


def run_succeeded(state: SessionState) -> bool:
    """Whether an engine stopping in ``state`` ran well: done, or waiting on a human."""
    return state in (
        SessionState.COMPLETED,
        SessionState.WAITING_APPROVAL,
        SessionState.WAITING_ANSWER,
        SessionState.PAUSED,
    )


def send_command(
    store: Store,
    session_id: str,
    command: Command,
    clock: Clock,
    *,
    task_id: str | None = None,
    text: str = "",
    source: str = "cli",
    routing: Routing | None = None,
) -> Snapshot:
    """Apply ``command`` in one transaction; IllegalTransition/NotFound change nothing.

    With ``routing``, the notifications the command causes (a session started) are
    queued in that transaction: every front end passes its runtime's routing.
    """
    route = routing or Routing()
    return store.transact(
        session_id,
        lambda s: with_outbox(
            s, apply_command(s, command, clock.now(), task_id=task_id, text=text, source=source), route
        ),
    )


def record_warnings(store: Store, clock: Clock, session_id: str, lines: list[str]) -> None:
    """Keep what the user was warned of at run start as session events (``orch logs`` shows them)."""
    if lines:
        now = clock.now()
        store.append_events(session_id, [Event(EventKind.WARNING, now, data={"text": t}) for t in lines])


def warnings_told(store: Store, session_id: str) -> set[str]:
    """The warnings this session was already given (``record_warnings``)."""
    return {str(e.data.get("text")) for e in store.events(session_id) if e.kind is EventKind.WARNING}


def unfinished_sessions(store: Store, source: str | None = None) -> list[SessionSummary]:
    """Sessions not completed or cancelled (optionally from one task file), newest first."""
    return [
        s
        for s in store.sessions()
        if s.state not in TERMINAL_SESSION and (source is None or s.source == source)
    ]


def resolve_session(store: Store, session_id: str | None) -> str:
    """``session_id`` itself (checked), or the newest session when None."""
    sessions = store.sessions()
    if session_id is None:
        if not sessions:
            raise NotFound("no session yet: start one with `orch run TASKFILE`")
        return sessions[0].id
    matches = [s.id for s in sessions if s.id == session_id] or [
        s.id for s in sessions if s.id.startswith(session_id)
    ]
    if len(matches) != 1:
        raise NotFound(
            f"no session {session_id!r}"
            if not matches
            else f"{session_id!r} matches several sessions: {', '.join(matches)}"
        )
    return matches[0]


def build_report(
    store: Store, logs: TaskLogs, clock: Clock, session_id: str, budget: BudgetPolicy | None = None
) -> str:
    """The markdown report of a session, with log tails of failed tasks and,
    given the budget policy, the day's spend against its limit."""
    snap = store.load(session_id)
    tails = {}
    for task_id, run in snap.runs.items():
        if run.state in (TaskState.FAILED, TaskState.INTERRUPTED, TaskState.CANCELLED) and run.attempts:
            tails[task_id] = logs.tail(session_id, task_id, run.attempt, REPORT_TAIL_LINES)
    day = None if budget is None else budget_report(store, budget, clock).status
    events = store.events(session_id)
    safety, sandbox = recorded_safety_events(events), sandbox_line(events)
    from orchcore.supervision_view import supervision_by_task

    supervision = supervision_by_task(events)
    return render_report(
        snap, tails, clock.now(), day=day, safety=safety, sandbox=sandbox, supervision=supervision
    )


@attrs.frozen
class BudgetReport:
    """Today's spend across sessions against the limits."""

    since: datetime
    status: BudgetStatus
    daily_limit: Decimal | None
    warn_ratio: Decimal
    task_limit: Decimal | None
    ledger: list[AttemptRecord]


def budget_report(store: Store, budget: BudgetPolicy, clock: Clock) -> BudgetReport:
    """What every session spent today (in the policy's time zone), attempt by attempt."""
    since = budget.day_start(clock.now())
    ledger = store.attempts_since(since)
    spent = total(r.attempt.cost_usd for r in ledger)
    day = budget_status(budget, spent_today=spent, spent_session=Decimal(0), session_limit=None)
    return BudgetReport(since, day, budget.daily_limit_usd, budget.warn_ratio, budget.task_limit_usd, ledger)


@attrs.frozen
class Totals:
    """Counts of task states for status lines."""

    by_state: dict[str, int]
    total: int


def totals(snap: Snapshot) -> Totals:
    """How many tasks are in each state."""
    counts: dict[str, int] = {}
    for run in snap.runs.values():
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    return Totals(counts, len(snap.runs))


def suggestions(snap: Snapshot, *, engine_attached: bool) -> list[str]:
    """What a human can do next, as commands without the front end's prefix
    (the CLI shows ``orch approve 3``, Telegram ``/approve 3``)."""
    from orchcore.decide import blocked_tasks

    session = snap.session
    state = session.state
    waiting = session.waiting_for
    if state is SessionState.WAITING_APPROVAL and waiting is not None:
        tail = "" if engine_attached else " (then: resume)"
        return [f"approve {waiting}{tail}", f"reject {waiting}", "status"]
    if state is SessionState.WAITING_ANSWER and waiting is not None:
        tail = "" if engine_attached else " (then: resume)"
        return [f'answer "..."{tail}', f"skip {waiting}", "status"]
    if state is SessionState.PAUSED:
        return ["resume"]
    if state is SessionState.RUNNING and not engine_attached:
        return ["resume"]
    if state is SessionState.HALTED:
        return ["resume (after raising the limit)"]
    if state is SessionState.FAILED:
        failed = [
            t
            for t in snap.plan.ids
            if snap.runs[t].state in (TaskState.FAILED, TaskState.INTERRUPTED, TaskState.CANCELLED)
        ]
        hints = (
            [f"logs {t}" for t in failed[:1]] + [f"retry {t}" for t in failed] + [f"skip {t}" for t in failed]
        )
        if not failed and blocked_tasks(snap):
            hints.append("status")
        return [*hints, "report"]
    if state in (SessionState.COMPLETED, SessionState.CANCELLED):
        return ["report"]
    return ["status"]
