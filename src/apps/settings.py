"""Settings: one frozen tree, loaded from a YAML file plus ``ORCH_*`` environment
variables. The only module that reads the environment.

    approval:  {mode: required|auto|manual, checkpoint_after: [types], auto_approve: [types]}
    paths:     {state_dir: <per-user state dir>, workdir: ., tasks_dir: tasks}
    logging:   {level: WARNING, file: null}
    agent:     {name: command, command: [...], timeout_s: 1800, idle_timeout_s: null,
                env_passthrough: [NAMES], max_attempts: 3, retry_delay_s: 30,
                max_retry_delay_s: 600, ...keys of the chosen agent}
    budget:    {max_daily_cost_usd: null, warn_at: 0.75, max_task_cost_usd: null,
                timezone: local, prices: {MODEL_PREFIX: {input, output, cache_write, cache_read}}}
    sandbox:   auto|on|off, or {mode: auto|on|off, network: open|closed, hide: [PATHS]}
    notifications: {channels: [console, n8n, telegram], events: [default], n8n_url: null,
                console_file: null, telegram_api_url: null, timeout_s: 10, retry_delay_s: 2,
                max_retry_delay_s: 300, give_up_after_h: 24, max_attempts: null, interval_s: 1}
    supervisor: {judge: ollama|off, host: http://127.0.0.1:11434 ($OLLAMA_HOST), model: qwen2.5-coder:32b,
                timeout_s: 120, retries: 2, judge_types: [types; none: all], keep_alive: 10m, num_ctx: null,
                enabled: false, checks: {TYPE|"*": [commands]}, check_timeout_s: 600, max_fix_attempts: 2,
                count_tests_before: false, breakpoints: [{name, kind, ...}],
                scope: {TYPE|"*": [globs]}, forbidden: ["**/migrations/**"],
                confidence: {weights: {validator, checks, gates, judge, claims, diff_size, safety,
                prior, failure_factor}, calibration_file: <state dir>/calibration.json}}
    report:    {dir: results, summary: true} (the day's report: docs/day-report.md)
    status_files: {enabled: false, dir: agent_status} (TASK.json per task: docs/status-json.md)
    max_parallel: 1 (tasks at once; above 1 each runs in its own git worktree: docs/parallel.md)
    worktrees: {copy: [.env, config/local.yml], setup: [npm ci], setup_timeout_s: 600,
                port_base: 20000, ports_per_task: 10}

Relative paths are relative to the config file's folder (or the current folder
when there is no file).
"""

from __future__ import annotations

import enum
import functools
import os
import re
import shlex
from collections.abc import Mapping
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from apps.settings_lookup import (
    ENV_PREFIX,
    LEGACY_STATE_DIR,
    find_config,
    in_git_repository,
    legacy_state_dir,
    state_dir_of,
)
from orchcore.budget import BudgetPolicy
from orchcore.delivery import DeliveryPolicy
from orchcore.errors import ConfigError
from orchcore.notify import DEFAULT_KINDS, Routing
from orchcore.policy import ApprovalMode, ApprovalPolicy, RetryPolicy
from orchcore.ports.notifier import NotificationKind
from orchcore.ports.worktrees import WorktreeSetup
from orchcore.sandbox import Network, SandboxMode

if TYPE_CHECKING:
    import cattrs

    from orchcore.safety import SafetyPolicy
    from orchcore.supervise import Calibration, ConfidenceWeights, SupervisorConfig

# what every agent gets from the orchestrator's environment; nothing secret
BASE_ENV_NAMES = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "SHELL",
    "TMPDIR",
    "TZ",
)


def _commands_by_type(value: object) -> dict[str, tuple[str, ...]]:
    """``{testing: [python -m pytest -q]}``; a single string is one command (its commas are its own)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a mapping of task types to lists, found {value!r}")
    return {
        str(k).strip().lower(): (str(v).strip(),) if isinstance(v, str) else tuple(str(c) for c in v or ())
        for k, v in value.items()
    }


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(f"expected a list of names, found {value!r}")


def _command(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(shlex.split(value))
    if isinstance(value, list | tuple):
        odd = [v for v in value if not isinstance(v, str | int | float) or isinstance(v, bool)]
        if odd:
            # YAML reads `[true]` as a boolean: ask for quotes rather than run "True"
            raise TypeError(
                f"agent.command: {odd[0]!r} is not a word; quote it, e.g. ['{str(odd[0]).lower()}']"
            )
        return tuple(str(v) for v in value)
    raise TypeError(f"expected a command (string or list), found {value!r}")


@attrs.frozen
class ApprovalSettings:
    mode: ApprovalMode = ApprovalMode.REQUIRED
    checkpoint_after: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    auto_approve: tuple[str, ...] = attrs.field(default=(), converter=_strings)


def _setup_commands(value: object) -> tuple[str, ...]:
    """``setup: npm ci`` is one command; a list is several, run in order."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(f"expected a command or a list of commands, found {value!r}")


