"""The ports: what orchcore needs from the outside world, as typing.Protocols.

Adapters fill them without inheriting from them; ``orchcore.testing`` ships one
contract suite per port that any adapter (ours or a user's) can run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchcore.ports.agent import Agent, AgentEvent, AgentRequest, AgentResult, EventSink
    from orchcore.ports.charts import Charts, TimeBar
    from orchcore.ports.checkpoints import Checkpoint, Checkpoints, FileChange, Moment
    from orchcore.ports.checks import CheckRunner
    from orchcore.ports.clock import Clock, Ids
    from orchcore.ports.drafter import Draft, Drafter, DrafterUnavailable, DraftRequest
    from orchcore.ports.executor import ExecFile, ExecResult, ExecSpec, Executor
    from orchcore.ports.file_watch import ChangeKind, FileWatcher, SeenChange
    from orchcore.ports.lessons import Lesson, LessonStore, NewLesson
    from orchcore.ports.logs import TaskLogs
    from orchcore.ports.notifier import Notification, NotificationKind, Notifier
    from orchcore.ports.questions import QuestionBox
    from orchcore.ports.store import Store
    from orchcore.ports.summarizer import Summarizer, Summary, SummaryRequest, SummaryUnavailable
    from orchcore.ports.supervisor import (
        CriterionVerdict,
        Judgement,
        JudgeRequest,
        JudgeUnavailable,
        Supervisor,
        Verdict,
    )
    from orchcore.ports.workers import Workers
    from orchcore.ports.workspace import Workspace
    from orchcore.ports.worktrees import Applied, PortRange, Worktree, Worktrees, WorktreeSetup

# public name -> its module, imported on first use: `from orchcore.ports.clock import Clock`
# then costs one small module, not every port and the safety policy the Agent port names
_EXPORTS: dict[str, str] = {
    "Agent": "orchcore.ports.agent",
    "Applied": "orchcore.ports.worktrees",
    "AgentEvent": "orchcore.ports.agent",
    "AgentRequest": "orchcore.ports.agent",
    "AgentResult": "orchcore.ports.agent",
    "ChangeKind": "orchcore.ports.file_watch",
    "Charts": "orchcore.ports.charts",
    "CheckRunner": "orchcore.ports.checks",
    "Checkpoint": "orchcore.ports.checkpoints",
    "Checkpoints": "orchcore.ports.checkpoints",
    "Clock": "orchcore.ports.clock",
    "CriterionVerdict": "orchcore.ports.supervisor",
    "Draft": "orchcore.ports.drafter",
    "DraftRequest": "orchcore.ports.drafter",
    "Drafter": "orchcore.ports.drafter",
    "DrafterUnavailable": "orchcore.ports.drafter",
    "EventSink": "orchcore.ports.agent",
    "ExecFile": "orchcore.ports.executor",
    "ExecResult": "orchcore.ports.executor",
    "ExecSpec": "orchcore.ports.executor",
    "Executor": "orchcore.ports.executor",
    "FileChange": "orchcore.ports.checkpoints",
    "FileWatcher": "orchcore.ports.file_watch",
    "Ids": "orchcore.ports.clock",
    "JudgeRequest": "orchcore.ports.supervisor",
    "JudgeUnavailable": "orchcore.ports.supervisor",
    "Judgement": "orchcore.ports.supervisor",
    "Lesson": "orchcore.ports.lessons",
    "LessonStore": "orchcore.ports.lessons",
    "Moment": "orchcore.ports.checkpoints",
    "NewLesson": "orchcore.ports.lessons",
    "Notification": "orchcore.ports.notifier",
    "NotificationKind": "orchcore.ports.notifier",
    "Notifier": "orchcore.ports.notifier",
    "PortRange": "orchcore.ports.worktrees",
    "QuestionBox": "orchcore.ports.questions",
    "SeenChange": "orchcore.ports.file_watch",
    "Store": "orchcore.ports.store",
    "Summarizer": "orchcore.ports.summarizer",
    "Summary": "orchcore.ports.summarizer",
    "SummaryRequest": "orchcore.ports.summarizer",
    "SummaryUnavailable": "orchcore.ports.summarizer",
    "Supervisor": "orchcore.ports.supervisor",
    "TaskLogs": "orchcore.ports.logs",
    "TimeBar": "orchcore.ports.charts",
    "Verdict": "orchcore.ports.supervisor",
    "Workers": "orchcore.ports.workers",
    "Workspace": "orchcore.ports.workspace",
    "Worktree": "orchcore.ports.worktrees",
    "WorktreeSetup": "orchcore.ports.worktrees",
    "Worktrees": "orchcore.ports.worktrees",
}

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentRequest",
    "AgentResult",
    "Applied",
    "ChangeKind",
    "Charts",
    "CheckRunner",
    "Checkpoint",
    "Checkpoints",
    "Clock",
    "CriterionVerdict",
    "Draft",
    "DraftRequest",
    "Drafter",
    "DrafterUnavailable",
    "EventSink",
    "ExecFile",
    "ExecResult",
    "ExecSpec",
    "Executor",
    "FileChange",
    "FileWatcher",
    "Ids",
    "JudgeRequest",
    "JudgeUnavailable",
    "Judgement",
    "Lesson",
    "LessonStore",
    "Moment",
    "NewLesson",
    "Notification",
    "NotificationKind",
    "Notifier",
    "PortRange",
    "QuestionBox",
    "SeenChange",
    "Store",
    "Summarizer",
    "Summary",
    "SummaryRequest",
    "SummaryUnavailable",
    "Supervisor",
    "TaskLogs",
    "TimeBar",
    "Verdict",
    "Workers",
    "Workspace",
    "Worktree",
    "WorktreeSetup",
    "Worktrees",
]


if not TYPE_CHECKING:  # mypy sees the imports above, so a misspelled name stays an error

    def __getattr__(name: str) -> Any:
        """Import public names on first use, so `import orchcore.ports.x` stays cheap."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'orchcore.ports' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)
