"""The composition root: settings in, wired adapters out. The only module that
imports adapters (import-linter enforces it); tests build a Runtime themselves.

Agents are found by name in one registry: the built-ins below, then the
``orchcore.adapters`` entry-point group (``agent.NAME = "pkg.module:factory"``),
so a user's agent is wired exactly like ours. A factory is called as
``factory(agent_config: dict, base_env: dict) -> Agent``. Notification channels
likewise: console, n8n and telegram, then ``notifier.NAME`` entry points called
as ``factory(notifications_config: dict) -> Notifier``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs

from orchcore.delivery import DeliveryPolicy
from orchcore.errors import AgentUnavailable, ConfigError, NotifyError
from orchcore.notify import Routing
from orchcore.sandbox import SandboxMode, SandboxPolicy, SandboxStatus, agent_sandbox

if TYPE_CHECKING:  # the engine, the ports and the settings are for annotations here: `orch status` loads none
    import httpx

    from adapters.telegram.client import TelegramClient
    from apps.settings import Settings
    from apps.status_files import StatusFiles
    from orchcore.attempt_check import AttemptChecker
    from orchcore.engine import Engine, Watcher
    from orchcore.parallel_drive import ParallelDrive, SlotParts
    from orchcore.ports.agent import Agent
    from orchcore.ports.charts import Charts
    from orchcore.ports.checkpoints import Checkpoints
    from orchcore.ports.clock import Clock, Ids
    from orchcore.ports.drafter import Drafter, DrafterUnavailable
    from orchcore.ports.executor import Executor
    from orchcore.ports.file_watch import FileWatcher, Watching
    from orchcore.ports.lessons import LessonStore
    from orchcore.ports.logs import TaskLogs
    from orchcore.ports.notifier import Notification, Notifier
    from orchcore.ports.questions import QuestionBox
    from orchcore.ports.store import Store
    from orchcore.ports.summarizer import Summary, SummaryRequest, SummaryUnavailable
    from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Supervisor, Verdict
    from orchcore.ports.worktrees import Worktrees
    from orchcore.records import AttemptProcess

ENTRY_POINT_GROUP = "orchcore.adapters"
BUILTIN_AGENTS: dict[str, str] = {
    "command": "adapters.command.agent:from_config",
    "claude": "adapters.claude_code.agent:from_config",
    "claude_code": "adapters.claude_code.agent:from_config",
    "codex": "adapters.codex.agent:from_config",
    "aider": "adapters.aider.agent:from_config",
}


BUILTIN_EXECUTORS: dict[str, str] = {
    "local": "adapters.process.executor:from_config",
    "ssh": "adapters.ssh.executor:from_config",
    "docker": "adapters.docker.executor:from_config",
}


def _entry_points() -> list[Any]:
    """Plugins registered by installed packages (looked up only for names not built in:
    importlib.metadata costs more to import than the rest of `orch status`)."""
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


AgentFactory = Callable[[Mapping[str, object], Mapping[str, str]], "Agent"]


def _load(target: str) -> AgentFactory:
    module_name, _, attr = target.partition(":")
    return cast(AgentFactory, getattr(importlib.import_module(module_name), attr))


def agent_factory(name: str) -> AgentFactory:
    """The factory registered for agent ``name``; AgentUnavailable lists the known names."""
    if name in BUILTIN_AGENTS:
        return _load(BUILTIN_AGENTS[name])
    found = {ep.name.removeprefix("agent."): ep for ep in _entry_points() if ep.name.startswith("agent.")}
    if name in found:
        return cast(AgentFactory, found[name].load())
    known = sorted({*BUILTIN_AGENTS, *found})
    raise AgentUnavailable(f"unknown agent {name!r}; known agents: {', '.join(known)}")


ExecutorFactory = Callable[[Mapping[str, object]], "Executor"]


def executor_factory(kind: str) -> ExecutorFactory:
    """The factory registered for executor ``kind`` (``executor.KIND`` entry points after the built-ins)."""
    if kind in BUILTIN_EXECUTORS:
        return cast(ExecutorFactory, _load(BUILTIN_EXECUTORS[kind]))
    found = {e.name.removeprefix("executor."): e for e in _entry_points() if e.name.startswith("executor.")}
    if kind in found:
        return cast(ExecutorFactory, found[kind].load())
    known = sorted({*BUILTIN_EXECUTORS, *found})
    raise AgentUnavailable(f"unknown executor {kind!r}; known executors: {', '.join(known)}")


def build_executor(settings: Settings) -> Executor:
    """The executor of ``agent.executor``, given orch's guard dir (carried to a remote host) and the
    workspace folders it must not copy (orch's own state, when it lives inside the workspace)."""
    from apps.settings import ExecutorSettings

    section = settings.agent.executor
    if section.kind not in ("local", "ssh"):  # docker or a plugin: the keys the user wrote, as written
        defaults = ExecutorSettings()
        given = {
            f.name: getattr(section, f.name)
            for f in attrs.fields(ExecutorSettings)
            if f.name not in ("options", "kind") and getattr(section, f.name) != getattr(defaults, f.name)
        }
        return executor_factory(section.kind)({"kind": section.kind, **given, **section.options})
    config: dict[str, Any] = attrs.asdict(section)
    del config["options"]
    for key in ("key_file", "known_hosts"):
        if config[key]:
            config[key] = str(settings.path(str(Path(config[key]).expanduser())))
    workdir = settings.path(settings.paths.workdir).resolve()
    state = settings.state_dir.resolve()
    config["guard_dir"] = str(state / "guards")
    config["exclude"] = [state.relative_to(workdir).as_posix()] if state.is_relative_to(workdir) else []
    return executor_factory(section.kind)(config)


def process_reaper(settings: Settings) -> Callable[[AttemptProcess], object]:
    """What kills a crashed attempt's leftovers: this machine's from /proc, another host's through
    the configured executor (its ``reap``), which connects only when there is something to reap."""
    from adapters.process import reap_attempt

    def reap(process: AttemptProcess) -> object:
        if not process.host:
            return reap_attempt(process)
        reaper = getattr(build_executor(settings), "reap", None)
        if reaper is None:
            log.warning(
                "an interrupted attempt ran on %s, and the %s executor cannot reap there",
                process.host,
                settings.agent.executor.kind,
            )
            return None
        return reaper(process)

    return reap


def _agent_on(factory: AgentFactory, name: str, settings: Settings, config: dict[str, Any]) -> Agent:
    """Agent ``name`` built to run through the configured executor (an agent factory takes one
    as its ``executor`` keyword; one that does not runs on this machine only)."""
    import inspect

    from apps.settings import agent_environment

    kind = settings.agent.executor.kind
    if kind == "local":
        return factory(config, agent_environment(settings))
    if "executor" not in inspect.signature(factory).parameters:
        raise AgentUnavailable(
            f"agent {name!r} runs on this machine only, not on executor {kind!r} (set agent.executor.kind: local)"
        )
    agent: Agent = cast(Any, factory)(config, agent_environment(settings), executor=build_executor(settings))
    return agent


@attrs.define
class Runtime:
    """Everything a front end needs, wired from settings."""

    settings: Settings
    store: Store
    logs: TaskLogs
    clock: Clock
    ids: Ids
    agents: Callable[[str], Agent]
    routing: Routing = attrs.field(factory=Routing)  # which notifications each commit queues
    # the notifier of each channel, built on first use: only the processes that send need them
    notifiers: Callable[[], Mapping[str, Notifier]] = attrs.field(default=dict)
    delivery: DeliveryPolicy = attrs.field(factory=DeliveryPolicy)
    closers: list[Callable[[], None]] = attrs.field(factory=list)
    # agent_status/TASK.json per task (status_files.enabled), or None
    status_files: StatusFiles | None = attrs.field(default=None)

    writes_state: bool = True  # False for read-only commands: nothing creates the state database
    _lessons: LessonStore | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.status_files is None:
            from apps.status_files import status_files_for

            self.status_files = status_files_for(self.settings)

    def engine(self, agent: Agent, watch: Watcher) -> Engine:
        from adapters.files.questions import FileQuestions
        from adapters.guards.workspace import GitWorkspace
        from apps.settings import agent_environment
        from orchcore.engine import Engine

        s = self.settings
        workdir = str(s.path(s.paths.workdir))
        safety = s.safety_policy()
        sandbox, sandbox_status = agent_sandbox_for(s)
        checker = self.attempt_checker(sandbox)
        return Engine(
            store=self.store,
            agent=agent,
            clock=self.clock,
            ids=self.ids,
            logs=self.logs,
            policy=s.approval_policy(),
            budget=s.budget_policy(),
            retry=s.retry_policy(),
            workdir=workdir,
            questions=FileQuestions(workdir),
            safety=safety,
            workspace=GitWorkspace(workdir, str(s.state_dir / "guards")) if safety.enabled else None,
            checkpoints=self.checkpoints() if s.max_parallel <= 1 else None,  # each worktree is its own undo
            agent_path=agent_environment(s).get("PATH", ""),
            timeout_s=s.agent.timeout_s,
            watch=watch,
            routing=self.routing,
            sandbox=sandbox,
            sandbox_status=sandbox_status,
            reap=process_reaper(s),
            checker=checker,
            prompter=checker.prompter,
            context_files=checker.runner,  # its read_text reads the context files a task names
            file_watcher=file_watcher_for(s),
            live_forbidden=s.supervisor.forbidden,
            parallel=self.parallel_drive(sandbox is not None, checker) if s.max_parallel > 1 else None,
            ended=self.session_ended,
            changed=self.status_files.update if self.status_files is not None else None,
        )

    def session_ended(self, session_id: str) -> None:
        """A session ended: write the day's report (docs/day-report.md); never raises."""
        from apps.warm_up import call_off

        call_off()  # its modules are imported by this thread alone from now on
        from apps.day_report import report_if_ended

        report_if_ended(self, session_id)

    def charts(self) -> Charts | None:
        """The report's charts (pygal, the ``report`` extra); None without it."""
        try:
            from adapters.charts import PygalCharts
        except ImportError as exc:
            log.info("no charts in the report: %s", exc)
            return None
        return PygalCharts()

    def summarize(
        self, request: SummaryRequest, environ: Mapping[str, str] | None = None
    ) -> Summary | SummaryUnavailable:
        """Ask the supervisor's Ollama model (host, model, key) for a summary, or say why not;
        the client is closed before this returns."""
        from apps.secrets import ollama_api_key
        from apps.settings import JudgeMode, proxy_environment
        from orchcore.ports.summarizer import SummaryUnavailable

        sv = self.settings.supervisor
        if sv.judge is JudgeMode.OFF:
            return SummaryUnavailable("the supervisor's model is off (supervisor.judge: off)")
        from adapters.ollama.reach import START_OLLAMA, nothing_listens
        from orchcore.redact import redact

        # no Ollama on this machine: say so without importing the client (~300 ms)
        if nothing_listens(sv.host, proxy_environment(environ)):
            where = f"Ollama at {redact(sv.host)}"
            return SummaryUnavailable(f"{where} is not reachable (connection refused)", hint=START_OLLAMA)
        try:
            from adapters.ollama import OllamaSummarizer, ollama_client
        except ImportError as exc:
            return SummaryUnavailable(f"the ollama client library is missing ({exc.name})", OLLAMA_EXTRA)
        key = ollama_api_key(self.settings, environ)
        client = ollama_client(sv.host, sv.timeout_s, api_key=None if key is None else key.reveal())
        summarizer = OllamaSummarizer(client, sv.model, host=sv.host)
        try:
            return summarizer.summarize(request)
        finally:
            summarizer.close()

    def parallel_drive(self, sandboxed: bool, checker: AttemptChecker) -> ParallelDrive:
        """``max_parallel`` above 1: each task in its own worktree, with guards, checks and a
        sandbox of its own (docs/parallel.md)."""
        from adapters.system.workers import ThreadWorkers
        from orchcore.parallel_drive import ParallelDrive

        s = self.settings
        return ParallelDrive(
            max_parallel=s.max_parallel,
            worktrees=self.worktrees(),
            workers=ThreadWorkers(),
            setup=s.worktrees.setup_plan(),
            port_base=s.worktrees.port_base,
            ports_per_task=s.worktrees.ports_per_task,
            parts=lambda path: self.worktree_parts(path, checker, sandboxed=sandboxed),
        )

    def worktree_parts(self, path: str, checker: AttemptChecker, *, sandboxed: bool) -> SlotParts:
        """What an attempt in the worktree at ``path`` gets: guards (their own refusals file),
        its question box, ``checker`` running the task's checks there, and a sandbox whose
        workspace it is (bubblewrap was probed when the run started)."""
        import hashlib

        from adapters.checks import ShellCheckRunner
        from adapters.files.questions import FileQuestions
        from adapters.guards.workspace import GitWorkspace
        from apps.settings import agent_environment
        from orchcore.parallel_drive import SlotParts

        s = self.settings
        guard_dir = s.state_dir / "guards" / "worktrees" / hashlib.sha256(path.encode()).hexdigest()[:16]
        safety = s.safety_policy()
        sandbox = sandbox_policy_for(s, workdir=Path(path), guard_dir=guard_dir) if sandboxed else None
        runner = ShellCheckRunner(path, env=agent_environment(s), log_path=str(s.state_dir / "checks.log"))
        return SlotParts(
            workspace=GitWorkspace(path, str(guard_dir)) if safety.enabled else None,
            questions=FileQuestions(path),
            checker=attrs.evolve(checker, runner=runner, sandbox=sandbox),
            context_files=runner,
            sandbox=sandbox,
        )

    def attempt_checker(self, sandbox: SandboxPolicy | None = None) -> AttemptChecker:
        """The supervisor of attempts: the task's checks run by the shell in the workspace (the
        agent's environment, never orch's secrets), and the judge, built on its first use."""
        from adapters.checks import ShellCheckRunner
        from apps.calibration_file import calibration_for
        from apps.feedback_files import lesson_texts
        from apps.prompt_files import prompter_for
        from apps.settings import JudgeMode, agent_environment
        from orchcore.attempt_check import AttemptChecker

        s = self.settings
        sv = s.supervisor
        runner = ShellCheckRunner(
            str(s.path(s.paths.workdir)), env=agent_environment(s), log_path=str(s.state_dir / "checks.log")
        )
        judge = _LazyJudge(self.supervisor) if sv.judge is not JudgeMode.OFF else None
        return AttemptChecker(
            runner,
            self.clock,
            sv.pipeline(calibration_for(s.calibration_path, sv.weights())),
            judge,
            sv.judge_types,
            every_task=sv.enabled,
            check_timeout_s=sv.check_timeout_s,
            count_tests_before=sv.count_tests_before,
            sandbox=sandbox,
            prompter=prompter_for(s, lessons=lesson_texts(self.lesson_store().lessons())),
        )

    def supervisor(self, environ: Mapping[str, str] | None = None) -> Supervisor | None:
        """The judge of attempts from ``supervisor:`` (closed with the runtime); None for ``judge: off``.

        Without the ``ollama`` library, a judge that is always unavailable and says how to install it.
        """
        from apps.secrets import ollama_api_key
        from apps.settings import JudgeMode

        sv = self.settings.supervisor
        if sv.judge is JudgeMode.OFF:
            return None
        try:
            from adapters.ollama import OllamaSupervisor, ollama_client
        except ImportError as exc:
            log.warning("the judge is unavailable: %s", exc)
            return _NoJudge(f"the ollama client library is missing ({exc.name})", OLLAMA_EXTRA)
        key = ollama_api_key(self.settings, environ)
        api_key = None if key is None else key.reveal()
        judge = OllamaSupervisor(
            ollama_client(sv.host, sv.timeout_s, api_key=api_key),
            sv.model,
            clock=self.clock,
            host=sv.host,
            retries=sv.retries,
            keep_alive=sv.keep_alive_value,
            max_num_ctx=sv.num_ctx,
            secrets=() if api_key is None else (api_key,),
        )
        self.closers.append(judge.close)
        return judge

    def drafter(self, environ: Mapping[str, str] | None = None) -> Drafter | DrafterUnavailable:
        """The model ``orch plan`` drafts with: the supervisor's Ollama host and model (closed with
        the runtime); DrafterUnavailable, saying how to install it, without the ``ollama`` library."""
        from apps.secrets import ollama_api_key
        from orchcore.ports.drafter import DrafterUnavailable

        sv = self.settings.supervisor
        try:
            from adapters.ollama import OllamaDrafter, ollama_client
        except ImportError as exc:
            return DrafterUnavailable(f"the ollama client library is missing ({exc.name})", OLLAMA_EXTRA)
        key = ollama_api_key(self.settings, environ)
        api_key = None if key is None else key.reveal()
        drafter = OllamaDrafter(
            ollama_client(sv.host, sv.timeout_s, api_key=api_key),
            sv.model,
            host=sv.host,
            num_ctx=sv.num_ctx,
            keep_alive=sv.keep_alive_value,
            secrets=() if api_key is None else (api_key,),
        )
        self.closers.append(drafter.close)
        return drafter

    def question_box(self) -> QuestionBox:
        """The question files of the workspace (``questions/TASK.md``, ``questions/TASK-answer.md``)."""
        from adapters.files.questions import FileQuestions

        return FileQuestions(str(self.settings.path(self.settings.paths.workdir)))

    def answer_watcher(self) -> FileWatcher | None:
        """What `orch run --wait` watches the question files with (None: watchfiles is not installed,
        and the files are looked at on each poll instead); on whatever ``watch:`` says."""
        try:
            from adapters.watch import WatchfilesWatcher
        except ImportError:
            return None
        return WatchfilesWatcher(debounce_ms=self.settings.watch.debounce_ms)

    def lesson_store(self) -> LessonStore:
        """The lessons learnt from feedback, in the state database (one per runtime, closed with it);
        in memory and empty while no state exists (a read-only command creates none)."""
        if self._lessons is None:
            from adapters.memory.lessons import InMemoryLessonStore
            from adapters.sqlite.lessons import SqliteLessonStore

            db = self.settings.db_path
            store: LessonStore = (
                SqliteLessonStore(db) if db.exists() or self.writes_state else InMemoryLessonStore()
            )
            self.closers.append(store.close)
            self._lessons = store
        return self._lessons

    def checkpoints(self) -> Checkpoints:
        """The workspace's checkpoints: a shadow git directory under the state dir."""
        from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
        from apps.settings import agent_environment

        s = self.settings
        workdir = str(s.path(s.paths.workdir))
        path = agent_environment(s).get("PATH") or "/usr/local/bin:/usr/bin:/bin"
        return ShadowGitCheckpoints(workdir, shadow_dir(str(s.state_dir), workdir), path=path)

    def worktrees(self) -> Worktrees:
        """The parallel tasks' git worktrees of the workspace, kept under the state dir."""
        from adapters.worktrees import GitWorktrees, worktrees_dir
        from apps.settings import agent_environment

        s = self.settings
        workdir = str(s.path(s.paths.workdir))
        return GitWorktrees(
            workdir, worktrees_dir(str(s.state_dir), workdir), environment=agent_environment(s)
        )

    def close(self) -> None:
        try:
            for close in reversed(self.closers):
                close()
        finally:
            self.store.close()


def file_watcher_for(settings: Settings) -> FileWatcher | None:
    """The live file watch of ``watch:`` (None when it is off or watchfiles is not installed)."""
    import importlib.util

    if not settings.watch.enabled:
        return None
    if any(importlib.util.find_spec(name) is None for name in ("watchfiles", "pathspec")):
        return None  # the `watch` extra is not installed: the checkpoints still see every change
    return _WatcherOnFirstUse(settings.watch.debounce_ms)


@attrs.define
class _WatcherOnFirstUse:
    """``WatchfilesWatcher``, imported (~60 ms) by the first watch: in a parallel run that is a
    task's own thread, while the others' worktrees are being made, not the run's start."""

    debounce_ms: int
    _made: FileWatcher | None = attrs.field(default=None, init=False)

    def watch(self, workdir: str) -> Watching:
        if self._made is None:
            from adapters.watch import WatchfilesWatcher

            self._made = WatchfilesWatcher(debounce_ms=self.debounce_ms)
        return self._made.watch(workdir)


def agent_sandbox_for(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[SandboxPolicy | None, SandboxStatus]:
    """The sandbox agents run in under ``settings``, and the line that says so.

    ``sandbox: off`` is honoured; ``auto`` falls back (loudly: a warning in the log
    and a session event) where bubblewrap cannot run; ``on`` refuses to start there.
    """
    from adapters.sandbox import probe_bwrap

    mode = settings.sandbox.mode
    if mode is SandboxMode.OFF:
        return None, SandboxStatus(False, "turned off in the config", wanted=False)
    executor = settings.agent.executor
    if executor.kind != "local":  # bubblewrap binds this machine's paths: meaningless elsewhere
        where = f"{executor.kind} host {executor.host}" if executor.host else f"the {executor.kind} executor"
        return None, SandboxStatus(False, f"agents run on {where}, which is their boundary", wanted=False)
    found, why = probe_bwrap()
    if found is None:
        if mode is SandboxMode.ON:
            raise AgentUnavailable(f"sandbox: on, but {why}")
        log.warning("agents run WITHOUT the OS sandbox: %s (set sandbox: off to say it is meant)", why)
        return None, SandboxStatus(False, why)
    policy = sandbox_policy_for(settings, environ)
    return policy, SandboxStatus(True, f"bubblewrap, network {settings.sandbox.network.value}")


def sandbox_policy_for(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    workdir: Path | None = None,
    guard_dir: Path | None = None,
) -> SandboxPolicy:
    """The bubblewrap policy of an agent in ``workdir`` (default: the user's tree; a parallel
    task's worktree otherwise) whose guards are in ``guard_dir``."""
    from adapters.guards.shim import REFUSALS_FILE
    from apps.secrets import dotenv_path
    from apps.settings import agent_environment
    from apps.settings_cache import cache_dir as settings_cache_dir

    user_tree = settings.path(settings.paths.workdir)
    workdir = workdir or user_tree  # a parallel task's worktree, or the user's tree
    guard_dir = guard_dir or settings.state_dir / "guards"
    refusals = (guard_dir / REFUSALS_FILE).parent
    # a worktree's git files (index, HEAD) are in the user's repository: git needs to write them
    git_dir = user_tree / ".git"
    git_files = [str(git_dir.resolve())] if workdir != user_tree and git_dir.is_dir() else []
    home = agent_environment(settings, environ).get("HOME")
    # the settings cache holds what the config says (sandbox, agent command): as hidden as the config
    orch_files = [settings.state_dir, dotenv_path(settings), user_tree / ".env", settings_cache_dir(environ)]
    if settings.source:
        orch_files.append(Path(settings.source))
    try:
        policy = agent_sandbox(
            workdir=str(workdir.resolve()),
            home=str(Path(home).resolve()) if home else None,
            orch_paths=[str(path.resolve()) for path in orch_files],
            guard_dir=str(guard_dir.resolve()),
            extra_hidden=settings.sandbox.hide,
            # the shims and git hooks record what they refused there (the rest of the guards stay read-only)
            writable_outside=[*settings.safety.writable_outside, str(refusals.resolve()), *git_files],
            network=settings.sandbox.network,
        )
    except ValueError as exc:
        raise ConfigError(f"sandbox: {exc}") from exc
    if workdir != user_tree:  # a worktree lies in the hidden state dir: shown again, writable
        policy = attrs.evolve(policy, readable=(*policy.readable, str(workdir.resolve())))
    return policy


def build_runtime(settings: Settings, *, read_only: bool = False, in_memory: bool = False) -> Runtime:
    """Wire the real adapters: SQLite state, file logs, the system clock.

    ``read_only`` (status, report, ...): with no state yet, an empty store in memory,
    so looking creates no state dir. ``in_memory`` (`orch doctor`): never open the state
    database (doctor reads its version without migrating it)."""
    from adapters.files.logs import FileLogs
    from adapters.sqlite.store import SqliteStore
    from adapters.system.clock import RandomIds, SystemClock

    def make_agent(name: str) -> Agent:
        config: dict[str, Any] = {**settings.agent.options, **attrs.asdict(settings.agent)}
        del config["options"]
        config["command"] = list(settings.agent.command)
        if settings.budget.prices:  # the agent prices its own usage: budget.prices, unless agent.prices
            config.setdefault("prices", settings.agent_prices())
        return _agent_on(agent_factory(name), name, settings, config)

    routing = settings.routing()  # a bad notifications.events fails here, before anything opens
    channels = Channels(settings)
    return Runtime(
        settings=settings,
        store=_empty_store()
        if in_memory
        else read_only_store(settings.db_path)
        if read_only
        else SqliteStore(str(settings.db_path)),
        logs=FileLogs(str(settings.logs_dir)),
        clock=SystemClock(),
        ids=RandomIds(),
        agents=make_agent,
        routing=routing,
        notifiers=channels.notifiers,
        delivery=settings.delivery_policy(),
        closers=[channels.close],
        writes_state=not read_only,
    )


def _empty_store() -> Store:
    """What a read-only command looks at before any state exists: nothing, in memory."""
    from adapters.memory.store import InMemoryStore

    return InMemoryStore()


def read_only_store(db_path: Path) -> Store:
    """The state database at ``db_path`` for a command that only reads (`orch status`'s quick
    path, which has no Runtime): an empty store in memory while there is none, as build_runtime."""
    if not db_path.exists():
        return _empty_store()
    from adapters.sqlite.store import SqliteStore

    return SqliteStore(str(db_path))


def telegram_api(token: str, http: httpx.Client, base_url: str | None = None) -> TelegramClient:
    """A Telegram Bot API client on ``http`` (the caller's, closed by the caller)."""
    from adapters.telegram.client import API_URL, TelegramClient

    return TelegramClient(token, http, base_url or API_URL)


def telegram_notifier(
    token: str, chat_ids: Sequence[int], http: httpx.Client, base_url: str | None = None
) -> Notifier:
    """A Notifier that sends to the Telegram chats ``chat_ids``."""
    from adapters.telegram.client import API_URL
    from adapters.telegram.notifier import TelegramNotifier

    return TelegramNotifier(token, chat_ids, http, base_url or API_URL)


BUILTIN_CHANNELS = ("console", "n8n", "telegram")
log = logging.getLogger("apps.bootstrap")


OLLAMA_EXTRA = "install orchcore-cli with its [ollama] extra, or: pipx inject orchcore-cli ollama"


@attrs.frozen
class _NoJudge:
    """Stands in for a judge that cannot be built: every attempt is judged by the gates alone."""

    reason: str
    hint: str = ""

    def context_window(self) -> int | None:
        return None

    def judge(self, request: JudgeRequest) -> Verdict | JudgeUnavailable:
        from orchcore.ports.supervisor import JudgeUnavailable

        return JudgeUnavailable(self.reason, self.hint)

    def probe(self) -> int | JudgeUnavailable:
        from orchcore.ports.supervisor import JudgeUnavailable

        return JudgeUnavailable(self.reason, self.hint)


@attrs.define
class _LazyJudge:
    """The runtime's judge, built when an attempt is first judged (most runs never load ollama)."""

    build: Callable[[], Supervisor | None]
    _judge: Supervisor | None = None

    def _get(self) -> Supervisor:
        if self._judge is None:
            self._judge = self.build() or _NoJudge("the judge is off")
        return self._judge

    def context_window(self) -> int | None:
        return self._get().context_window()

    def judge(self, request: JudgeRequest) -> Verdict | JudgeUnavailable:
        return self._get().judge(request)


@attrs.define
class _Unavailable:
    """Stands in for a channel that could not be built: its notifications wait in the outbox,
    and the reason is what `orch status` shows as their last error."""

    reason: str

    def send(self, notification: Notification) -> None:
        raise NotifyError(self.reason, retryable=True)


@attrs.define
class Channels:
    """The notifiers of the configured channels, built on first use and closed with the runtime.

    A channel that cannot be built (no URL, no token, unknown name) is logged and stands in
    as an unavailable notifier: a misconfigured channel never stops a run or the others.
    """

    settings: Settings
    environ: Mapping[str, str] | None = None
    problems: list[str] = attrs.field(factory=list)
    _built: dict[str, Notifier] | None = None
    _closers: list[Callable[[], None]] = attrs.field(factory=list)

    def notifiers(self) -> Mapping[str, Notifier]:
        if self._built is None:
            self._built = {}
            for name in dict.fromkeys(self.settings.notifications.channels):
                try:
                    self._built[name] = self._make(name)
                except ConfigError as exc:
                    problem = f"notifications: channel {name!r} is not available: {exc}"
                    log.error("%s", problem)  # noqa: TRY400 - a setting, not a bug: no traceback
                    self.problems.append(problem)
                    self._built[name] = _Unavailable(problem)
        return self._built

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def _client(self) -> httpx.Client:
        import httpx

        client = httpx.Client(timeout=self.settings.notifications.timeout_s)
        self._closers.append(client.close)
        return client

    def _make(self, name: str) -> Notifier:
        from apps import secrets

        n = self.settings.notifications
        if name == "console":
            from adapters.console.notifier import ConsoleNotifier

            if n.console_file is None:
                return ConsoleNotifier(sys.stderr)
            path = self.settings.path(n.console_file)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                stream = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"notifications.console_file: cannot open {path}: {exc.strerror}") from exc
            self._closers.append(stream.close)
            return ConsoleNotifier(stream)
        if name == "n8n":
            from adapters.n8n.notifier import N8nNotifier

            if not n.n8n_url:
                raise ConfigError("set notifications.n8n_url (or ORCH_N8N_URL) to the n8n webhook's URL")
            secret = secrets.n8n_secret(self.settings, self.environ)
            return N8nNotifier(n.n8n_url, self._client(), None if secret is None else secret.reveal())
        if name == "telegram":
            token = secrets.telegram_token(self.settings, self.environ)
            if token is None:
                raise ConfigError(f"no bot token: set {secrets.TELEGRAM_TOKEN} (environment or .env)")
            chat_ids = secrets.telegram_chat_ids(self.settings, self.environ)
            if not chat_ids:
                raise ConfigError(f"no chat to notify: set {secrets.TELEGRAM_CHAT_IDS} (environment or .env)")
            return telegram_notifier(token.reveal(), chat_ids, self._client(), n.telegram_api_url)
        found = {
            ep.name.removeprefix("notifier."): ep for ep in _entry_points() if ep.name.startswith("notifier.")
        }
        if name in found:
            factory = cast(Callable[[Mapping[str, object]], Notifier], found[name].load())
            return factory(attrs.asdict(n))
        known = sorted({*BUILTIN_CHANNELS, *found})
        raise ConfigError(f"unknown channel {name!r}; known channels: {', '.join(known)}")


# -- the Temporal runner (extra `temporal`): sessions as workflows, attempts on any worker ----------
def scratch_store() -> Store:
    """A store in memory, for a session planned here and kept elsewhere (a Temporal workflow)."""
    return _empty_store()


def _temporal_extra() -> None:
    """The Temporal runner's SDK is an extra: without it, one clear line, not a traceback."""
    import importlib.util

    if importlib.util.find_spec("temporalio") is None:
        raise ConfigError("Temporal sessions need the `temporal` extra: pip install 'orchcore-cli[temporal]'")


def temporal_sessions(address: str, task_queue: str | None = None) -> Any:
    """Sessions held by Temporal at ``address`` (adapters.temporal.runner.TemporalSessions)."""
    _temporal_extra()
    from adapters.temporal.runner import DEFAULT_TASK_QUEUE, TemporalSessions

    return TemporalSessions(address, task_queue=task_queue or DEFAULT_TASK_QUEUE)


def temporal_session_config(settings: Settings, routing: Routing) -> Any:
    """What a session workflow decides with, from the settings of the `orch run` that starts it."""
    _temporal_extra()
    from adapters.temporal.codec import SessionConfig

    return SessionConfig(
        approval=settings.approval_policy(),
        retry=settings.retry_policy(),
        budget=settings.budget_policy(),
        routing=routing,
        attempt_timeout_s=settings.agent.timeout_s,
        heartbeat_timeout_s=settings.temporal.heartbeat_timeout_s,
    )


def run_temporal_worker(
    rt: Runtime, address: str, task_queue: str | None = None, ready: Callable[[], None] | None = None
) -> None:
    """Run a worker for ``address`` until interrupted: each attempt with this machine's agent,
    executor, sandbox, guards and checkpoints (``Runtime.engine``, as a local run)."""
    _temporal_extra()
    from adapters.temporal.runner import DEFAULT_TASK_QUEUE, run_worker

    def engines(store: Store, agent_name: str, watch: Watcher) -> Engine:
        copy = attrs.evolve(rt, store=store, routing=Routing())  # the workflow queues notifications
        return copy.engine(rt.agents(agent_name or rt.settings.agent.name), watch)

    run_worker(
        address,
        engines,
        rt.notifiers,
        task_queue=task_queue or DEFAULT_TASK_QUEUE,
        max_attempts=rt.settings.temporal.max_attempts,
        ready=ready,
    )


@attrs.frozen
class HostProbes:
    """What `orch doctor` asks this machine (adapters.host, the sandbox, the state database),
    wired here like every other adapter."""

    command_version: Callable[[str, Sequence[str], Mapping[str, str] | None], tuple[str | None, str]]
    writable_problem: Callable[[Path], str | None]
    filesystem_type: Callable[[Path], str | None]
    port_problem: Callable[[str, int], str | None]
    unreachable: Callable[[str], str | None]
    time_zone_name: Callable[[], str | None]
    ntp_synchronised: Callable[[], bool | None]
    bwrap: Callable[[], tuple[str | None, str]]
    schema_version: Callable[[Path], int | None]
    expected_schema: int


def host_probes() -> HostProbes:
    """The real probes of this machine."""
    from adapters import host
    from adapters.sandbox import probe_bwrap
    from adapters.sqlite.backup import SCHEMA_VERSION, schema_version

    return HostProbes(
        command_version=host.command_version,
        writable_problem=host.writable_problem,
        filesystem_type=host.filesystem_type,
        port_problem=host.port_problem,
        unreachable=host.unreachable,
        time_zone_name=host.time_zone_name,
        ntp_synchronised=host.ntp_synchronised,
        bwrap=probe_bwrap,
        schema_version=schema_version,
        expected_schema=SCHEMA_VERSION,
    )


def backup_state(settings: Settings, dest: Path) -> tuple[str, int, int, int]:
    """An online, verified copy of the state database at ``dest``: (path, bytes, schema, sessions)."""
    from adapters.sqlite.backup import backup_database

    done = backup_database(settings.db_path, dest)
    return done.path, done.size_bytes, done.schema, done.sessions
