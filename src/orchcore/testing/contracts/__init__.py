"""One contract suite per port: subclass ``<Port>Contract`` and override its ``make_<port>`` fixture."""

from __future__ import annotations

from orchcore.testing.contracts.agent import AgentContract, AgentFactory
from orchcore.testing.contracts.charts import ChartsContract
from orchcore.testing.contracts.checkpoints import CheckpointsContract, CheckpointsFactory, GitRunner
from orchcore.testing.contracts.checks import CheckRunnerContract, CheckRunnerFactory
from orchcore.testing.contracts.clock import ClockContract, IdsContract
from orchcore.testing.contracts.drafter import DrafterContract, DrafterFactory
from orchcore.testing.contracts.executor import ExecutorContract, ExecutorFactory, RunningCounter
from orchcore.testing.contracts.file_watch import FileWatcherContract
from orchcore.testing.contracts.lessons import LessonStoreContract, LessonStoreFactory
from orchcore.testing.contracts.logs import LogsFactory, TaskLogsContract
from orchcore.testing.contracts.notifier import NotifierContract, NotifierFactory, NotifierRig
from orchcore.testing.contracts.outbox import OutboxContract
from orchcore.testing.contracts.questions import QuestionBoxContract, QuestionBoxFactory
from orchcore.testing.contracts.store import StoreContract, StoreFactory, StoreModelMachine
from orchcore.testing.contracts.summarizer import SummarizerContract, SummarizerFactory
from orchcore.testing.contracts.supervisor import SupervisorContract, SupervisorFactory
from orchcore.testing.contracts.workers import WorkersContract, WorkersFactory
from orchcore.testing.contracts.workspace import WorkspaceContract, WorkspaceFactory
from orchcore.testing.contracts.worktrees import WorktreesContract, WorktreesFactory

ALL_CONTRACTS: tuple[type, ...] = (
    AgentContract,
    ChartsContract,
    CheckRunnerContract,
    CheckpointsContract,
    ClockContract,
    DrafterContract,
    FileWatcherContract,
    ExecutorContract,
    IdsContract,
    LessonStoreContract,
    NotifierContract,
    QuestionBoxContract,
    StoreContract,
    SummarizerContract,
    SupervisorContract,
    TaskLogsContract,
    WorkersContract,
    WorkspaceContract,
    WorktreesContract,
)

__all__ = [
    "ALL_CONTRACTS",
    "AgentContract",
    "AgentFactory",
    "ChartsContract",
    "CheckRunnerContract",
    "CheckRunnerFactory",
    "CheckpointsContract",
    "CheckpointsFactory",
    "ClockContract",
    "DrafterContract",
    "DrafterFactory",
    "ExecutorContract",
    "ExecutorFactory",
    "FileWatcherContract",
    "GitRunner",
    "IdsContract",
    "LessonStoreContract",
    "LessonStoreFactory",
    "LogsFactory",
    "NotifierContract",
    "NotifierFactory",
    "NotifierRig",
    "OutboxContract",
    "QuestionBoxContract",
    "QuestionBoxFactory",
    "RunningCounter",
    "StoreContract",
    "StoreFactory",
    "StoreModelMachine",
    "SummarizerContract",
    "SummarizerFactory",
    "SupervisorContract",
    "SupervisorFactory",
    "TaskLogsContract",
    "WorkersContract",
    "WorkersFactory",
    "WorkspaceContract",
    "WorkspaceFactory",
    "WorktreesContract",
    "WorktreesFactory",
]
