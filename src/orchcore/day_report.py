"""The day's report: every session of one day, read from the store's records, as one value.

Pure: :func:`build_day_report` takes the sessions' snapshots and events and returns a
:class:`DayReport`; rendering it (markdown, HTML with charts) and asking an LLM for a summary
are the shell's work. What a human waited, how often a task was retried and why, and the
rules for tomorrow (``orchcore.day_advice``) are all computed here from stored facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal

import attrs

from orchcore.decide import blocked_tasks
from orchcore.graph import TaskGraph
from orchcore.live_files import files_line
from orchcore.records import Event, EventKind, JsonObject, Outcome, Snapshot, TaskRun
from orchcore.safety.events import recorded_safety_events
from orchcore.state import SessionState, TaskState
from orchcore.supervision_view import supervision_by_task, supervision_line

ENDED = frozenset({SessionState.COMPLETED, SessionState.FAILED, SessionState.HALTED, SessionState.CANCELLED})
"""Session states after which the day's report is written again by itself."""
FAILED = frozenset({Outcome.FAILED, Outcome.TIMED_OUT, Outcome.ERROR})


@attrs.frozen
class SessionRecords:
    """What the store holds about one session: its snapshot and its events, oldest first."""

    snapshot: Snapshot
    events: tuple[Event, ...]


@attrs.frozen
class Span:
    """One attempt on the day's time line."""

    label: str  # "SESSION/TASK"
    start: datetime
    end: datetime
    outcome: str


@attrs.frozen
class Retry:
    """Why an attempt was followed by another: its outcome and reason."""

    attempt: int
    why: str


@attrs.frozen
class TaskLine:
    """One task of one session: how it ended and what it took."""

    session_id: str
    task_id: str
    title: str
    type: str
    outcome: str
    attempts: int
    seconds: float
    approval_wait_s: float
    answer_wait_s: float
    cost_usd: Decimal | None
    tokens_in: int | None
    tokens_out: int | None
    retries: tuple[Retry, ...] = ()
    checks: str = ""  # the supervisor's line on the last checked attempt
    confidence: float | None = None
    reviews: int = 0  # attempts the supervisor stopped for a human's review, or a human rejected
    failures: int = 0  # attempts that failed, or that the supervisor sent back or failed
    files: str = ""  # files_line of the last attempt the watcher saw

    @property
    def key(self) -> str:
        return f"{self.session_id[:8]}/{self.task_id}"

    @property
    def succeeded(self) -> bool:
        return self.outcome == TaskState.COMPLETED.value

    @property
    def human_wait_s(self) -> float:
        return self.approval_wait_s + self.answer_wait_s


@attrs.frozen
class Approval:
    """A gate a human opened or closed: asked when, decided when, how and by whom."""

    session_id: str
    task_id: str
    gate: str
    asked_at: datetime
    decided_at: datetime | None
    decision: str  # approve, reject, skip, cancel, "" (still waiting)
    by: str

    @property
    def wait_s(self) -> float | None:
        return None if self.decided_at is None else (self.decided_at - self.asked_at).total_seconds()


@attrs.frozen
class Exchange:
    """A question an agent asked and the human's answer (``answer`` empty: not answered)."""

    session_id: str
    task_id: str
    question: str
    asked_at: datetime
    answer: str
    answered_at: datetime | None
    by: str

    @property
    def wait_s(self) -> float | None:
        return None if self.answered_at is None else (self.answered_at - self.asked_at).total_seconds()


@attrs.frozen
class SafetyLine:
    session_id: str
    task_id: str | None
    at: datetime
    text: str


@attrs.frozen
class SessionLine:
    id: str
    title: str
    source: str
    state: str
    reason: str
    created_at: datetime


@attrs.frozen
class TypeTotals:
    """Cost, tokens and outcomes of one task type."""

    type: str
    cost_usd: Decimal
    tokens_in: int
    tokens_out: int
    outcomes: Mapping[str, int]


@attrs.frozen
class DayReport:
    """The day across every session: built by :func:`build_day_report`, rendered by the shell.

    ``summary`` is an LLM's summary of the day when one was available; ``summary_note`` says why
    there is none (the rules in ``advice`` always are there).
    """

    day: date
    generated_at: datetime
    tz: str
    sessions: tuple[SessionLine, ...]
    tasks: tuple[TaskLine, ...]
    approvals: tuple[Approval, ...]
    exchanges: tuple[Exchange, ...]
    safety: tuple[SafetyLine, ...]
    spans: tuple[Span, ...]
    by_type: tuple[TypeTotals, ...]
    spent_usd: Decimal
    limit_usd: Decimal | None
    budget_hit_at: datetime | None  # when the day's budget first stopped a session (local time)
    advice: tuple[str, ...] = ()
    summary: str = ""
    summary_note: str = ""

    @property
    def finished(self) -> int:
        """Tasks that got to an end (completed or failed for good), the base of the success rate."""
        return sum(1 for t in self.tasks if t.outcome in (TaskState.COMPLETED.value, TaskState.FAILED.value))

    @property
    def succeeded(self) -> int:
        return sum(1 for t in self.tasks if t.succeeded)

    @property
    def success_rate(self) -> float | None:
        return None if self.finished == 0 else self.succeeded / self.finished


