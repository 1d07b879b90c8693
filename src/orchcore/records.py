"""The stored values of a session: what the store keeps and the engine decides from."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

import attrs

from orchcore.state import SessionState, TaskState
from orchcore.tasks import Plan

if TYPE_CHECKING:
    # a type only: ports.notifier imports this module for JsonObject
    from orchcore.ports.notifier import Notification

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


class Gate(enum.StrEnum):
    """Why a session waits on a task."""

    BEFORE = "before"  # approval to start the task
    AFTER = "after"  # checkpoint review of a completed task
    ANSWER = "answer"  # the agent asked a question
    REVIEW = "review"  # the supervisor stopped a finished attempt for a human's review


class Outcome(enum.StrEnum):
    """How one attempt of a task ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    RATE_LIMITED = "rate_limited"  # the provider refused until a reset time
    ASKED = "asked"  # the agent stopped to ask a human a question


@attrs.frozen
class Session:
    """One run of one task file. ``version`` grows by one with every committed change."""

    id: str
    source: str
    state: SessionState
    created_at: datetime
    updated_at: datetime
    auto_approve: bool = False
    agent: str = ""
    waiting_for: str | None = None
    gate: Gate | None = None
    reason: str = ""
    version: int = 0


@attrs.frozen
class AttemptProcess:
    """What identifies the processes of one attempt after orch itself died.

    ``group`` is the process group (and session) the agent was started in,
    ``leader_start`` the leader's start time in clock ticks since boot (so a reused
    pid is never taken for it), ``marker`` a value every descendant inherits in its
    environment (it finds those that left the group). ``host`` says where they run: empty on
    this machine, else the executor's name for the host (``ssh://user@host:port``); there
    ``group`` is 0 until the remote group is known and ``leader_start`` is 0.
    """

    group: int
    leader_start: int
    marker: str
    host: str = ""


@attrs.frozen
class Attempt:
    """One try at a task by an agent."""

    number: int
    started_at: datetime
    finished_at: datetime | None = None
    outcome: Outcome | None = None
    exit_code: int | None = None
    reason: str = ""
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    agent_session_id: str | None = None
    retry_at: datetime | None = None  # a transient failure: try again, but not before this
    process: AttemptProcess | None = None  # recorded as soon as the agent runs: what to kill after a crash


@attrs.frozen
class TaskRun:
    """A task's progress within a session."""

    task_id: str
    state: TaskState = TaskState.PENDING
    approved: bool = False
    reviewed: bool = False
    attempts: tuple[Attempt, ...] = ()
    reason: str = ""
    question: str = ""  # the agent's last question to a human
    answer: str = ""  # the human's answer to it

    @property
    def attempt(self) -> int:
        """Number of the latest attempt (0 before the first)."""
        return len(self.attempts)


class EventKind(enum.StrEnum):
    """What an event records."""

    SESSION_CREATED = "session_created"
    SESSION_STATE = "session_state"
    COMMAND = "command"
    TASK_STARTED = "task_started"
    TASK_FINISHED = "task_finished"
    TASK_STATE = "task_state"
    APPROVAL_NEEDED = "approval_needed"
    AGENT = "agent"
    BUDGET = "budget"
    QUESTION = "question"
    SAFETY = "safety"  # an agent tried a forbidden operation, or moved a git ref
    WARNING = (
        "warning"  # something the user should fix, told at run start (e.g. orch's files in the workspace)
    )
    SANDBOX = "sandbox"  # whether this run's agents are in the OS sandbox, and why not
    GATE = "gate"  # one validator rule, quality gate or the judge on an attempt (GateResult.as_data)
    SUPERVISION = "supervision"  # the supervisor's decision on an attempt (Decision.as_data)
    FILES = "files"  # files an agent added, changed or deleted, as a watcher saw them (live_files)
    PROMPT = "prompt"  # what the context budget cut from a prompt (Cut.as_data per part)
    WORKTREE = "worktree"  # a parallel task's worktree (path, branch, base, ports) or its commit


@attrs.frozen
class Event:
    """An append-only record of something that happened. ``seq`` is set by the store."""

    kind: EventKind
    at: datetime
    task_id: str | None = None
    attempt: int | None = None
    data: JsonObject = attrs.field(factory=dict)
    seq: int = 0


@attrs.frozen
class Snapshot:
    """Everything stored about a session, read in one transaction."""

    session: Session
    plan: Plan
    runs: Mapping[str, TaskRun]

    def run(self, task_id: str) -> TaskRun:
        """The run of ``task_id`` (KeyError if the plan has no such task)."""
        return self.runs[task_id]


@attrs.frozen
class OutboxEntry:
    """One notification for one channel, kept by the store until that channel took it.

    Committed in the transaction of the transition it tells about, so it exists iff
    the transition does; ``(notification.key, channel)`` is unique. A channel's
    entries of one session are delivered strictly in the order they were committed.
    """

    notification: Notification
    channel: str
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str = ""
    delivered_at: datetime | None = None
    gave_up: bool = False

    @property
    def key(self) -> str:
        return self.notification.key

    @property
    def session_id(self) -> str:
        return self.notification.session_id

    @property
    def open(self) -> bool:
        """Still to deliver: neither delivered nor given up."""
        return self.delivered_at is None and not self.gave_up


@attrs.frozen
class Mutation:
    """What one transaction changes: the session, some task runs, new events, and the
    notifications those events cause (the outbox, committed with them)."""

    session: Session | None = None
    runs: tuple[TaskRun, ...] = ()
    events: tuple[Event, ...] = ()
    outbox: tuple[OutboxEntry, ...] = ()


@attrs.frozen
class AttemptRecord:
    """An attempt with where it belongs: a line of the cost ledger."""

    session_id: str
    task_id: str
    attempt: Attempt


@attrs.frozen
class SessionSummary:
    """A line of a session listing."""

    id: str
    source: str
    state: SessionState
    created_at: datetime
    updated_at: datetime