@attrs.frozen
class WorktreeSettings:
    """How a parallel task's worktree is set up: files copied from your tree (they are never
    committed), setup commands run in it, and the port ranges handed out as ORCH_PORT_BASE."""

    copy: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    setup: tuple[str, ...] = attrs.field(default=(), converter=_setup_commands)
    setup_timeout_s: float = 600.0
    port_base: int = 20000
    ports_per_task: int = 10

    def setup_plan(self) -> WorktreeSetup:
        """What the Worktrees port does to a new worktree."""
        return WorktreeSetup(copy=self.copy, commands=self.setup, timeout_s=self.setup_timeout_s)


@attrs.frozen
class PathSettings:
    state_dir: str = ""  # "": one folder per project under the user's state dir (default_state_dir)
    workdir: str = "."
    tasks_dir: str = "tasks"
    rules_dir: str = ".orch-rules"  # house rules for every prompt (orch init writes starters)
    templates_dir: str = ""  # the project's prompt templates ("": <rules_dir>/templates)


@attrs.frozen
class LoggingSettings:
    level: str = "WARNING"
    file: str | None = None


@attrs.frozen
class ExecutorSettings:
    """Where the agent's command runs: ``local`` (this machine), ``ssh`` (a host; see
    docs/agents/executors.md), ``docker`` (a container; docs/agents/docker.md) or a plugin's kind."""

    kind: str = "local"
    host: str = ""
    user: str = ""
    port: int = 22
    key_file: str | None = None  # else the ssh agent's keys, then ~/.ssh/id_*
    known_hosts: str | None = None  # default ~/.ssh/known_hosts; host keys are always checked
    remote_dir: str = ".orch-work"  # on the host, relative to the user's home unless absolute
    sync: bool = True  # false: remote_dir already is the workspace on the host
    guard_python: str | None = None  # a Python on the host with orchcore-cli: runs the PATH shims there
    connect_attempts: int = 4
    # keys only the chosen kind knows (docker: image, network, memory, ...): passed to its factory
    options: dict[str, Any] = attrs.field(factory=dict)


EXECUTOR_NEEDS: dict[str, tuple[str, ...]] = {"local": (), "ssh": ("host", "user")}
"""The keys each built-in executor kind must be given."""


@attrs.frozen
class AgentSettings:
    name: str = "command"
    command: tuple[str, ...] = attrs.field(default=(), converter=_command)
    timeout_s: float = 1800.0
    idle_timeout_s: float | None = None
    env_passthrough: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    max_attempts: int = 3  # for transient failures (rate limits, overload, 5xx, network)
    retry_delay_s: float = 30.0  # doubles per attempt
    max_retry_delay_s: float = 600.0
    executor: ExecutorSettings = attrs.field(factory=ExecutorSettings)
    context_tokens: int = 32_000  # the task prompt's budget (house rules, context files, feedback)
    # keys only the chosen agent knows (executable, model, base_url, ...): passed to its factory
    options: dict[str, Any] = attrs.field(factory=dict)


_CLAUDE_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)
# what each agent needs from the environment, besides the basics (its own credentials)
AGENT_ENV_NAMES: dict[str, tuple[str, ...]] = dict.fromkeys(("claude", "claude_code"), _CLAUDE_ENV)
AGENT_ENV_NAMES["codex"] = ("OPENAI_API_KEY",)
AGENT_ENV_NAMES["gemini"] = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")
AGENT_ENV_NAMES["aider"] = ("OPENAI_API_KEY",)


@attrs.frozen
class PriceSettings:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


@attrs.frozen
class BudgetSettings:
    max_daily_cost_usd: Decimal | None = None
    warn_at: Decimal = Decimal("0.75")
    max_task_cost_usd: Decimal | None = None
    timezone: str = "local"  # an IANA name such as Europe/Berlin, "UTC", or "local"
    prices: dict[str, PriceSettings] = attrs.field(factory=dict)


@attrs.frozen
class NotificationSettings:
    """Where notifications go (``channels``: notifier names) and which (``events``: kinds,
    ``default`` = all but task_started, ``all``). Secrets come from apps.secrets."""

    channels: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    events: tuple[str, ...] = attrs.field(default=("default",), converter=_strings)
    n8n_url: str | None = None
    console_file: str | None = None  # None: stderr
    telegram_api_url: str | None = None  # None: https://api.telegram.org
    timeout_s: float = 10.0  # per send; a receiver that hangs never holds the sender longer
    retry_delay_s: float = 2.0  # doubles per attempt
    max_retry_delay_s: float = 300.0
    give_up_after_h: float = 24.0
    max_attempts: int | None = None
    interval_s: float = 1.0  # how often the sender looks for due notifications


@attrs.frozen
class SafetySettings:
    enabled: bool = True  # off only for a throwaway sandbox: agents could then commit and push
    forbidden: tuple[str, ...] = attrs.field(
        default=(), converter=_strings
    )  # extra prefixes: "terraform apply"
    writable_outside: tuple[str, ...] = attrs.field(
        default=(), converter=_strings
    )  # absolute dirs, e.g. /tmp


