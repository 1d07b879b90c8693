"""Commands from humans (CLI, webhook, Telegram) applied to stored state.

``apply_command`` is pure: it checks the command against both transition
tables and returns the mutation, or raises and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from orchcore.errors import IllegalTransition, NotFound
from orchcore.records import Event, EventKind, Gate, JsonObject, Mutation, Snapshot, TaskRun
from orchcore.state import (
    SESSION_TRANSITIONS,
    Command,
    SessionState,
    TaskState,
    allowed_commands,
    next_session_state,
    next_task_state,
)

_TASK_COMMANDS = frozenset({Command.SKIP, Command.RETRY})
_GATE_COMMANDS = frozenset({Command.APPROVE, Command.REJECT})
# commands whose reason stays on the session ("paused by telegram")
_PAST = {Command.PAUSE: "paused", Command.CANCEL: "cancelled"}


def apply_command(
    snap: Snapshot,
    command: Command,
    now: datetime,
    *,
    task_id: str | None = None,
    text: str = "",
    source: str = "cli",
) -> Mutation:
    """The mutation ``command`` makes, or IllegalTransition / NotFound with why not."""
    session = snap.session
    if (session.state, command) not in SESSION_TRANSITIONS:
        allowed = [c.value for c in allowed_commands(session.state)]
        raise IllegalTransition("the session", _describe(snap), command.value, allowed)
    if task_id is not None and task_id not in snap.runs:
        raise NotFound(f"task {task_id} is not in this session (tasks: {', '.join(snap.plan.ids)})")
    if command in _GATE_COMMANDS:
        return _gate_command(snap, command, now, task_id, text, source)
    if command is Command.ANSWER:
        return _answer(snap, now, task_id, text, source)
    if command in _TASK_COMMANDS:
        if task_id is None:
            raise IllegalTransition(
                "the session", _describe(snap), f"{command.value} without a task", [f"{command.value} TASK"]
            )
        return _task_command(snap, command, now, task_id, text, source)
    state = next_session_state(session.state, command)
    reason = f"{_PAST[command]} by {source}" if command in _PAST else ""
    keep_wait = command is Command.PAUSE
    new_session = attrs.evolve(
        session,
        state=state,
        reason=reason or (session.reason if keep_wait else ""),
        waiting_for=session.waiting_for if keep_wait else None,
        gate=session.gate if keep_wait else None,
        updated_at=now,
    )
    return Mutation(
        session=new_session, events=_events(now, command, source, None, text, session.state, state)
    )


def _describe(snap: Snapshot) -> str:
    session = snap.session
    if session.waiting_for and session.state in (
        SessionState.WAITING_APPROVAL,
        SessionState.WAITING_ANSWER,
        SessionState.PAUSED,
    ):
        return f"{session.state.value} (task {session.waiting_for})"
    return session.state.value


def _gate_command(
    snap: Snapshot, command: Command, now: datetime, task_id: str | None, text: str, source: str
) -> Mutation:
    session = snap.session
    waiting = session.waiting_for
    assert waiting is not None  # noqa: S101 - WAITING_APPROVAL always names its task
    if task_id is not None and task_id != waiting:
        raise IllegalTransition(
            f"task {task_id}",
            snap.run(task_id).state.value,
            command.value,
            [f"{command.value} {waiting} (the task waiting)"],
        )
    run = snap.run(waiting)
    task_state = next_task_state(waiting, run.state, command)
    if command is Command.APPROVE:
        new_run = attrs.evolve(
            run,
            state=task_state,
            approved=True,
            reviewed=run.reviewed or session.gate in (Gate.AFTER, Gate.REVIEW),
        )
    else:
        why = f"rejected by {source}" + (f": {text}" if text else "")
        new_run = attrs.evolve(run, state=task_state, reason=why)
    state = next_session_state(session.state, command)
    new_session = attrs.evolve(session, state=state, waiting_for=None, gate=None, reason="", updated_at=now)
    events = _events(now, command, source, waiting, text, session.state, state, run, new_run)
    return Mutation(session=new_session, runs=(new_run,), events=events)


def _answer(snap: Snapshot, now: datetime, task_id: str | None, text: str, source: str) -> Mutation:
    session = snap.session
    waiting = session.waiting_for
    assert waiting is not None  # noqa: S101 - WAITING_ANSWER always names its task
    if task_id is not None and task_id != waiting:
        raise IllegalTransition(
            f"task {task_id}",
            snap.run(task_id).state.value,
            "answer",
            [f"answer {waiting} (the task asking)"],
        )
    if not text.strip():
        raise IllegalTransition("the session", _describe(snap), "answer without text", ["answer TEXT"])
    run = snap.run(waiting)
    new_run = attrs.evolve(
        run, state=next_task_state(waiting, run.state, Command.ANSWER), answer=text.strip()
    )
    state = next_session_state(session.state, Command.ANSWER)
    new_session = attrs.evolve(session, state=state, waiting_for=None, gate=None, reason="", updated_at=now)
    events = _events(now, Command.ANSWER, source, waiting, text, session.state, state, run, new_run)
    return Mutation(session=new_session, runs=(new_run,), events=events)


def _task_command(
    snap: Snapshot, command: Command, now: datetime, task_id: str, text: str, source: str
) -> Mutation:
    session = snap.session
    run = snap.run(task_id)
    task_state = next_task_state(task_id, run.state, command)
    why = f"{command.value}ped by {source}" if command is Command.SKIP else ""
    new_run: TaskRun = attrs.evolve(
        run,
        state=task_state,
        reason=why or run.reason,
        approved=run.approved and command is not Command.RETRY,
    )
    state = session.state
    new_session = attrs.evolve(session, updated_at=now)
    waited_on = session.waiting_for == task_id
    if session.state is SessionState.FAILED or (waited_on and session.state is not SessionState.PAUSED):
        state = next_session_state(session.state, command)
        new_session = attrs.evolve(new_session, state=state, reason="", waiting_for=None, gate=None)
    elif waited_on:
        new_session = attrs.evolve(new_session, waiting_for=None, gate=None)
    return Mutation(
        session=new_session,
        runs=(new_run,),
        events=_events(now, command, source, task_id, text, session.state, state, run, new_run),
    )


def _events(
    now: datetime,
    command: Command,
    source: str,
    task_id: str | None,
    text: str,
    before: SessionState,
    after: SessionState,
    run: TaskRun | None = None,
    new_run: TaskRun | None = None,
) -> tuple[Event, ...]:
    data: JsonObject = {"command": command.value, "source": source}
    if text:
        data["text"] = text
    events = [Event(EventKind.COMMAND, now, task_id=task_id, data=data)]
    if run is not None and new_run is not None and run.state is not new_run.state:
        events.append(
            Event(
                EventKind.TASK_STATE,
                now,
                task_id=task_id,
                data={"state": new_run.state.value, "reason": new_run.reason},
            )
        )
    if before is not after:
        events.append(Event(EventKind.SESSION_STATE, now, data={"state": after.value, "reason": ""}))
    return tuple(events)


def waiting_task_state(snap: Snapshot) -> TaskState | None:
    """The state of the task the session waits on, if it waits on one."""
    if snap.session.waiting_for is None:
        return None
    return snap.run(snap.session.waiting_for).state
