"""Which committed events become notifications for humans, and on which channels.

Pure: the engine and the command use case call :func:`with_outbox` inside the
transaction that commits a change, so a notification is stored iff the
transition that caused it is (the outbox pattern); a background sender delivers
it later (:mod:`orchcore.delivery`).

Keys: ``SESSION:VERSION:INDEX:KIND``. Every commit bumps the session's version
by one, so (session, version the commit creates, index of the event in the
mutation) names one event for good: a change re-run on a later version is a
different commit with different events, and a change that never committed
left no key behind. The kind makes a key readable in logs and receivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

import attrs

from orchcore.budget import total, usd
from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.records import Event, EventKind, JsonObject, Mutation, OutboxEntry, Snapshot, TaskRun
from orchcore.runtable import with_runs
from orchcore.safety.events import SafetyEvent, safety_events_in
from orchcore.state import SessionState, TaskState

#: What is sent unless settings say otherwise: everything but the chatty "task started".
DEFAULT_KINDS = frozenset(NotificationKind) - {NotificationKind.TASK_STARTED}
TITLE_LIMIT = 200
TEXT_LIMIT = 3000


@attrs.frozen
class Routing:
    """Which kinds of notification go to which channels (notifier names, e.g. "n8n").

    Fixed when the transition commits: each (notification, channel) becomes one
    outbox entry, retried on its own, so a channel that is down delays only its own
    messages and a message never reaches a channel twice because another one failed.
    """

    channels: tuple[str, ...] = ()
    kinds: frozenset[NotificationKind] = DEFAULT_KINDS

    def entries(self, notifications: Iterable[Notification]) -> tuple[OutboxEntry, ...]:
        """One fresh outbox entry per wanted notification and channel, due at once."""
        return tuple(
            OutboxEntry(n, channel, next_attempt_at=n.created_at)
            for n in notifications
            if n.kind in self.kinds
            for channel in self.channels
        )


def notification_key(session_id: str, version: int, index: int, kind: NotificationKind) -> str:
    """The idempotency key of the notification of event ``index`` of the commit making ``version``."""
    return f"{session_id}:{version}:{index}:{kind.value}"


def with_outbox(before: Snapshot, mutation: Mutation, routing: Routing) -> Mutation:
    """``mutation`` with the outbox entries its events call for under ``routing``."""
    if not routing.channels or not mutation.events:
        return mutation
    entries = routing.entries(notifications_for(before, mutation))
    if not entries:
        return mutation
    return attrs.evolve(mutation, outbox=(*mutation.outbox, *entries))


def notifications_for(before: Snapshot, mutation: Mutation) -> tuple[Notification, ...]:
    """The notifications the events of ``mutation``, applied to ``before``, call for.

    At most one per event, in event order; most events (commands, agent output,
    task state bookkeeping) call for none.
    """
    runs = with_runs(before.runs, mutation.runs)  # shares the unchanged runs: no copy of the plan's
    after = Snapshot(mutation.session or before.session, before.plan, runs)
    version = before.session.version + 1
    budget_halt = any(_is_budget_halt(e, mutation.events) for e in mutation.events)
    # a safety violation fails its task: the violation tells it, once (a refusal fails nothing)
    unsafe = {
        e.task_id
        for e in mutation.events
        if e.kind is EventKind.SAFETY and any(not s.refused for s in safety_events_in(e))
    }
    found: list[Notification] = []
    for index, event in enumerate(mutation.events):
        if event.kind is EventKind.TASK_FINISHED and event.task_id in unsafe:
            continue
        made = _describe(event, before, after, budget_halt)
        if made is None:
            continue
        kind, title, text, actions = made
        data: JsonObject = {"event": event.kind.value, **event.data}
        if event.attempt is not None:
            data["attempt"] = event.attempt
        found.append(
            Notification(
                key=notification_key(after.session.id, version, index, kind),
                session_id=after.session.id,
                kind=kind,
                title=one_line(title, TITLE_LIMIT),
                text=_clip(text, TEXT_LIMIT),
                created_at=event.at,
                task_id=event.task_id,
                actions=actions,
                data=data,
            )
        )
    return tuple(found)


_Described = tuple[NotificationKind, str, str, tuple[str, ...]]


def _describe(event: Event, before: Snapshot, after: Snapshot, budget_halt: bool) -> _Described | None:
    if event.kind is EventKind.SESSION_STATE:
        return _session_state(event, before, after, budget_halt)
    if event.kind is EventKind.TASK_STARTED:
        return _task_started(event, after)
    if event.kind is EventKind.TASK_FINISHED:
        return _task_finished(event, after)
    if event.kind is EventKind.APPROVAL_NEEDED:
        return _approval_needed(event, after)
    if event.kind is EventKind.QUESTION:
        return _question(event, after)
    if event.kind is EventKind.BUDGET:
        return _budget(event, after, budget_halt)
    if event.kind is EventKind.SAFETY:
        return _safety(event, after)
    return None


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _where(after: Snapshot) -> str:
    source = after.session.source.rsplit("/", 1)[-1] or after.session.source
    return f"session {after.session.id} ({source})"


def _task(after: Snapshot, task_id: str | None) -> str:
    """``Task 3 "Users table"`` (or just ``Task 3`` for a task the plan does not know)."""
    if task_id is None:
        return "A task"
    title = next((t.title for t in after.plan.tasks if t.id == task_id), "")
    return f'Task {task_id} "{one_line(title, 80)}"' if title else f"Task {task_id}"


def _session_state(event: Event, before: Snapshot, after: Snapshot, budget_halt: bool) -> _Described | None:
    state = _text(event.data, "state")
    reason = _text(event.data, "reason")
    sid = after.session.id
    where = _where(after)
    if state == SessionState.RUNNING and before.session.state is SessionState.PLANNED:
        n = len(after.plan.tasks)
        return (
            NotificationKind.SESSION_STARTED,
            f"Session {sid} started: {n} task{'s' if n != 1 else ''}",
            f"{where} started{f' with agent {after.session.agent}' if after.session.agent else ''}."
            + (f" {after.plan.title}" if after.plan.title else ""),
            ("status", "pause"),
        )
    if state == SessionState.COMPLETED:
        return (
            NotificationKind.SESSION_COMPLETED,
            f"Session {sid} completed: {_tally(after.runs)}",
            f"{where} completed.{_spent(after.runs)}",
            ("report",),
        )
    if state == SessionState.FAILED:
        return (
            NotificationKind.SESSION_FAILED,
            f"Session {sid} failed: {reason or _tally(after.runs)}",
            f"{where} failed: {reason}\nTasks: {_tally(after.runs)}.{_spent(after.runs)}",
            ("status", "report"),
        )
    if state == SessionState.HALTED and not budget_halt:  # a budget halt says so itself
        return (
            NotificationKind.SESSION_HALTED,
            f"Session {sid} halted: {reason}",
            f"{where} halted: {reason}",
            ("status", "resume"),
        )
    return None  # waiting, paused, cancelled: the approval/question or the human's own command says it


def _task_started(event: Event, after: Snapshot) -> _Described:
    attempt = f" (attempt {event.attempt})" if event.attempt and event.attempt > 1 else ""
    return (
        NotificationKind.TASK_STARTED,
        f"Task {event.task_id} started{attempt}: {_text(event.data, 'title')}",
        f"{_task(after, event.task_id)} started{attempt} in {_where(after)}.",
        (f"logs {event.task_id}", "pause"),
    )


def _task_finished(event: Event, after: Snapshot) -> _Described | None:
    state = _text(event.data, "state")
    task_id = event.task_id
    took = event.data.get("duration_s")
    cost = event.data.get("cost_usd")
    details = "".join(
        [
            f" in {took} s" if took is not None else "",
            f", cost {_money(cost)}" if cost is not None else "",
            f", attempt {event.attempt}" if event.attempt is not None else "",
        ]
    )
    if state == TaskState.COMPLETED:
        return (
            NotificationKind.TASK_COMPLETED,
            f"Task {task_id} completed",
            f"{_task(after, task_id)} completed{details} ({_where(after)}).",
            (f"logs {task_id}",),
        )
    if state == TaskState.FAILED:
        reason = _text(event.data, "reason")
        code = event.data.get("exit_code")
        why = f"exit code {code}" if isinstance(code, int) and code != 0 else (reason or "it failed")
        return (
            NotificationKind.TASK_FAILED,
            f"Task {task_id} failed: {why}",
            f"{_task(after, task_id)} failed{details} ({_where(after)}).\n{reason}".rstrip(),
            (f"logs {task_id}", f"retry {task_id}", f"skip {task_id}"),
        )
    return None  # interrupted for a retry, asking (the question says it), cancelled by a human


def _approval_needed(event: Event, after: Snapshot) -> _Described:
    task_id = event.task_id
    actions = (f"approve {task_id}", f"reject {task_id}")
    if _text(event.data, "gate") == "review":  # the supervisor stopped a finished attempt
        return (
            NotificationKind.APPROVAL_NEEDED,
            f"Task {task_id} {_text(event.data, 'text')}",
            f"{_task(after, task_id)} was checked and waits for your review ({_where(after)}). Approving "
            "accepts the work; rejecting with a reason runs it again with the reason as feedback.",
            actions,
        )
    if _text(event.data, "gate") == "after":
        return (
            NotificationKind.APPROVAL_NEEDED,
            f"Task {task_id} is done: review it",
            f"Checkpoint: {_task(after, task_id)} completed; the session goes on once you approve "
            f"it ({_where(after)}). Rejecting it fails the task.",
            actions,
        )
    return (
        NotificationKind.APPROVAL_NEEDED,
        f"Task {task_id} needs approval: {_text(event.data, 'title')}",
        f"{_task(after, task_id)} waits for your approval before it starts ({_where(after)}).",
        actions,
    )


def _question(event: Event, after: Snapshot) -> _Described:
    task_id = event.task_id
    question = _text(event.data, "text")
    return (
        NotificationKind.QUESTION_ASKED,
        f"Task {task_id} asks: {question}",
        f"{_task(after, task_id)} asks ({_where(after)}):\n{question}",
        ('answer "..."', f"skip {task_id}"),
    )


def _is_budget_halt(event: Event, events: Iterable[Event]) -> bool:
    """A budget event in the very commit that halts the session."""
    return event.kind is EventKind.BUDGET and any(
        e.kind is EventKind.SESSION_STATE and e.data.get("state") == SessionState.HALTED for e in events
    )


def _budget(event: Event, after: Snapshot, budget_halt: bool) -> _Described | None:
    level = _text(event.data, "level")
    text = _text(event.data, "text")
    if level == "warn":
        return (
            NotificationKind.BUDGET_WARNING,
            f"Budget warning: {text}",
            f"{text} ({_where(after)}).",
            ("budget", "pause"),
        )
    if level == "exceeded" and budget_halt:
        # crossing the limit inside an attempt is followed at once by the halt; tell it once, there
        return (
            NotificationKind.BUDGET_HALT,
            f"Budget reached, session {after.session.id} halted: {text}",
            f"{_where(after)} halted: {after.session.reason or text}",
            ("budget", "status"),
        )
    return None


def _safety(event: Event, after: Snapshot) -> _Described | None:
    what = _text(event.data, "text") or "a forbidden operation"
    task_id = event.task_id
    found = safety_events_in(event)
    if found and all(s.refused for s in found):
        # another refusal by a layer already told of in this attempt: recorded, not sent again
        return None if event.data.get("repeat") is True else _refusal(found[0], event, after)
    if task_id is None:
        return (
            NotificationKind.SAFETY_VIOLATION,
            f"Session {after.session.id}: safety violation: {what}",
            f"Safety violation in {_where(after)}: {what}",
            ("status",),
        )
    return (
        NotificationKind.SAFETY_VIOLATION,
        f"Task {task_id} failed a safety rule: {what}",
        f"{_task(after, task_id)} was stopped and failed ({_where(after)}): {what}\n"
        "Look at what it did before you retry it.",
        (f"logs {task_id}", f"retry {task_id}", f"skip {task_id}"),
    )


def _refusal(refused: SafetyEvent, event: Event, after: Snapshot) -> _Described:
    task_id = event.task_id
    where = _task(after, task_id) if task_id is not None else f"Session {after.session.id}"
    return (
        NotificationKind.SAFETY_REFUSAL,
        f"{where}: {refused.layer.value} refused {refused.command or 'an operation'}",
        f"{where} ({_where(after)}): {refused.text}\n"
        "The agent was stopped there; the task goes on. Look at what it tried.",
        (f"logs {task_id}", "status") if task_id is not None else ("status",),
    )


def _tally(runs: Mapping[str, TaskRun]) -> str:
    counts: dict[str, int] = {}
    for run in runs.values():
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    n = len(runs)
    parts = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    return f"{n} task{'s' if n != 1 else ''} ({parts})"


def _spent(runs: Mapping[str, TaskRun]) -> str:
    costs = [a.cost_usd for run in runs.values() for a in run.attempts if a.cost_usd is not None]
    return f" Cost: {usd(total(costs))}." if costs else ""


def _money(value: object) -> str:
    """A stored amount (an exact decimal string) as people read it."""
    try:
        return usd(Decimal(str(value)))
    except InvalidOperation:
        return f"${value}"


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs become one space), at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
