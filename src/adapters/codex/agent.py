"""The OpenAI Codex CLI (``codex exec --json``) as an orchcore Agent."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from adapters.codex.prices import DEFAULT_PRICES, ModelPrice, parse_price, price_for
from adapters.codex.rollout import RolloutEvents, RolloutTail
from adapters.codex.stream import CodexStream
from adapters.process import run_marked
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, ProcessStarted, Tick
from orchcore.records import AttemptProcess, Outcome
from orchcore.safety import SafetyPolicy

logger = logging.getLogger(__name__)

MIN_VERSION = (0, 171, 0)
INSTALL_HINT = (
    "install it with scripts/install-codex-cli.sh (pinned, into .tools/codex) or "
    "`npm install -g @openai/codex`, and point the agent's executable at it"
)
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
PROVIDER = "orch"
KEY_ENV = "OPENAI_API_KEY"
"""The variable the CLI reads the key from (``model_providers.orch.env_key``): never argv."""
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_VERSION_TIMEOUT_S = 30.0
_SECRET_NAMES = (KEY_ENV, "CODEX_API_KEY")
"""Kept out of the environment of the commands Codex runs (its shell_environment_policy). Exact
names, no ``*KEY*`` pattern: that would also drop git's ``GIT_CONFIG_KEY_n``, which put orch's
git hooks in force (git then refuses to run at all)."""


def sandbox_mode(policy: SafetyPolicy | None, configured: str | None) -> tuple[str, str | None]:
    """The CLI's ``sandbox_mode`` for the safety ``policy``, and a reason not to run, or None.

    Safety off (no policy or disabled) allows everything: ``danger-full-access`` unless the
    config asks for less. Safety on: ``workspace-write`` (writes only in the workspace and
    the policy's ``writable_outside``, ``.git`` read-only, no network) or the config's
    ``read-only``; ``danger-full-access`` is refused, since it would drop the CLI's sandbox.
    """
    if configured is not None and configured not in SANDBOX_MODES:
        return configured, f"codex sandbox {configured!r} is not one of {', '.join(SANDBOX_MODES)}"
    if policy is None or not policy.enabled:
        return configured or "danger-full-access", None
    if configured == "danger-full-access":
        return (
            configured,
            "codex sandbox danger-full-access drops the CLI's sandbox; the safety policy forbids it",
        )
    return configured or "workspace-write", None


def _toml(value: object) -> str:
    """A value as TOML for ``-c key=value`` (JSON strings, numbers, booleans and arrays are TOML too)."""
    return json.dumps(value)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"codex-cli 0.171.0"`` -> ``(0, 171, 0)``; None without a version."""
    match = _VERSION.search(text)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


@attrs.define
class _Watchdog:
    """Says when the CLI has been silent too long; allows more silence while a command runs."""

    model_idle_s: float | None
    tool_idle_s: float | None
    clock: Callable[[], float] = time.monotonic
    last_line: float = attrs.field(init=False)
    fired: str | None = None

    def __attrs_post_init__(self) -> None:
        self.last_line = self.clock()

    def saw_line(self) -> None:
        self.last_line = self.clock()

    def check(self, tool_running: bool) -> str | None:
        limit = self.tool_idle_s if tool_running else self.model_idle_s
        if limit is None or self.clock() - self.last_line < limit:
            return None
        self.fired = f"no output for {limit:g} s" + (" while a command ran" if tool_running else "")
        return self.fired


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ConfigError(f"codex {attribute.name} must not be negative, got {value}")


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class CodexAgent:
    """Runs a task with the real Codex CLI (``codex exec --json``), streaming its events.

    Satisfies ``orchcore.ports.Agent``. The prompt goes to stdin (``-`` as the prompt), the
    API key to the CLI's environment only (``OPENAI_API_KEY``, named by the provider's
    ``env_key``), never argv; the commands Codex runs get neither. The CLI keeps its state
    in a private ``CODEX_HOME`` (``config_dir``, default ``~/.cache/orchcore/codex``)
    with its own ``TMPDIR`` inside it: Codex will not set up its sandbox helper under a
    temporary directory. ``exec resume`` continues an agent session when asked to.
    """

    executable: str = "codex"
    base_env: Mapping[str, str] = attrs.field(factory=dict, converter=dict, repr=False)
    model: str = "gpt-5-codex"
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    config_dir: str | None = None
    sandbox: str | None = None
    network_access: bool = False
    idle_timeout_s: float | None = attrs.field(default=900.0, validator=_non_negative)
    tool_idle_timeout_s: float | None = attrs.field(default=1800.0, validator=_non_negative)
    max_retries: int = attrs.field(default=4, validator=_non_negative)
    price: ModelPrice | None = None
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def model_price(self) -> ModelPrice:
        """The price of this agent's model: the config's ``price`` or the table's."""
        return self.price if self.price is not None else price_for(self.model, DEFAULT_PRICES)

    def home(self, request: AgentRequest) -> Path:
        """The CLI's private CODEX_HOME: ``config_dir``, else ``~/.cache/orchcore/codex`` (kept, so resume works).

        Not beside the task logs: orch's state dir is hidden from agents by the sandbox.
        """
        if self.config_dir is not None:
            return Path(self.config_dir).expanduser().resolve()
        if self.base_env.get("HOME"):
            return Path(self.base_env["HOME"]) / ".cache" / "orchcore" / "codex"
        return Path(request.log_path).resolve().parent / "codex-home"

    def environment(self, home: Path, request_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: base, then CODEX_HOME/TMPDIR and the key, then the request's."""
        env = dict(self.base_env)
        env.update({"CODEX_HOME": str(home), "TMPDIR": str(home / "tmp"), "NO_COLOR": "1"})
        if self.api_key is not None:
            env[KEY_ENV] = self.api_key
        env.update(request_env or {})
        return env

    def settings(self, request: AgentRequest) -> list[str]:
        """The ``-c key=value`` overrides of one run: provider, retries, sandbox, approvals, env policy."""
        mode, _ = sandbox_mode(request.safety, self.sandbox)
        provider = f"model_providers.{PROVIDER}"
        values: list[tuple[str, object]] = [
            ("model_provider", PROVIDER),
            (f"{provider}.name", PROVIDER),
            (f"{provider}.base_url", self.base_url or DEFAULT_BASE_URL),
            (f"{provider}.env_key", KEY_ENV),
            (f"{provider}.wire_api", "responses"),
            (f"{provider}.request_max_retries", self.max_retries),
            (f"{provider}.stream_max_retries", self.max_retries),
            ("approval_policy", "never"),  # nobody is there to approve: what the sandbox refuses fails
            ("sandbox_mode", mode),
            ("shell_environment_policy.exclude", list(_SECRET_NAMES)),
            # `bash -lc` would read /etc/profile, which resets PATH and drops orch's guard shims
            ("allow_login_shell", False),
        ]
        if mode == "workspace-write":
            writable = _writable_roots(request)
            values += [
                ("sandbox_workspace_write.writable_roots", writable),
                ("sandbox_workspace_write.network_access", self.network_access),
                # /tmp and $TMPDIR are writable by default: outside the workspace, so only when listed
                ("sandbox_workspace_write.exclude_slash_tmp", True),
                ("sandbox_workspace_write.exclude_tmpdir_env_var", True),
            ]
        argv: list[str] = []
        for key, value in values:
            argv += ["-c", f"{key}={_toml(value)}"]
        return argv

    def command(self, request: AgentRequest, executable: str | None = None) -> list[str]:
        """The argv of one run (the prompt goes to stdin, ``-`` stands for it)."""
        argv = [executable or self.executable, "exec"]
        if request.resume_agent_session is not None:
            argv.append("resume")
        argv += [
            "--json",
            "--skip-git-repo-check",
            "-m",
            self.model,
            *self.settings(request),
            *self.extra_args,
        ]
        if request.resume_agent_session is not None:
            argv.append(request.resume_agent_session)
        argv.append("-")
        return argv

    def _resolve(self, env: Mapping[str, str]) -> str:
        found = shutil.which(self.executable, path=env.get("PATH", os.defpath))
        if found is None:
            raise AgentUnavailable(f"codex executable {self.executable!r} not found; {INSTALL_HINT}")
        return found

    def check(self) -> None:
        """Raise AgentUnavailable unless the executable runs, is at least 0.171.0 and has a key."""
        env = dict(self.base_env)
        executable = self._resolve(env)
        try:
            done = subprocess.run(  # noqa: S603 - the configured executable, argv list, no shell
                [executable, "--version"],
                env=env,
                capture_output=True,
                text=True,
                timeout=_VERSION_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AgentUnavailable(f"cannot run {executable} --version: {exc}; {INSTALL_HINT}") from exc
        version = parse_version(done.stdout)
        if done.returncode != 0 or version is None:
            said = (done.stdout + done.stderr).strip()[-300:] or f"exit code {done.returncode}"
            raise AgentUnavailable(f"{executable} --version failed: {said}; {INSTALL_HINT}")
        if version < MIN_VERSION:
            have, wanted = ".".join(map(str, version)), ".".join(map(str, MIN_VERSION))
            raise AgentUnavailable(f"codex {have} at {executable} is older than {wanted}; {INSTALL_HINT}")
        if not (self.api_key or env.get(KEY_ENV)):
            raise AgentUnavailable(
                f"Codex has no API key: no {KEY_ENV} in the agent's environment; export it (orch passes it to the agent)"
            )
        _, refused = sandbox_mode(None, self.sandbox)
        if refused is not None:
            raise AgentUnavailable(refused)

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """Run one attempt to its end; see ``orchcore.ports.Agent``.

        Outcomes: the turn decides (``turn.completed`` SUCCEEDED, ``turn.failed`` FAILED,
        retryable when transient); the timeout or the watchdog's silence limit is
        TIMED_OUT; the sink asking to stop is STOPPED. The process group is gone on return.
        """
        mode, refused = sandbox_mode(request.safety, self.sandbox)
        if refused is not None:
            return AgentResult(Outcome.FAILED, reason=refused)
        home = self.home(request)
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        env = self.environment(home, request.env)
        sandbox = request.sandbox
        if sandbox is not None:
            sandbox = sandbox.allowing_writes(str(home))
        argv = self.command(request, self._resolve(env))
        stream = CodexStream(model=self.model, price=self.model_price())
        rollout, tail = RolloutEvents(stream), RolloutTail.before_run(home / "sessions")
        watchdog = _Watchdog(self.idle_timeout_s, self.tool_idle_timeout_s)

        def follow_rollout() -> str | None:
            """What the CLI's session record adds to its stream (refused calls, usage mid-turn)."""
            for record in tail.read(stream.session_id):
                for event in rollout.feed(record):
                    reason = on_event(event)
                    if reason is not None:
                        return reason
            return None

        def on_start(process: AttemptProcess) -> None:
            on_event(ProcessStarted(process.group, process.leader_start, process.marker))

        def on_line(line: str) -> str | None:
            watchdog.saw_line()
            for event in stream.feed(line):
                reason = on_event(event)
                if reason is not None:
                    return reason
            return follow_rollout()

        def on_tick() -> str | None:
            return on_event(Tick()) or follow_rollout() or watchdog.check(stream.tool_running)

        logger.debug("starting codex", extra={"argv": argv, "cwd": request.workdir, "task": request.task_id})
        ended = run_marked(
            argv,
            env=env,
            agent="codex",
            task_id=request.task_id,
            cwd=request.workdir,
            stdin_text=request.prompt,
            log_path=request.log_path,
            timeout_s=request.timeout_s,
            on_line=on_line,
            on_tick=on_tick,
            sandbox=sandbox,
            on_start=on_start,
        )
        if ended.stopped is None:
            follow_rollout()  # the last records: the run is over, nothing more to stop
        result = stream.outcome(ended.exit_code, ended.stderr_tail)
        if ended.timed_out:
            result = _cut_short(result, Outcome.TIMED_OUT, f"timed out after {request.timeout_s:g} s")
        elif watchdog.fired is not None and ended.stopped == watchdog.fired:
            result = _cut_short(result, Outcome.TIMED_OUT, ended.stopped)
        elif ended.stopped is not None:
            result = _cut_short(result, Outcome.STOPPED, ended.stopped)
        logger.debug(
            "codex ended", extra={"task": request.task_id, "sandbox": mode, "outcome": result.outcome.value}
        )
        return result


_SHIM_MARKER = ".orchcore-shims"
"""The file that marks the guards' PATH shim directory; its sibling ``refusals`` is where the
guards record what they refused, so the CLI's sandbox must let them write there."""


def _writable_roots(request: AgentRequest) -> list[str]:
    """Where the CLI's sandbox lets commands write besides the workspace: what the policy allows
    outside it, what orch's own sandbox makes writable, and the guards' refusals folder."""
    roots = list(request.safety.writable_outside) if request.safety is not None else []
    if request.sandbox is not None:
        roots += request.sandbox.writable
    for entry in request.env.get("PATH", "").split(os.pathsep)[:1]:
        if entry and (Path(entry) / _SHIM_MARKER).is_file():
            roots.append(str(Path(entry).parent / "refusals"))
    workdir = str(Path(request.workdir).resolve())
    return [root for root in dict.fromkeys(roots) if str(Path(root).resolve()) != workdir]


def _cut_short(result: AgentResult, outcome: Outcome, reason: str) -> AgentResult:
    """The run was killed: keep what was learnt (session id, cost so far) but not the verdict."""
    return attrs.evolve(
        result, outcome=outcome, reason=reason, exit_code=None, retryable=False, final_text=""
    )


_KINDS: Mapping[str, type | tuple[type, ...]] = {
    "executable": str,
    "model": str,
    "base_url": str,
    "config_dir": str,
    "sandbox": str,
    "network_access": bool,
    "idle_timeout_s": (int, float),
    "tool_idle_timeout_s": (int, float),
    "max_retries": int,
}


def from_config(config: Mapping[str, object], base_env: Mapping[str, str]) -> CodexAgent:
    """Build from the ``agent`` config section (the registry's factory signature).

    Optional keys: executable, model, base_url, config_dir, sandbox (read-only,
    workspace-write, danger-full-access), network_access, idle_timeout_s,
    tool_idle_timeout_s, max_retries, price ({input, output, cached_input} USD per
    million tokens), extra_args. Other keys of the shared section are ignored. Every
    problem is reported at once. The key is never read from the config file: pass
    OPENAI_API_KEY through to ``base_env``.
    """
    settings: dict[str, Any] = {"base_env": base_env}
    problems: list[str] = []
    for key, kind in _KINDS.items():
        value = config.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            problems.append(f"agent.{key} has the wrong type: {value!r}")
            continue
        settings[key] = value
    if settings.get("sandbox") is not None and settings["sandbox"] not in SANDBOX_MODES:
        problems.append(
            f"agent.sandbox must be one of {', '.join(SANDBOX_MODES)}, found {settings['sandbox']!r}"
        )
    extra = config.get("extra_args")
    if extra is not None:
        if isinstance(extra, str):
            settings["extra_args"] = tuple(extra.split())
        elif isinstance(extra, list | tuple) and all(isinstance(v, str) for v in extra):
            settings["extra_args"] = tuple(extra)
        else:
            problems.append(f"agent.extra_args must be a list of strings, found {extra!r}")
    if config.get("price") is not None:
        try:
            settings["price"] = parse_price(config["price"])
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        return CodexAgent(**settings)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"agent: {exc}") from exc
