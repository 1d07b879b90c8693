"""Checked by ``mypy tests/typing``: a line fails to type-check if its adapter drifts from the port.

One function per adapter (mypy refuses to redefine ``_`` within one scope); none is ever called.
"""

import sys

import httpx

from adapters.aider import AiderAgent
from adapters.charts import PygalCharts
from adapters.checkpoint import ShadowGitCheckpoints
from adapters.checks import ShellCheckRunner
from adapters.codex import CodexAgent
from adapters.console.notifier import ConsoleNotifier
from adapters.guards.workspace import GitWorkspace
from adapters.memory.store import InMemoryStore
from adapters.n8n.notifier import N8nNotifier
from adapters.ollama import OllamaSummarizer, OllamaSupervisor, ollama_client
from adapters.process.executor import LocalExecutor
from adapters.sqlite import SqliteStore
from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from adapters.system.workers import ThreadWorkers
from adapters.telegram import TelegramNotifier
from adapters.worktrees import GitWorktrees
from orchcore.ports import (
    Charts,
    Checkpoints,
    CheckRunner,
    Executor,
    Store,
    Summarizer,
    Supervisor,
    Workspace,
)
from orchcore.ports.agent import Agent
from orchcore.ports.notifier import Notifier
from orchcore.ports.workers import Workers
from orchcore.ports.worktrees import Worktrees
from orchcore.records import Snapshot


def _shadow_git_checkpoints(workdir: str, shadow: str) -> None:
    _: Checkpoints = ShadowGitCheckpoints(workdir, shadow)


def _in_memory_store() -> None:
    _: Store = InMemoryStore()


def _sqlite_store(path: str) -> None:
    _: Store = SqliteStore(path)


def _telegram_notifier(client: httpx.Client) -> None:
    _: Notifier = TelegramNotifier("token", [1], client)


def _n8n_notifier(client: httpx.Client) -> None:
    _: Notifier = N8nNotifier("http://127.0.0.1:5678/webhook/orch", client, "secret")


def _console_notifier() -> None:
    _: Notifier = ConsoleNotifier(sys.stderr)


def _recording_notifier() -> None:
    from orchcore.testing import RecordingNotifier

    _: Notifier = RecordingNotifier()


def _git_workspace(workdir: str, guard_dir: str) -> None:
    _: Workspace = GitWorkspace(workdir, guard_dir)


def _ollama_supervisor() -> None:
    from orchcore.testing import FakeClock

    _: Supervisor = OllamaSupervisor(ollama_client("http://127.0.0.1:11434", 60.0), clock=FakeClock())


def _scripted_supervisor() -> None:
    from orchcore.testing import ScriptedSupervisor

    _: Supervisor = ScriptedSupervisor()


def _shell_check_runner(workdir: str) -> None:
    _: CheckRunner = ShellCheckRunner(workdir, env={}, log_path="checks.log")


def _codex_agent() -> None:
    _: Agent = CodexAgent()


def _docker_executor() -> None:
    from adapters.docker.config import DockerConfig
    from adapters.docker.executor import DockerExecutor
    from orchcore.ports.executor import Executor

    _: Executor = DockerExecutor(DockerConfig(image="my-agent:1"))


def _local_executor() -> None:
    _: Executor = LocalExecutor()


def _ssh_executor() -> None:
    _: Executor = SshExecutor(SshTarget("vm1", "dev"), remote_dir=".orch-work")


def _git_worktrees() -> None:
    _: Worktrees = GitWorktrees("/repo", "/state/worktrees/repo")


def _thread_workers() -> None:
    _: Workers = ThreadWorkers()


def _aider_agent() -> None:
    _: Agent = AiderAgent()


def _pygal_charts() -> None:
    _: Charts = PygalCharts()


def _ollama_summarizer() -> None:
    _: Summarizer = OllamaSummarizer(ollama_client("http://127.0.0.1:11434", 5.0))


def _ollama_drafter() -> None:
    from adapters.ollama import OllamaDrafter
    from orchcore.ports.drafter import Drafter
    from orchcore.testing import ScriptedDrafter

    _: Drafter = OllamaDrafter(ollama_client("http://127.0.0.1:11434", 60.0))
    __: Drafter = ScriptedDrafter()


def _temporal_session_copy(snap: Snapshot) -> None:
    from adapters.temporal.attempt_copy import SessionCopy

    _: Store = SessionCopy(snap)  # the store a Temporal worker runs one attempt's engine on