def on_day(at: datetime, day: date, tz: tzinfo) -> bool:
    return at.astimezone(tz).date() == day


def sessions_of_day(records: Iterable[SessionRecords], day: date, tz: tzinfo) -> list[SessionRecords]:
    """The sessions that did something on ``day`` (in ``tz``): created, changed, or any event."""
    return [
        r
        for r in records
        if on_day(r.snapshot.session.created_at, day, tz)
        or on_day(r.snapshot.session.updated_at, day, tz)
        or any(on_day(e.at, day, tz) for e in r.events)
    ]


def _seconds(run: TaskRun) -> float:
    return sum((a.finished_at - a.started_at).total_seconds() for a in run.attempts if a.finished_at)


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _cost(run: TaskRun) -> Decimal | None:
    known = [a.cost_usd for a in run.attempts if a.cost_usd is not None]
    return sum(known, Decimal(0)) if known else None


def _retries(run: TaskRun, supervision: Sequence[JsonObject]) -> tuple[Retry, ...]:
    """Every attempt followed by another, with why: the supervisor's feedback reason, else the
    attempt's own outcome and reason."""
    decided = {d.get("attempt"): d for d in supervision}
    found = []
    for attempt in run.attempts[:-1]:
        if attempt.outcome is Outcome.ASKED:
            continue  # the next attempt goes on with the answer: not a retry
        decision = decided.get(attempt.number)
        if decision is not None and decision.get("action") == "retry_with_feedback":
            why = f"supervisor: {decision.get('reason') or decision.get('rule') or 'retry with feedback'}"
        else:
            outcome = attempt.outcome.value if attempt.outcome else "unknown"
            why = f"{outcome}: {attempt.reason}" if attempt.reason else outcome
        found.append(Retry(attempt.number, why))
    return tuple(found)


def _decisions(
    session_id: str, events: Sequence[Event]
) -> tuple[list[Approval], list[Exchange], dict[str, float], dict[str, float]]:
    """Approvals and questions of one session paired with what the human did, and the wait per task."""
    approvals: list[Approval] = []
    exchanges: list[Exchange] = []
    open_gate: dict[str, Approval] = {}
    open_question: dict[str, Exchange] = {}
    for event in events:
        task = event.task_id
        if event.kind is EventKind.APPROVAL_NEEDED and task is not None:
            open_gate[task] = Approval(
                session_id, task, str(event.data.get("gate", "")), event.at, None, "", ""
            )
        elif event.kind is EventKind.QUESTION and task is not None:
            text = str(event.data.get("text", ""))
            open_question[task] = Exchange(session_id, task, text, event.at, "", None, "")
        elif event.kind is EventKind.COMMAND:
            command, by = str(event.data.get("command", "")), str(event.data.get("source", ""))
            if task is None and command in ("approve", "reject", "answer", "skip", "cancel"):
                pending = open_gate if command != "answer" else open_question
                task = next(iter(pending), None)  # the command went to the task the session waited on
            if task is None:
                if command == "cancel":  # cancelling the session closes whatever waited
                    approvals.extend(
                        attrs.evolve(w, decided_at=event.at, decision="cancel", by=by)
                        for w in open_gate.values()
                    )
                    open_gate.clear()
                continue
            if command == "answer" and task in open_question:
                asked = open_question.pop(task)
                text = str(event.data.get("text", ""))
                exchanges.append(attrs.evolve(asked, answer=text, answered_at=event.at, by=by))
            elif command in ("approve", "reject", "skip", "cancel") and task in open_gate:
                closed = open_gate.pop(task)
                approvals.append(attrs.evolve(closed, decided_at=event.at, decision=command, by=by))
    approvals += open_gate.values()
    exchanges += open_question.values()
    approval_wait: dict[str, float] = {}
    for a in approvals:
        approval_wait[a.task_id] = approval_wait.get(a.task_id, 0.0) + (a.wait_s or 0.0)
    answer_wait: dict[str, float] = {}
    for x in exchanges:
        answer_wait[x.task_id] = answer_wait.get(x.task_id, 0.0) + (x.wait_s or 0.0)
    return approvals, exchanges, approval_wait, answer_wait


def _outcome(snap: Snapshot, task_id: str, blocked: Mapping[str, str]) -> str:
    run = snap.runs[task_id]
    if task_id in blocked:
        return f"blocked by {blocked[task_id]}"
    if run.state is TaskState.PENDING and snap.session.state in ENDED:
        return "not run"
    return run.state.value


