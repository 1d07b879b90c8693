"""Session and task-run state machines: one explicit transition table each.

Triggers are either :class:`Command` (what a human sends: approve, pause, ...)
or :class:`Step` (what the engine does: begin a task, finish it, ...). A pair
not in a table is illegal, and asking for it raises :class:`IllegalTransition`
naming the current state and the commands allowed in it.
"""

from __future__ import annotations

import enum

from orchcore.errors import IllegalTransition


class SessionState(enum.StrEnum):
    """Where a session stands."""

    PLANNED = "planned"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    WAITING_ANSWER = "waiting_answer"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    HALTED = "halted"
    CANCELLED = "cancelled"


class TaskState(enum.StrEnum):
    """Where one task of a session stands."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    WAITING_ANSWER = "waiting_answer"
    WAITING_REVIEW = "waiting_review"  # the supervisor stopped a finished attempt for a human
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class Command(enum.StrEnum):
    """What a human can ask of a session, from any front end."""

    START = "start"
    APPROVE = "approve"
    REJECT = "reject"
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    RETRY = "retry"
    CANCEL = "cancel"
    ANSWER = "answer"


class Step(enum.StrEnum):
    """What the engine does to a session or task."""

    BEGIN = "begin"
    SUCCEED = "succeed"
    FAIL = "fail"
    INTERRUPT = "interrupt"
    GATE = "gate"
    ASK = "ask"
    FINISH = "finish"
    FINISH_FAILED = "finish_failed"
    HALT = "halt"
    STOP = "stop"
    REVIEW = "review"  # the supervisor stops the attempt for a human's review
    FIX = "fix"  # the supervisor gives the task another attempt with feedback


Trigger = Command | Step

S = SessionState
T = TaskState
C = Command

_ACTIVE = (S.RUNNING, S.WAITING_APPROVAL, S.WAITING_ANSWER, S.PAUSED, S.HALTED)

SESSION_TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (S.PLANNED, C.START): S.RUNNING,
    (S.PLANNED, C.RESUME): S.RUNNING,
    # Resuming a running session re-attaches an engine (after a crash); state is unchanged.
    (S.RUNNING, C.RESUME): S.RUNNING,
    (S.PAUSED, C.RESUME): S.RUNNING,
    (S.HALTED, C.RESUME): S.RUNNING,
    (S.RUNNING, C.PAUSE): S.PAUSED,
    (S.WAITING_APPROVAL, C.PAUSE): S.PAUSED,
    (S.WAITING_ANSWER, C.PAUSE): S.PAUSED,
    (S.WAITING_APPROVAL, C.APPROVE): S.RUNNING,
    (S.WAITING_APPROVAL, C.REJECT): S.RUNNING,
    (S.WAITING_ANSWER, C.ANSWER): S.RUNNING,
    # skip and retry change a task; the session becomes runnable again if it had ended failed
    **{(s, C.SKIP): s for s in (S.PLANNED, S.RUNNING, S.PAUSED, S.HALTED)},
    **{(s, C.RETRY): s for s in (S.PLANNED, *_ACTIVE)},
    (S.FAILED, C.SKIP): S.RUNNING,
    # skipping the very task the session waits on lets it go on
    (S.WAITING_APPROVAL, C.SKIP): S.RUNNING,
    (S.WAITING_ANSWER, C.SKIP): S.RUNNING,
    (S.FAILED, C.RETRY): S.RUNNING,
    **{(s, C.CANCEL): S.CANCELLED for s in (S.PLANNED, S.FAILED, *_ACTIVE)},
    # engine steps
    (S.RUNNING, Step.GATE): S.WAITING_APPROVAL,
    (S.RUNNING, Step.ASK): S.WAITING_ANSWER,
    (S.RUNNING, Step.FINISH): S.COMPLETED,
    (S.RUNNING, Step.FINISH_FAILED): S.FAILED,
    (S.RUNNING, Step.HALT): S.HALTED,
}

TASK_TRANSITIONS: dict[tuple[TaskState, Trigger], TaskState] = {
    (T.PENDING, Step.BEGIN): T.RUNNING,
    (T.INTERRUPTED, Step.BEGIN): T.RUNNING,
    (T.PENDING, Step.GATE): T.WAITING_APPROVAL,
    (T.RUNNING, Step.SUCCEED): T.COMPLETED,
    (T.RUNNING, Step.FAIL): T.FAILED,
    (T.RUNNING, Step.INTERRUPT): T.INTERRUPTED,
    (T.RUNNING, Step.ASK): T.WAITING_ANSWER,
    (T.RUNNING, Step.STOP): T.CANCELLED,
    (T.RUNNING, Step.REVIEW): T.WAITING_REVIEW,
    (T.RUNNING, Step.FIX): T.PENDING,
    # a stopped attempt: approving accepts the work, rejecting runs the task again with the reason
    (T.WAITING_REVIEW, C.APPROVE): T.COMPLETED,
    (T.WAITING_REVIEW, C.REJECT): T.PENDING,
    (T.WAITING_APPROVAL, C.APPROVE): T.PENDING,
    (T.WAITING_APPROVAL, C.REJECT): T.FAILED,
    # a checkpoint after a completed task: approving keeps it, rejecting fails it
    (T.COMPLETED, C.APPROVE): T.COMPLETED,
    (T.COMPLETED, C.REJECT): T.FAILED,
    (T.WAITING_ANSWER, C.ANSWER): T.PENDING,
    **{
        (t, C.SKIP): T.SKIPPED
        for t in (
            T.PENDING,
            T.WAITING_APPROVAL,
            T.WAITING_ANSWER,
            T.WAITING_REVIEW,
            T.FAILED,
            T.INTERRUPTED,
            T.CANCELLED,
        )
    },
    **{(t, C.RETRY): T.PENDING for t in (T.FAILED, T.INTERRUPTED, T.CANCELLED)},
}

TERMINAL_SESSION = frozenset({S.COMPLETED, S.CANCELLED})
DONE_TASK = frozenset({T.COMPLETED, T.SKIPPED})
"""Task states that satisfy a dependency."""
DEAD_TASK = frozenset({T.FAILED, T.CANCELLED})
"""Task states that can never satisfy a dependency without a human (retry or skip)."""


def allowed_commands(state: SessionState) -> list[Command]:
    """The commands a session accepts in ``state``, in a stable order."""
    return [c for c in Command if (state, c) in SESSION_TRANSITIONS]


def allowed_task_commands(state: TaskState) -> list[Command]:
    """The commands a task accepts in ``state``."""
    return [c for c in Command if (state, c) in TASK_TRANSITIONS]


def next_session_state(state: SessionState, trigger: Trigger) -> SessionState:
    """The state after ``trigger``; IllegalTransition if the table has no such edge."""
    try:
        return SESSION_TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(
            "the session", state.value, trigger.value, [c.value for c in allowed_commands(state)]
        ) from None


def next_task_state(task_id: str, state: TaskState, trigger: Trigger) -> TaskState:
    """The task's state after ``trigger``; IllegalTransition if not allowed."""
    try:
        return TASK_TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(
            f"task {task_id}", state.value, trigger.value, [c.value for c in allowed_task_commands(state)]
        ) from None