def _sandbox_mode(value: object, _: object) -> SandboxMode:
    if isinstance(value, bool):  # YAML 1.1 reads a bare on/off as a boolean
        return SandboxMode.ON if value else SandboxMode.OFF
    try:
        return SandboxMode(str(value).strip().lower())
    except ValueError:
        raise TypeError(f"expected auto, on or off, found {value!r}") from None


@attrs.frozen
class SandboxSettings:
    """The agents' OS sandbox: ``auto`` uses it where bubblewrap works (and says so where not)."""

    mode: SandboxMode = SandboxMode.AUTO
    network: Network = Network.OPEN
    hide: tuple[str, ...] = attrs.field(default=(), converter=_strings)  # more secrets: ~/x or /abs


class JudgeMode(enum.StrEnum):
    """Which judge reads each attempt after the gates: a local LLM through Ollama, or none."""

    OLLAMA = "ollama"
    OFF = "off"


def _judge_mode(value: object, _: object) -> JudgeMode:
    if isinstance(value, bool):  # YAML 1.1 reads a bare on/off as a boolean
        return JudgeMode.OLLAMA if value else JudgeMode.OFF
    return JudgeMode(str(value).strip().lower())


_DURATION = re.compile(r"^-?(\d+(\.\d+)?|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")  # seconds, or Go's 1h30m


@attrs.frozen
class WeightSettings:
    """``supervisor.confidence.weights``: how much each signal counts (unset: the default of
    orchcore.supervise.ConfidenceWeights; docs/supervisor.md lists them)."""

    validator: float | None = None
    checks: float | None = None
    gates: float | None = None
    judge: float | None = None
    claims: float | None = None
    diff_size: float | None = None
    safety: float | None = None
    prior: float | None = None
    failure_factor: float | None = None


@attrs.frozen
class ConfidenceSettings:
    """``supervisor.confidence``: the scorer's weights, and where ``orch calibrate`` keeps its fit
    ("": ``calibration.json`` in the state dir)."""

    weights: WeightSettings = attrs.field(factory=WeightSettings)
    calibration_file: str = ""


@attrs.frozen
class SupervisorSettings:
    """The judge of attempts (Supervisor port). ``timeout_s`` is how long the answer may make
    no progress (it must cover loading the model); ``judge_types`` empty: every type."""

    judge: JudgeMode = JudgeMode.OLLAMA
    host: str = "http://127.0.0.1:11434"
    model: str = "qwen2.5-coder:32b"
    timeout_s: float = 120.0
    retries: int = 2
    judge_types: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    keep_alive: str = "10m"  # how long Ollama keeps the model loaded after a verdict: 10m, 1h, 0, -1
    num_ctx: int | None = None  # at most this context (None: the model's own window from /api/show)
    enabled: bool = False  # check every task's attempts (a task with `checks:` is always checked)
    checks: dict[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_commands_by_type)
    """Gate commands per task type (``"*"``: every type), run after the task's own ``checks:``."""
    check_timeout_s: float = 600.0  # each check command's own timeout
    max_fix_attempts: int = 2  # retries with feedback before a task stops for review
    count_tests_before: bool = False  # run the checks before a task's first attempt too (tests-kept counts)
    scope: dict[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_commands_by_type)
    """Globs a task type's changes must stay within (``"*"``: any other type); none: unrestricted."""
    forbidden: tuple[str, ...] = attrs.field(default=("**/migrations/**",), converter=_strings)
    """Globs no attempt may change without a human's review."""
    breakpoints: list[dict[str, Any]] | None = None
    """Rules that stop a finished attempt for review, in order (None: the defaults), each
    ``{name, kind, threshold, lines, globs, types}`` as in docs/supervisor-pipeline.md."""
    confidence: ConfidenceSettings = attrs.field(factory=ConfidenceSettings)

    def pipeline(self, calibration: Calibration | None = None) -> SupervisorConfig:
        """The pure pipeline's configuration from these keys (defaults for the rest), with the
        ``calibration`` read from its file (None: the identity)."""
        from orchcore.supervise import (
            DEFAULT_BREAKPOINTS,
            IDENTITY,
            BreakpointRule,
            DecisionConfig,
            GateConfig,
            SupervisorConfig,
        )

        rules: tuple[BreakpointRule, ...] = DEFAULT_BREAKPOINTS
        if self.breakpoints is not None:
            rules = tuple(
                BreakpointRule(str(rule["name"]), rule["kind"], **_rule_parameters(rule))
                for rule in self.breakpoints
            )
        return SupervisorConfig(
            gates=GateConfig(scope_by_type=dict(self.scope), forbidden=self.forbidden),
            decision=DecisionConfig(max_fix_attempts=self.max_fix_attempts),
            breakpoints=rules,
            checks_by_type=dict(self.checks),
            weights=self.weights(),
            calibration=IDENTITY if calibration is None else calibration,
        )

    def weights(self) -> ConfidenceWeights:
        """The confidence scorer's weights: the configured ones over the defaults."""
        from orchcore.supervise import ConfidenceWeights

        given = {k: v for k, v in attrs.asdict(self.confidence.weights).items() if v is not None}
        return ConfidenceWeights(**given)

    def judges(self, task_type: str | None) -> bool:
        """Whether a task of ``task_type`` is judged (the judge is on and the type is listed, or none are)."""
        if self.judge is JudgeMode.OFF:
            return False
        return not self.judge_types or (task_type or "") in self.judge_types

    @property
    def keep_alive_value(self) -> str | float:
        """``keep_alive`` as Ollama reads it: a bare number is seconds, anything else a Go duration."""
        text = str(self.keep_alive).strip()
        try:
            return float(text)
        except ValueError:
            return text


