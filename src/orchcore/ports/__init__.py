"""The ports: what orchcore needs from the outside world, as typing.Protocols.

Adapters fill them without inheriting from them; ``orchcore.testing`` ships one
contract suite per port that any adapter (ours or a user's) can run.
"""

from __future__ import annotations

from orchcore.ports.agent import Agent, AgentEvent, AgentRequest, AgentResult, EventSink
from orchcore.ports.checkpoints import Checkpoint, Checkpoints, FileChange, Moment
from orchcore.ports.checks import CheckRunner
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.ports.notifier import Notification, NotificationKind, Notifier
from orchcore.ports.questions import QuestionBox
from orchcore.ports.store import Store
from orchcore.ports.supervisor import (
    CriterionVerdict,
    Judgement,
    JudgeRequest,
    JudgeUnavailable,
    Supervisor,
    Verdict,
)
from orchcore.ports.workspace import Workspace

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentRequest",
    "AgentResult",
    "CheckRunner",
    "Checkpoint",
    "Checkpoints",
    "Clock",
    "CriterionVerdict",
    "EventSink",
    "FileChange",
    "Ids",
    "JudgeRequest",
    "JudgeUnavailable",
    "Judgement",
    "Moment",
    "Notification",
    "NotificationKind",
    "Notifier",
    "QuestionBox",
    "Store",
    "Supervisor",
    "TaskLogs",
    "Verdict",
    "Workspace",
]
