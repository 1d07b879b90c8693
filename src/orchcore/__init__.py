"""orchcore: the pure domain of the orchestrator, and the ports it needs.

No I/O happens here: files, processes, sockets and clocks come in through
``orchcore.ports``; adapters fill them and ``apps`` wires them together.
"""

from __future__ import annotations

from orchcore.commands import apply_command
from orchcore.decide import Action, AwaitApproval, Finish, Idle, StartTask, decide
from orchcore.engine import Engine, RunOutcome
from orchcore.errors import (
    AgentUnavailable,
    ConfigError,
    IllegalTransition,
    NotFound,
    OrchError,
    Problem,
    SessionBusy,
    StoreError,
    TaskFileError,
)
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.records import (
    Attempt,
    Event,
    EventKind,
    Gate,
    Mutation,
    Outcome,
    Session,
    SessionSummary,
    Snapshot,
    TaskRun,
)
from orchcore.state import Command, SessionState, TaskState
from orchcore.taskfile import parse_task_file
from orchcore.tasks import Complexity, Plan, Priority, Task

__version__ = "0.1.0"

__all__ = [
    "Action",
    "AgentUnavailable",
    "ApprovalMode",
    "ApprovalPolicy",
    "Attempt",
    "AwaitApproval",
    "Command",
    "Complexity",
    "ConfigError",
    "Engine",
    "Event",
    "EventKind",
    "Finish",
    "Gate",
    "Idle",
    "IllegalTransition",
    "Mutation",
    "NotFound",
    "OrchError",
    "Outcome",
    "Plan",
    "Priority",
    "Problem",
    "RunOutcome",
    "Session",
    "SessionBusy",
    "SessionState",
    "SessionSummary",
    "Snapshot",
    "StartTask",
    "StoreError",
    "Task",
    "TaskFileError",
    "TaskGraph",
    "TaskRun",
    "TaskState",
    "apply_command",
    "decide",
    "parse_task_file",
]