@attrs.frozen
class WatchSettings:
    """Live file tracking while an agent works (watchfiles, the ``watch`` extra): on by default
    where it is installed; ``debounce_ms`` folds a burst of writes into one report."""

    enabled: bool = True
    debounce_ms: int = 200


@attrs.frozen
class ReportSettings:
    """The day's report (docs/day-report.md): written to ``dir`` (relative: to the config's folder)
    when a session ends; ``summary``: ask the supervisor's Ollama model for a summary on top of the
    rules."""

    dir: str = "results"
    summary: bool = True


@attrs.frozen
class StatusFileSettings:
    """One JSON file per task, ``DIR/TASK.json``, kept up to date while sessions run, for editors
    and scripts (docs/status-json.md); off by default."""

    enabled: bool = False
    dir: str = "agent_status"


@attrs.frozen
class TemporalSettings:
    """The Temporal runner (`orch run --backend temporal`, `orch worker`): where the frontend is, the
    task queue, and how soon an attempt whose worker went silent is given to another worker."""

    address: str = ""
    task_queue: str = "orch"
    heartbeat_timeout_s: float = 30.0
    # attempts one worker runs at once: its agents share its workdir and checkpoints, as a local run's do
    max_attempts: int = 1


@attrs.frozen
class Settings:
    """Everything configurable, with defaults that work with no file at all."""

    approval: ApprovalSettings = attrs.field(factory=ApprovalSettings)
    paths: PathSettings = attrs.field(factory=PathSettings)
    logging: LoggingSettings = attrs.field(factory=LoggingSettings)
    agent: AgentSettings = attrs.field(factory=AgentSettings)
    budget: BudgetSettings = attrs.field(factory=BudgetSettings)
    notifications: NotificationSettings = attrs.field(factory=NotificationSettings)
    safety: SafetySettings = attrs.field(factory=SafetySettings)
    sandbox: SandboxSettings = attrs.field(factory=SandboxSettings)
    supervisor: SupervisorSettings = attrs.field(factory=SupervisorSettings)
    watch: WatchSettings = attrs.field(factory=WatchSettings)
    report: ReportSettings = attrs.field(factory=ReportSettings)
    status_files: StatusFileSettings = attrs.field(factory=StatusFileSettings)
    max_parallel: int = 1
    worktrees: WorktreeSettings = attrs.field(factory=WorktreeSettings)
    temporal: TemporalSettings = attrs.field(factory=TemporalSettings)
    source: str = attrs.field(default="", eq=False)
    base_dir: str = attrs.field(default=".", eq=False)

    def path(self, value: str) -> Path:
        """A configured path, resolved against the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (Path(self.base_dir) / path).resolve()

    @property
    def state_dir(self) -> Path:
        """``paths.state_dir``; by default a project's old ``.orch`` with a database, else ``default_state_dir``."""
        configured = self.path(self.paths.state_dir) if self.paths.state_dir else None
        return state_dir_of(configured, Path(self.base_dir) / LEGACY_STATE_DIR, self.path(self.paths.workdir))

    @property
    def legacy_state_dir(self) -> Path | None:
        """The ``.orch/`` of an older orch beside the config, when it holds sessions and no state dir is set."""
        return None if self.paths.state_dir else legacy_state_dir(Path(self.base_dir) / LEGACY_STATE_DIR)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def calibration_path(self) -> Path:
        """Where ``orch calibrate`` writes the fitted calibration and the supervisor reads it."""
        chosen = self.supervisor.confidence.calibration_file
        return self.path(chosen) if chosen else self.state_dir / "calibration.json"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def results_dir(self) -> Path:
        """Where the day's report goes: ``report.dir`` (``ORCH_RESULTS_DIR``), default ``results/``."""
        return self.path(self.report.dir)

    def budget_policy(self) -> BudgetPolicy:
        """The budget policy: limits and the day's time zone (prices are the agent's: ``agent_prices``)."""
        b = self.budget
        return BudgetPolicy(
            daily_limit_usd=b.max_daily_cost_usd,
            warn_ratio=b.warn_at,
            task_limit_usd=b.max_task_cost_usd,
            tz=_timezone(b.timezone),
        )

    def agent_prices(self) -> dict[str, dict[str, Decimal]]:
        """``budget.prices`` for the agent adapter that prices its usage (model prefix -> per-million USD)."""
        return {prefix: attrs.asdict(price) for prefix, price in self.budget.prices.items()}

    def safety_policy(self) -> SafetyPolicy:
        """The operations agents must never perform: the defaults plus the configured extras."""
        from orchcore.safety import SafetyPolicy  # the runs need it; status and approve do not

        sf = self.safety
        try:
            return SafetyPolicy(
                enabled=sf.enabled, forbidden_prefixes=sf.forbidden, writable_outside=sf.writable_outside
            )
        except ValueError as exc:
            raise ConfigError(f"safety: {exc}") from exc

    def retry_policy(self) -> RetryPolicy:
        """How transient agent failures are retried."""
        a = self.agent
        return RetryPolicy(
            max_attempts=a.max_attempts, base_delay_s=a.retry_delay_s, max_delay_s=a.max_retry_delay_s
        )

    def routing(self) -> Routing:
        """Which notifications each commit queues, for which channels."""
        n = self.notifications
        known = {k.value: k for k in NotificationKind}
        kinds: set[NotificationKind] = set()
        for name in n.events:
            if name in ("default", "all"):
                kinds |= DEFAULT_KINDS if name == "default" else set(NotificationKind)
            elif name in known:
                kinds.add(known[name])
            else:
                raise ConfigError(
                    f"notifications.events: unknown event {name!r}; expected default, all, "
                    + ", ".join(sorted(known))
                )
        return Routing(channels=tuple(dict.fromkeys(n.channels)), kinds=frozenset(kinds))

    def delivery_policy(self) -> DeliveryPolicy:
        """How undelivered notifications are retried."""
        n = self.notifications
        return DeliveryPolicy(
            base_delay_s=n.retry_delay_s,
            max_delay_s=n.max_retry_delay_s,
            give_up_after_s=n.give_up_after_h * 3600.0,
            max_attempts=n.max_attempts,
        )

    def approval_policy(self) -> ApprovalPolicy:
        a = self.approval
        return ApprovalPolicy(
            mode=a.mode,
            checkpoint_after=frozenset(a.checkpoint_after),
            auto_approve=frozenset(a.auto_approve),
        )


