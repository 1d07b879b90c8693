"""orchcore: the pure domain of the orchestrator, and the ports it needs.

No I/O happens here: files, processes, sockets and clocks come in through
``orchcore.ports``; adapters fill them and ``apps`` wires them together.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchcore.commands import apply_command
    from orchcore.decide import Action, AwaitApproval, Finish, Idle, StartTask, decide
    from orchcore.delivery import DeliveryPolicy, DeliveryReport, deliver_due
    from orchcore.engine import Engine, RunOutcome
    from orchcore.errors import (
        AgentUnavailable,
        ConfigError,
        IllegalTransition,
        NotFound,
        NotifyError,
        OrchError,
        Problem,
        SessionBusy,
        StoreError,
        TaskFileError,
    )
    from orchcore.graph import TaskGraph
    from orchcore.notify import Routing, notifications_for, with_outbox
    from orchcore.policy import ApprovalMode, ApprovalPolicy
    from orchcore.ports.notifier import Notification, NotificationKind
    from orchcore.progress import Progress
    from orchcore.records import (
        Attempt,
        Event,
        EventKind,
        Gate,
        Mutation,
        OutboxEntry,
        Outcome,
        Session,
        SessionSummary,
        Snapshot,
        TaskRun,
    )
    from orchcore.runtable import RunTable
    from orchcore.state import Command, SessionState, TaskState
    from orchcore.taskfile import parse_task_file
    from orchcore.tasks import Complexity, Plan, Priority, Task

_EXPORTS: dict[str, str] = {
    "Action": "orchcore.decide",
    "AgentUnavailable": "orchcore.errors",
    "ApprovalMode": "orchcore.policy",
    "ApprovalPolicy": "orchcore.policy",
    "Attempt": "orchcore.records",
    "AwaitApproval": "orchcore.decide",
    "Command": "orchcore.state",
    "Complexity": "orchcore.tasks",
    "ConfigError": "orchcore.errors",
    "DeliveryPolicy": "orchcore.delivery",
    "DeliveryReport": "orchcore.delivery",
    "Engine": "orchcore.engine",
    "Event": "orchcore.records",
    "EventKind": "orchcore.records",
    "Finish": "orchcore.decide",
    "Gate": "orchcore.records",
    "Idle": "orchcore.decide",
    "IllegalTransition": "orchcore.errors",
    "Mutation": "orchcore.records",
    "NotFound": "orchcore.errors",
    "Notification": "orchcore.ports.notifier",
    "NotificationKind": "orchcore.ports.notifier",
    "NotifyError": "orchcore.errors",
    "OrchError": "orchcore.errors",
    "Outcome": "orchcore.records",
    "OutboxEntry": "orchcore.records",
    "Plan": "orchcore.tasks",
    "Priority": "orchcore.tasks",
    "Problem": "orchcore.errors",
    "Progress": "orchcore.progress",
    "Routing": "orchcore.notify",
    "RunOutcome": "orchcore.engine",
    "RunTable": "orchcore.runtable",
    "Session": "orchcore.records",
    "SessionBusy": "orchcore.errors",
    "SessionState": "orchcore.state",
    "SessionSummary": "orchcore.records",
    "Snapshot": "orchcore.records",
    "StartTask": "orchcore.decide",
    "StoreError": "orchcore.errors",
    "Task": "orchcore.tasks",
    "TaskFileError": "orchcore.errors",
    "TaskGraph": "orchcore.graph",
    "TaskRun": "orchcore.records",
    "TaskState": "orchcore.state",
    "apply_command": "orchcore.commands",
    "decide": "orchcore.decide",
    "deliver_due": "orchcore.delivery",
    "notifications_for": "orchcore.notify",
    "parse_task_file": "orchcore.taskfile",
    "with_outbox": "orchcore.notify",
}

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
    "DeliveryPolicy",
    "DeliveryReport",
    "Engine",
    "Event",
    "EventKind",
    "Finish",
    "Gate",
    "Idle",
    "IllegalTransition",
    "Mutation",
    "NotFound",
    "Notification",
    "NotificationKind",
    "NotifyError",
    "OrchError",
    "OutboxEntry",
    "Outcome",
    "Plan",
    "Priority",
    "Problem",
    "Progress",
    "Routing",
    "RunOutcome",
    "RunTable",
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
    "deliver_due",
    "notifications_for",
    "parse_task_file",
    "with_outbox",
]


if not TYPE_CHECKING:  # mypy sees the imports above, so a misspelled name stays an error

    def __getattr__(name: str) -> Any:
        """Import public names on first use, so `import orchcore.x` stays cheap."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'orchcore' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)