def _session_tasks(
    record: SessionRecords, approval_wait: Mapping[str, float], answer_wait: Mapping[str, float]
) -> list[TaskLine]:
    snap, events = record.snapshot, record.events
    blocked = blocked_tasks(snap, TaskGraph(snap.plan.tasks))
    supervision = supervision_by_task(events)
    seen = [e for e in events if e.kind is EventKind.FILES]  # read once: not every event per task
    rejected: dict[str, int] = {}
    for e in events:
        if e.kind is EventKind.COMMAND and e.data.get("command") == "reject" and e.task_id is not None:
            rejected[e.task_id] = rejected.get(e.task_id, 0) + 1
    lines = []
    for task in snap.plan.tasks:
        run = snap.runs[task.id]
        checked = supervision.get(task.id, [])
        last = checked[-1] if checked else None
        confidence = last.get("confidence") if last else None
        files = files_line(seen, task.id, run.attempt) if run.attempt else None
        lines.append(
            TaskLine(
                session_id=snap.session.id,
                task_id=task.id,
                title=task.title,
                type=task.type,
                outcome=_outcome(snap, task.id, blocked),
                attempts=run.attempt,
                seconds=_seconds(run),
                approval_wait_s=approval_wait.get(task.id, 0.0),
                answer_wait_s=answer_wait.get(task.id, 0.0),
                cost_usd=_cost(run),
                tokens_in=_sum(a.input_tokens for a in run.attempts),
                tokens_out=_sum(a.output_tokens for a in run.attempts),
                retries=_retries(run, checked),
                checks=supervision_line(last) if last else "",
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                reviews=sum(1 for d in checked if d.get("action") == "stop_for_review")
                + rejected.get(task.id, 0),
                failures=len(
                    {a.number for a in run.attempts if a.outcome in FAILED}
                    | {
                        d.get("attempt")
                        for d in checked
                        if d.get("action") in ("retry_with_feedback", "fail")
                    }
                ),
                files=files or "",
            )
        )
    return lines


def _spans(record: SessionRecords, now: datetime) -> list[Span]:
    snap = record.snapshot
    spans = []
    for task_id, run in snap.runs.items():
        for a in run.attempts:
            outcome = a.outcome.value if a.outcome else "running"
            end = a.finished_at or now
            spans.append(Span(f"{snap.session.id[:8]}/{task_id}", a.started_at, end, outcome))
    return spans


def _by_type(tasks: Sequence[TaskLine]) -> tuple[TypeTotals, ...]:
    types: dict[str, list[TaskLine]] = {}
    for t in tasks:
        types.setdefault(t.type, []).append(t)
    totals = []
    for name in sorted(types):
        group = types[name]
        outcomes: dict[str, int] = {}
        for t in group:
            key = "blocked" if t.outcome.startswith("blocked") else t.outcome
            outcomes[key] = outcomes.get(key, 0) + 1
        totals.append(
            TypeTotals(
                type=name,
                cost_usd=sum((t.cost_usd for t in group if t.cost_usd is not None), Decimal(0)),
                tokens_in=sum(t.tokens_in or 0 for t in group),
                tokens_out=sum(t.tokens_out or 0 for t in group),
                outcomes=outcomes,
            )
        )
    return tuple(totals)


def _budget_hit(records: Sequence[SessionRecords]) -> datetime | None:
    """When the day's budget first stopped work: a day-scope BUDGET event at the exceeded level."""
    hits = [
        e.at
        for r in records
        for e in r.events
        if e.kind is EventKind.BUDGET and e.data.get("level") == "exceeded" and e.data.get("scope") == "day"
    ]
    return min(hits) if hits else None


def build_day_report(
    records: Sequence[SessionRecords],
    day: date,
    now: datetime,
    tz: tzinfo,
    *,
    spent_usd: Decimal,
    limit_usd: Decimal | None,
) -> DayReport:
    """The report of ``day`` (in ``tz``) over ``records``, the sessions of that day
    (:func:`sessions_of_day`); ``spent_usd`` is the day's ledger and ``limit_usd`` its limit."""
    from orchcore.day_advice import advice

    ordered = sorted(records, key=lambda r: r.snapshot.session.created_at)
    sessions, tasks, approvals, exchanges, safety, spans = [], [], [], [], [], []
    for record in ordered:
        snap = record.snapshot
        session = snap.session
        sessions.append(
            SessionLine(
                session.id,
                snap.plan.title or f"Tasks - {snap.plan.date}",
                snap.plan.source,
                session.state.value,
                session.reason,
                session.created_at,
            )
        )
        asked, talked, approval_wait, answer_wait = _decisions(session.id, record.events)
        approvals += asked
        exchanges += talked
        tasks += _session_tasks(record, approval_wait, answer_wait)
        spans += _spans(record, now)
        safety += [
            SafetyLine(session.id, r.task_id, r.at, r.event.text)
            for r in recorded_safety_events(record.events)
        ]
    hit = _budget_hit(ordered)
    report = DayReport(
        day=day,
        generated_at=now,
        tz=str(tz),
        sessions=tuple(sessions),
        tasks=tuple(tasks),
        approvals=tuple(approvals),
        exchanges=tuple(exchanges),
        safety=tuple(safety),
        spans=tuple(sorted(spans, key=lambda s: s.start)),
        by_type=_by_type(tasks),
        spent_usd=spent_usd,
        limit_usd=limit_usd,
        budget_hit_at=None if hit is None else hit.astimezone(tz),
    )
    return attrs.evolve(report, advice=tuple(advice(report)))