def _timezone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # here: `orch status` needs no time zone

    if name == "local":
        import tzlocal

        # a real zone (TZ, /etc/timezone, /etc/localtime), not today's offset: days span DST changes
        try:
            return tzlocal.get_localzone()
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ConfigError(
                f"budget.timezone: local: the machine's time zone cannot be read ({exc}); "
                "set budget.timezone to a name such as Europe/Berlin, or TZ"
            ) from exc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"budget.timezone: unknown time zone {name!r}, expected e.g. UTC or Europe/Berlin"
        ) from exc


# ORCH_<NAME> -> (section, key)
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "STATE_DIR": ("paths", "state_dir"),
    "RESULTS_DIR": ("report", "dir"),
    "WORKDIR": ("paths", "workdir"),
    "TASKS_DIR": ("paths", "tasks_dir"),
    "APPROVAL_MODE": ("approval", "mode"),
    "CHECKPOINT_AFTER": ("approval", "checkpoint_after"),
    "AUTO_APPROVE_TYPES": ("approval", "auto_approve"),
    "LOG_LEVEL": ("logging", "level"),
    "LOG_FILE": ("logging", "file"),
    "AGENT": ("agent", "name"),
    "AGENT_COMMAND": ("agent", "command"),
    "AGENT_TIMEOUT_S": ("agent", "timeout_s"),
    "AGENT_IDLE_TIMEOUT_S": ("agent", "idle_timeout_s"),
    "MAX_DAILY_COST_USD": ("budget", "max_daily_cost_usd"),
    "MAX_TASK_COST_USD": ("budget", "max_task_cost_usd"),
    "NOTIFY_CHANNELS": ("notifications", "channels"),
    "NOTIFY_EVENTS": ("notifications", "events"),
    "N8N_URL": ("notifications", "n8n_url"),
    "SANDBOX": ("sandbox", "mode"),
    "SUPERVISOR_JUDGE": ("supervisor", "judge"),
    "SUPERVISOR_HOST": ("supervisor", "host"),
    "SUPERVISOR_MODEL": ("supervisor", "model"),
    "SUPERVISOR_TIMEOUT_S": ("supervisor", "timeout_s"),
    "SUPERVISOR_RETRIES": ("supervisor", "retries"),
    "SUPERVISOR_JUDGE_TYPES": ("supervisor", "judge_types"),
}
TOP_LEVEL_OVERRIDES: dict[str, str] = {"MAX_PARALLEL": "max_parallel"}  # ORCH_<NAME> -> key
OLLAMA_HOST = "OLLAMA_HOST"  # Ollama's own variable: the host when supervisor.host is not set
DOCKER_HOST = "DOCKER_HOST"  # Docker's own variable: the daemon when agent.executor.host is not set


def load_settings(
    explicit: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    near: Path | None = None,
) -> Settings:
    """Settings from the config file (if any, see find_config) with ``ORCH_*`` overrides applied.

    Raises ConfigError listing every problem as FILE:LINE (or the variable): key: found, expected.
    """
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ
    path = find_config(explicit, here, near)
    raw: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    if path is not None:
        from apps.config_file import read_config_file

        raw, lines = read_config_file(path)
    if "sandbox" in raw and not isinstance(raw["sandbox"], dict):
        raw["sandbox"] = {"mode": raw["sandbox"]}  # the short form `sandbox: off`
        if ("sandbox",) in lines:
            lines[("sandbox", "mode")] = lines[("sandbox",)]
    sandbox = raw.get("sandbox")
    if isinstance(sandbox, dict) and isinstance(sandbox.get("mode"), bool):
        sandbox["mode"] = "on" if sandbox["mode"] else "off"  # YAML 1.1 reads a bare on/off as a boolean
    supervisor = raw.get("supervisor")
    if isinstance(supervisor, dict) and isinstance(supervisor.get("judge"), bool):
        supervisor["judge"] = "ollama" if supervisor["judge"] else "off"  # YAML 1.1: `judge: off`
    origins: dict[tuple[str, ...], str] = {}
    ollama_host = env.get(OLLAMA_HOST)
    if ollama_host and not (isinstance(supervisor, dict) and "host" in supervisor):
        if supervisor is None:
            raw["supervisor"] = supervisor = {}
        if isinstance(supervisor, dict):
            supervisor["host"] = ollama_host
            origins[("supervisor", "host")] = OLLAMA_HOST
    _docker_host_from(env, raw)
    for name, (section, key) in ENV_OVERRIDES.items():
        value = env.get(ENV_PREFIX + name)
        if value is not None and value != "":
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"{path}:{lines.get((section,), 1)}: {section}: expected a mapping")
            raw[section][key] = value
            origins[(section, key)] = ENV_PREFIX + name
    for name, key in TOP_LEVEL_OVERRIDES.items():
        value = env.get(ENV_PREFIX + name)
        if value is not None and value != "":
            raw[key] = value
            origins[(key,)] = ENV_PREFIX + name
    source, base_dir = (str(path), str(path.parent.resolve())) if path else ("", str(here))
    if not raw:
        return Settings(source=source, base_dir=base_dir)  # all defaults: nothing to check or convert
    from apps.config_file import Checker, check_names, known_names

    checker = Checker(str(path) if path else "", lines, origins, known=known_names(raw))
    checker.section(Settings, raw, ())
    check_names(checker, raw)
    check_supervisor(checker, raw)
    check_executor(checker, raw)
    check_parallel(checker, raw, Path(base_dir))
    if checker.problems:
        raise ConfigError("\n".join(checker.problems))
    return _structure(raw, source, base_dir, lines)


def check_executor(checker: Any, raw: Mapping[str, Any]) -> None:
    """``agent.executor``: a known kind, given the keys that kind needs (all missing ones at once)."""
    agent = raw.get("agent")
    section = agent.get("executor") if isinstance(agent, dict) else None
    if not isinstance(section, dict):
        return
    at = ("agent", "executor")
    kind = str(section.get("kind", "local"))
    if kind not in EXECUTOR_NEEDS:
        from importlib.metadata import entry_points

        from apps.bootstrap import ENTRY_POINT_GROUP

        names = [e.name for e in entry_points(group=ENTRY_POINT_GROUP) if e.name.startswith("executor.")]
        plugins = {n.removeprefix("executor.") for n in names}
        if kind in plugins:
            return  # its own factory checks its keys
        known = ", ".join(sorted({*EXECUTOR_NEEDS, *plugins}))
        checker.add((*at, "kind"), f"found {kind!r}, expected one of: {known}")
        return
    own_keys = [f.name for f in attrs.fields(ExecutorSettings) if f.name != "options"]
    for key in (k for k in section if k not in own_keys):
        checker.add((*at, str(key)), f"unknown key; keys of agent.executor: {', '.join(own_keys)}")
    missing = [k for k in EXECUTOR_NEEDS[kind] if not str(section.get(k) or "").strip()]
    if missing:
        checker.add(
            at, f"kind {kind} needs {' and '.join(missing)}, e.g. {{kind: ssh, host: vm1, user: dev}}"
        )
    if section.get("sync") in (False, "false") and not str(section.get("remote_dir") or "").strip():
        checker.add((*at, "remote_dir"), "with sync: false, remote_dir must name the workspace on the host")
    port = section.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and not 0 < port < 65536:
        checker.add((*at, "port"), f"found {port}, expected a port from 1 to 65535")


def _whole(value: object) -> int | None:
    """``value`` as a whole number, or None when it is not one (the type check says so)."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() else None


def check_parallel(checker: Any, raw: Mapping[str, Any], base_dir: Path) -> None:
    """What types cannot say of ``max_parallel`` and ``worktrees``: 1 or more tasks at once, a
    git repository to make worktrees in when above 1, port ranges that fit below 65536."""
    parallel = _whole(raw.get("max_parallel", 1))
    if parallel is not None and parallel < 1:
        checker.add(("max_parallel",), f"found {parallel}, expected 1 or more (1: one task at a time)")
    section = raw.get("worktrees")
    section = section if isinstance(section, dict) else {}
    base, size = _whole(section.get("port_base", 20000)), _whole(section.get("ports_per_task", 10))
    if base is not None and not 1024 <= base <= 65535:
        checker.add(("worktrees", "port_base"), f"found {base}, expected a port from 1024 to 65535")
    if size is not None and size < 1:
        checker.add(("worktrees", "ports_per_task"), f"found {size}, expected 1 or more")
    if parallel is None or parallel <= 1:
        return
    if base is not None and size is not None and size >= 1 and base + parallel * size - 1 > 65535:
        checker.add(
            ("max_parallel",),
            f"found {parallel}, expected at most {max(0, (65536 - base) // size)}: {parallel} ranges of "
            f"{size} ports from {base} pass 65535 (lower worktrees.port_base or worktrees.ports_per_task)",
        )
    paths = raw.get("paths")
    workdir = str(paths.get("workdir", ".")) if isinstance(paths, dict) else "."
    folder = Path(workdir).expanduser()
    folder = (folder if folder.is_absolute() else base_dir / folder).resolve()
    if not in_git_repository(folder):
        checker.add(
            ("max_parallel",),
            f"found {parallel}, but {folder} is not in a git repository: parallel tasks run in git "
            "worktrees (run `git init` and commit, or set max_parallel: 1)",
        )


def check_supervisor(checker: Any, raw: Mapping[str, Any]) -> None:
    """What types cannot say of ``supervisor``: a host Ollama's client can reach, a model name,
    retries of 0 or more, a context of at least 256 tokens, a keep_alive Ollama can read."""
    section = raw.get("supervisor")
    if not isinstance(section, dict):
        return
    host = section.get("host")
    if isinstance(host, str):
        from urllib.parse import urlsplit

        try:  # a stray "[" is an invalid IPv6 address to urlsplit itself
            url = urlsplit(host if "://" in host else f"http://{host}")
            port_ok = url.port is None or url.port > 0
        except ValueError:
            url, port_ok = urlsplit(""), False
        if url.scheme not in ("http", "https") or not url.hostname or not port_ok:
            checker.add(
                ("supervisor", "host"),
                f"found {host!r}, expected Ollama's address, e.g. http://127.0.0.1:11434 or gpu-box:11434",
            )
    model = section.get("model")
    if isinstance(model, str) and not model.strip():
        checker.add(("supervisor", "model"), "found '', expected a model name such as qwen2.5-coder:32b")
    for key in ("checks", "scope"):
        by_type = section.get(key)
        if by_type is None:
            continue
        if not isinstance(by_type, dict):
            checker.add(
                ("supervisor", key), f"found {by_type!r}, expected task types with lists, e.g. testing: [...]"
            )
            continue
        for name, items in by_type.items():
            listed = [items] if isinstance(items, str) else items
            if not isinstance(listed, list) or any(not isinstance(i, str) or not i.strip() for i in listed):
                what = "commands such as python -m pytest -q" if key == "checks" else "globs such as src/**"
                checker.add(("supervisor", key, str(name)), f"found {listed!r}, expected a list of {what}")
    check_breakpoints(checker, section.get("breakpoints"))
    check_weights(checker, section.get("confidence"))
    for key, low, what in (
        ("retries", 0, "0 or more"),
        ("num_ctx", 256, "256 tokens or more"),
        ("max_fix_attempts", 0, "0 or more"),
    ):
        value = section.get(key)
        if isinstance(value, float) and value.is_integer():  # 0.0 is read as the whole number 0
            value = int(value)
        number = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if number.lstrip("-").isdigit() and int(number) < low:  # other mistakes: the type checks
            checker.add(("supervisor", key), f"found {value}, expected {what}")
    keep = section.get("keep_alive")
    if keep is not None and not isinstance(keep, bool) and not _DURATION.match(str(keep).strip()):
        checker.add(
            ("supervisor", "keep_alive"), f"found {keep!r}, expected a duration such as 10m, 1h or -1"
        )


def check_weights(checker: Any, confidence: object) -> None:
    """Each confidence weight is 0 or more (0 switches a signal off); failure_factor is in [0, 1]."""
    weights = confidence.get("weights") if isinstance(confidence, dict) else None
    if not isinstance(weights, dict):
        return  # not a mapping: the types' check says so
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # the types' check says what it expected
        at = ("supervisor", "confidence", "weights", str(key))
        if key == "failure_factor" and not 0 <= value <= 1:
            checker.add(at, f"found {value}, expected a factor from 0 to 1 (0.5 halves per failing check)")
        elif value < 0:
            checker.add(at, f"found {value}, expected a weight of 0 or more (0 switches the signal off)")


_RULE_KEYS = {"name": str, "kind": str, "threshold": float, "lines": int, "globs": list, "types": list}


def _rule_parameters(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A breakpoint rule's parameters; ``globs``/``types`` as one text are one item (commas are a glob's own)."""
    found: dict[str, Any] = {k: v for k, v in rule.items() if k in ("threshold", "lines")}
    for key in ("globs", "types"):
        value = rule.get(key)
        if value is not None:
            found[key] = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    return found


def check_breakpoints(checker: Any, rules: object) -> None:
    """Each breakpoint rule is a mapping with a name, a known kind and parameters of the right type."""
    from orchcore.supervise import RuleKind

    if rules is None:
        return
    at = ("supervisor", "breakpoints")
    if not isinstance(rules, list):
        checker.add(
            at, f"found {rules!r}, expected a list of rules such as {{name: x, kind: paths, globs: [...]}}"
        )
        return
    kinds = ", ".join(k.value for k in RuleKind)
    for index, rule in enumerate(rules):
        here = (*at, str(index))
        if not isinstance(rule, dict):
            checker.add(here, f"found {rule!r}, expected a mapping with name and kind")
            continue
        for key, value in rule.items():
            want = _RULE_KEYS.get(str(key))
            if want is None:
                checker.add((*here, str(key)), f"unknown key; keys of a rule: {', '.join(_RULE_KEYS)}")
            elif want is list and not (
                isinstance(value, list | str) and all(isinstance(v, str) for v in value)
            ):
                checker.add((*here, str(key)), f"found {value!r}, expected a list of names")
            elif want in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
                checker.add((*here, str(key)), f"found {value!r}, expected a number")
            elif want is str and (not isinstance(value, str) or not value.strip()):
                checker.add((*here, str(key)), f"found {value!r}, expected text")
        if not isinstance(rule.get("name"), str):
            checker.add(here, "a rule needs a name (shown when it fires)")
        if rule.get("kind") not in {k.value for k in RuleKind}:
            checker.add((*here, "kind"), f"found {rule.get('kind')!r}, expected one of: {kinds}")


def _money(value: object, _: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(f"expected an amount in USD, found {value!r}")
    try:
        amount = Decimal(str(value).strip().removeprefix("$"))
    except InvalidOperation:
        raise TypeError(f"expected an amount in USD, found {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise TypeError(f"expected an amount of 0 or more, found {value!r}")
    return amount


@functools.cache
def _converter() -> cattrs.Converter:
    """The one converter from checked config data to Settings, built on first use: its
    generated code costs more than reading a config file."""
    import cattrs
    from cattrs.gen import make_dict_structure_fn

    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], lambda v, _: v)
    converter.register_structure_hook(Decimal, _money)
    converter.register_structure_hook(SandboxMode, _sandbox_mode)
    converter.register_structure_hook(JudgeMode, _judge_mode)
    plain_executor = make_dict_structure_fn(ExecutorSettings, converter)
    executor_known = {field.name for field in attrs.fields(ExecutorSettings)} - {"options"}

    def executor_section(value: object, _: object) -> ExecutorSettings:
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, found {value!r}")
        base = {k: v for k, v in value.items() if k in executor_known}
        extra = {k: v for k, v in value.items() if k not in executor_known}
        return attrs.evolve(plain_executor(base, ExecutorSettings), options=extra)

    converter.register_structure_hook(ExecutorSettings, executor_section)
    plain_agent = make_dict_structure_fn(AgentSettings, converter)
    known = {field.name for field in attrs.fields(AgentSettings)} - {"options"}

    def agent_section(value: object, _: object) -> AgentSettings:
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, found {value!r}")
        base = {k: v for k, v in value.items() if k in known}
        return attrs.evolve(
            plain_agent(base, AgentSettings), options={k: v for k, v in value.items() if k not in known}
        )

    converter.register_structure_hook(AgentSettings, agent_section)
    return converter


def _structure(
    raw: dict[str, Any], source: str, base_dir: str, lines: Mapping[tuple[str, ...], int] | None = None
) -> Settings:
    import cattrs

    from apps.config_file import located

    try:
        settings = _converter().structure(raw, Settings)
    except Exception as exc:
        if not isinstance(exc, cattrs.BaseValidationError):
            raise ConfigError(f"{source or 'settings'}: {exc}") from exc
        raise ConfigError(
            "\n".join(located(m, source, lines or {}) for m in cattrs.transform_error(exc, path="config"))
        ) from exc
    return attrs.evolve(settings, source=source, base_dir=base_dir)


def _docker_host_from(env: Mapping[str, str], raw: dict[str, Any]) -> None:
    """``$DOCKER_HOST`` as ``agent.executor.host`` of a docker executor that names none, as docker does."""
    agent = raw.get("agent")
    executor = agent.get("executor") if isinstance(agent, dict) else None
    wants_host = isinstance(executor, dict) and executor.get("kind") == "docker" and "host" not in executor
    if wants_host and env.get(DOCKER_HOST):
        executor["host"] = env[DOCKER_HOST]  # type: ignore[index]


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def proxy_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy variables set in orch's environment (httpx honours them, in either case)."""
    env = os.environ if environ is None else environ
    names = (*PROXY_VARIABLES, *(v.upper() for v in PROXY_VARIABLES))
    return {name: env[name] for name in names if env.get(name)}


def agent_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment an agent gets: the basics plus the names the config passes
    through. Never the orchestrator's own secrets."""
    env = os.environ if environ is None else environ
    names = (*BASE_ENV_NAMES, *AGENT_ENV_NAMES.get(settings.agent.name, ()), *settings.agent.env_passthrough)
    return {name: env[name] for name in names if name in env}
