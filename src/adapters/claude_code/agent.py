"""The Claude Code CLI (``claude -p``) as an orchcore Agent."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from adapters.claude_code.permissions import (
    ENV_FILE_VAR,
    HOOK_DROPPING_FLAGS,
    KEEP_PATH,
    POLICY_ENV,
    SafetyFiles,
    policy_json,
    remote_settings,
)
from adapters.claude_code.prices import DEFAULT_PRICES, Price, prices_from_config, with_overrides
from adapters.claude_code.refusals import RefusalDetector, cli_chain, left_behind, leftovers_refusal
from adapters.claude_code.stream import StreamAccumulator, parse_line
from adapters.process import RUN_MARKER, ProcessResult, process_table, run_marked
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports.agent import (
    AgentEvent,
    AgentRequest,
    AgentResult,
    EventSink,
    Finished,
    Other,
    ProcessStarted,
    Tick,
    ToolCall,
)
from orchcore.ports.executor import AGENT_PATH_ENV, ExecFile, ExecResult, ExecSpec, Executor
from orchcore.records import AttemptProcess, Outcome

logger = logging.getLogger(__name__)

MIN_VERSION = (2, 1, 0)
INSTALL_HINT = (
    "install it with scripts/install-claude-cli.sh (pinned, into .tools/claude) "
    "or `npm install -g @anthropic-ai/claude-code`, and point the agent's executable at it"
)
PERMISSION_MODES = frozenset({"acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"})
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)")
_VERSION_TIMEOUT_S = 30.0
# what logs the CLI in, without a login: a key or token in its environment ...
CREDENTIAL_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
# ... or a cloud provider, which brings its own credentials
PROVIDER_ENV = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")
CREDENTIALS_FILE = ".credentials.json"  # what `claude /login` writes into the config dir


def _permission_mode(_: object, __: attrs.Attribute[Any], value: str) -> None:
    if value not in PERMISSION_MODES:
        raise ConfigError(
            f"claude permission mode {value!r} is not one of {', '.join(sorted(PERMISSION_MODES))}"
        )


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ConfigError(f"claude {attribute.name} must not be negative, got {value}")


def _positive_turns(_: object, __: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"claude max_turns must be at least 1, got {value}")


def _env(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"2.1.197 (Claude Code)"`` -> ``(2, 1, 197)``; None if it does not start with a version."""
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


@attrs.define
class _Watchdog:
    """Says when the CLI has been silent too long; allows more silence while a tool runs.

    A model turn prints nothing until a whole content block has arrived, and a Bash
    tool may run for up to 10 minutes (the CLI's own cap) without a line, so the
    two phases get separate limits. The CLI itself never cuts a stream that stalls
    after its first byte.
    """

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
        self.fired = f"no output for {limit:g} s" + (" while a tool ran" if tool_running else "")
        return self.fired


def credentials_missing(env: Mapping[str, str], *, platform: str = sys.platform) -> str | None:
    """What to do when the CLI in ``env`` would answer "Not logged in", or None when it may
    have credentials. Names variables and files, never a value.

    Counted as logged in: a key or token in ``env``, a cloud provider, the ``.credentials.json``
    that /login writes, an ``apiKeyHelper`` or key in the config dir's settings.json, or
    macOS (its login lives in the Keychain, out of sight).
    """
    if platform == "darwin" or any(env.get(name) for name in (*CREDENTIAL_ENV, *PROVIDER_ENV)):
        return None
    config_dir = Path(env.get("CLAUDE_CONFIG_DIR") or Path(env.get("HOME", "~")).expanduser() / ".claude")
    credentials = config_dir / CREDENTIALS_FILE
    if credentials.is_file():
        return None
    try:
        settings = (config_dir / "settings.json").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        settings = ""
    if any(word in settings for word in ("apiKeyHelper", *CREDENTIAL_ENV)):
        return None
    return (
        "Claude Code is not logged in: no ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or "
        f"CLAUDE_CODE_OAUTH_TOKEN in the agent's environment and no {credentials}; "
        "export ANTHROPIC_API_KEY (orch passes it to the agent), or run `claude` once and /login"
    )


@attrs.frozen(kw_only=True)
class ClaudeCodeAgent:
    """Runs a task with the real Claude Code CLI in print mode, streaming its events.

    Satisfies ``orchcore.ports.Agent``. One run is ``claude -p --output-format
    stream-json --verbose ...`` in ``request.workdir`` with the prompt on stdin (plain
    text through a pipe: 2.1.197 ignores stream-json input from a regular file).

    The environment is ``base_env`` (already filtered by the app: the adapter never
    reads ``os.environ``), plus what keeps the CLI offline-safe and bounded
    (``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC``, telemetry off,
    ``CLAUDE_CODE_MAX_RETRIES``), plus the API endpoint/key and config dir when set,
    plus ``request.env`` last.

    Permissions default to ``acceptEdits`` with ``Bash`` allowed: ``-p`` never
    prompts, so a tool that is not allowed is refused and the agent carries on. That
    lets the agent edit files in its workdir and run commands without a human, and
    keeps deny rules and hooks in force (``bypassPermissions`` would also need
    ``IS_SANDBOX=1`` as root).
    """

    executable: str = "claude"
    base_env: Mapping[str, str] = attrs.field(factory=dict, converter=_env, repr=False)
    model: str | None = None
    max_turns: int | None = attrs.field(default=None, validator=_positive_turns)
    permission_mode: str = attrs.field(default="acceptEdits", validator=_permission_mode)
    allowed_tools: tuple[str, ...] = attrs.field(default=("Bash",), converter=_strings)
    disallowed_tools: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    idle_timeout_s: float | None = attrs.field(default=900.0, validator=_non_negative)
    tool_idle_timeout_s: float | None = attrs.field(default=1800.0, validator=_non_negative)
    max_retries: int = attrs.field(default=2, validator=_non_negative)
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    config_dir: str | None = None
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    prices: Mapping[str, Price] = attrs.field(factory=lambda: dict(DEFAULT_PRICES), repr=False)
    """What each model costs (prefix -> per-million prices): how the stream's usage is priced."""
    executor: Executor | None = attrs.field(default=None, repr=False)
    """Where the CLI runs when not on this machine (an SSH host, ...): ``executable`` is its path there."""
    hook_python: str | None = None
    """The Python that runs the safety hook where the CLI runs (with orchcore installed); this one's by default."""

    def environment(self, request_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: base, then the adapter's settings, then the request's."""
        env = dict(self.base_env)
        env.update(
            {
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_TELEMETRY": "1",
                "DISABLE_ERROR_REPORTING": "1",
                "DISABLE_AUTOUPDATER": "1",
                "CLAUDE_CODE_MAX_RETRIES": str(self.max_retries),
            }
        )
        if self.base_url is not None:
            env["ANTHROPIC_BASE_URL"] = self.base_url
        if self.api_key is not None:
            env["ANTHROPIC_API_KEY"] = self.api_key
        if self.config_dir is not None:
            env["CLAUDE_CONFIG_DIR"] = self.config_dir
        if self.permission_mode == "bypassPermissions":
            env["IS_SANDBOX"] = "1"  # the CLI refuses to bypass permissions as root without it
        env.update(request_env or {})
        return env

    def command(
        self, request: AgentRequest, executable: str | None = None, settings: str | None = None
    ) -> list[str]:
        """The argv of one run (the prompt goes to stdin, not here); ``settings`` replaces the
        settings file's path (a JSON text, for a CLI that runs elsewhere)."""
        argv = [executable or self.executable, "-p", "--output-format", "stream-json", "--verbose"]
        argv.append(f"--permission-mode={self.permission_mode}")
        # One `--opt=value` per rule: the options are variadic and would swallow what follows.
        argv.extend(f"--allowedTools={rule}" for rule in self.allowed_tools)
        argv.extend(f"--disallowedTools={rule}" for rule in self.disallowed_tools)
        if self.model is not None:
            argv.append(f"--model={self.model}")
        if self.max_turns is not None:
            argv.append(f"--max-turns={self.max_turns}")
        if request.resume_agent_session is not None:
            argv.append(f"--resume={request.resume_agent_session}")
        if _guarded(request):
            argv.append(f"--settings={settings or SafetyFiles.beside(request.log_path).settings}")
            argv.append(
                "--include-hook-events"
            )  # a hook's denial then shows in the stream: its layer is known
        argv.extend(self.extra_args)
        return argv

    def _resolve(self, env: Mapping[str, str]) -> str:
        found = shutil.which(self.executable, path=env.get("PATH", os.defpath))
        if found is None:
            raise AgentUnavailable(f"claude executable {self.executable!r} not found; {INSTALL_HINT}")
        return found

    def check(self) -> None:
        """Raise AgentUnavailable unless the executable runs, is at least version 2.1.0 and has
        credentials (before a session exists, so a logged-out CLI costs nothing)."""
        env = self.environment()
        executable = self._resolve(env)
        try:
            done = subprocess.run(
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
            wanted = ".".join(map(str, MIN_VERSION))
            have = ".".join(map(str, version))
            raise AgentUnavailable(f"claude {have} at {executable} is older than {wanted}; {INSTALL_HINT}")
        # `--settings` may bring an apiKeyHelper orch cannot see: then the CLI decides
        missing = None if "--settings" in self.extra_args else credentials_missing(env)
        if missing is not None:
            raise AgentUnavailable(missing)

    def _write_safety(self, request: AgentRequest) -> str | None:
        """Write the run's settings (deny rules, PreToolUse hook) and policy files; a reason not to start, or None.

        Flags that silently drop hooks (``--bare``, ``--safe-mode``) are refused
        rather than removed, so the configuration is fixed where it is wrong.
        """
        if request.safety is None or not request.safety.enabled:
            return None
        dropping = sorted(HOOK_DROPPING_FLAGS.intersection(self.extra_args))
        if dropping:
            return f"claude {' '.join(dropping)} turns the safety hook off; remove it from the agent's extra_args"
        try:
            SafetyFiles.beside(request.log_path).write(request.safety, request.workdir)
        except OSError as exc:
            return f"cannot write the Claude Code safety settings next to {request.log_path}: {exc}"
        return None

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """Run one attempt to its end; see ``orchcore.ports.Agent``.

        Every parsed stream event goes to ``on_event`` as it arrives (a line that is
        not JSON as an ``OutputLine``), and a ``Tick`` at least every
        second. Outcomes: the result line decides (``is_error`` means FAILED);
        timeout or silence past the watchdog's limit is TIMED_OUT; the sink asking to
        stop is STOPPED. In every case the whole process group is gone on return.
        """
        if self.executor is not None:
            return self._run_through(self.executor, request, on_event)
        env = self.environment(request.env)
        env[RUN_MARKER] = run_id = uuid.uuid4().hex
        sandbox = request.sandbox
        if sandbox is not None and self.config_dir is not None:
            Path(self.config_dir).mkdir(parents=True, exist_ok=True)
            sandbox = sandbox.allowing_writes(str(Path(self.config_dir).resolve()))
        elif sandbox is not None and env.get("HOME"):
            # the CLI keeps its state in ~/.claude and ~/.claude.json
            home = Path(env["HOME"])
            (home / ".claude").mkdir(parents=True, exist_ok=True)
            sandbox = sandbox.allowing_writes(str(home / ".claude"), str(home / ".claude.json"))
        files = SafetyFiles.beside(request.log_path)
        if _guarded(request) and ENV_FILE_VAR not in env:  # the guards stay first on the Bash tool's PATH
            env[ENV_FILE_VAR] = str(Path(files.env_file).resolve())
            env[AGENT_PATH_ENV] = env.get("PATH", "")
        if sandbox is not None and _guarded(request):
            shown = (files.settings, files.policy, files.env_file)
            sandbox = sandbox.showing(*(str(Path(f).resolve()) for f in shown))
        argv = self.command(request, self._resolve(env))
        refused = self._write_safety(request)
        if refused is not None:
            return AgentResult(Outcome.FAILED, reason=refused)
        summary = StreamAccumulator()
        refusals = RefusalDetector()
        hooked = _guarded(request)  # our PreToolUse hook checks every tool call before it runs
        watchdog = _Watchdog(self.idle_timeout_s, self.tool_idle_timeout_s)
        leaders: list[int] = []
        cli: set[int] = set()  # the CLI's own processes, seen while it runs
        marker = f"{RUN_MARKER}={run_id}"

        def left_running() -> tuple[AgentEvent, ...]:
            """At the run's result: what it left running (the end of the attempt kills it)."""
            found = leftovers_refusal(left_behind(process_table(marker)[1], cli)) if cli else None
            return (found,) if found is not None else ()

        def on_start(process: AttemptProcess) -> None:
            leaders.append(process.group)
            _started(on_event, process)

        def on_line(line: str) -> str | None:
            watchdog.saw_line()
            for parsed in parse_line(line, self.prices):
                summary.feed(parsed)
                event = _mark_guarded(parsed) if hooked else parsed
                if leaders and not cli:  # its first line: the CLI surely runs
                    cli.update(cli_chain(process_table(marker)[0], leaders[0], 3 if sandbox else 1))
                left = left_running() if isinstance(parsed, Finished) else ()
                for reported in (*refusals.feed(event), *left, event):
                    reason = on_event(reported)
                    if reason is not None:
                        return reason
            return None

        def on_tick() -> str | None:
            return on_event(Tick()) or watchdog.check(summary.tool_running)

        logger.debug("starting claude", extra={"argv": argv, "cwd": request.workdir, "task": request.task_id})
        ended = run_marked(
            argv,
            env=env,
            agent="claude",
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
        result = _concluded(summary, watchdog, ended, request.timeout_s)
        logger.debug(
            "claude ended",
            extra={"task": request.task_id, "outcome": result.outcome.value, "reason": result.reason},
        )
        return result

    def _run_through(self, executor: Executor, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """One attempt with the CLI where ``executor`` runs it: the workspace goes there and back,
        the safety policy goes as a file beside the prompt, the settings (deny rules, the hook
        naming that file) inline on the command line, and the stream comes back line by line.
        A lost connection is a retryable failure (the executor has killed what it left there)."""
        hooked = _guarded(request)
        if hooked:
            dropping = sorted(HOOK_DROPPING_FLAGS.intersection(self.extra_args))
            if dropping:
                return AgentResult(
                    Outcome.FAILED,
                    reason=f"claude {' '.join(dropping)} turns the safety hook off; "
                    "remove it from the agent's extra_args",
                )
        prepared = executor.prepare(request.workdir)
        files: list[ExecFile] = []
        settings = None
        if hooked and request.safety is not None:
            files.append(ExecFile(POLICY_ENV, "safety-policy.json", policy_json(request.safety)))
            if ENV_FILE_VAR not in self.base_env and ENV_FILE_VAR not in request.env:
                files.append(ExecFile(ENV_FILE_VAR, "claude-env.sh", KEEP_PATH))  # its PATH, there
            settings = remote_settings(request.safety, prepared, self.hook_python)
        spec = ExecSpec(
            argv=self.command(request, self.executable, settings),
            cwd=prepared,
            env=self.environment(request.env),
            log_path=request.log_path,
            timeout_s=request.timeout_s,
            stdin_text=request.prompt,
            files=tuple(files),
        )
        summary = StreamAccumulator()
        refusals = RefusalDetector()
        watchdog = _Watchdog(self.idle_timeout_s, self.tool_idle_timeout_s)

        def on_line(line: str) -> str | None:
            watchdog.saw_line()
            for parsed in parse_line(line, self.prices):
                summary.feed(parsed)
                event = _mark_guarded(parsed) if hooked else parsed
                for reported in (*refusals.feed(event), event):
                    reason = on_event(reported)
                    if reason is not None:
                        return reason
            return None

        def on_tick() -> str | None:
            return on_event(Tick()) or watchdog.check(summary.tool_running)

        logger.debug("starting claude through an executor", extra={"cwd": prepared, "task": request.task_id})
        try:
            ended = executor.run(
                spec, on_line=on_line, on_tick=on_tick, on_start=lambda p: _started(on_event, p)
            )
        except BaseException:
            with contextlib.suppress(AgentUnavailable):
                executor.finish(request.workdir, prepared)
            raise
        try:
            executor.finish(request.workdir, prepared)
        except AgentUnavailable as exc:  # the work is on the host, not here: another attempt may do it
            return attrs.evolve(
                summary.outcome(None, ended.stderr_tail),
                outcome=Outcome.FAILED,
                reason=str(exc),
                exit_code=None,
                retryable=True,
            )
        if ended.lost is not None:
            return attrs.evolve(
                summary.outcome(None, ended.stderr_tail),
                outcome=Outcome.FAILED,
                reason=ended.lost,
                exit_code=None,
                retryable=True,
            )
        return _concluded(summary, watchdog, ended, request.timeout_s)


def _concluded(
    summary: StreamAccumulator, watchdog: _Watchdog, ended: ProcessResult | ExecResult, timeout_s: float
) -> AgentResult:
    """The attempt's result from its stream and how its process ended (killed: not the stream's verdict)."""
    result = summary.outcome(ended.exit_code, ended.stderr_tail)
    if ended.timed_out:
        return _cut_short(result, Outcome.TIMED_OUT, f"timed out after {timeout_s:g} s")
    if watchdog.fired is not None and ended.stopped == watchdog.fired:
        return _cut_short(result, Outcome.TIMED_OUT, ended.stopped)
    if ended.stopped is not None:
        return _cut_short(result, Outcome.STOPPED, ended.stopped)
    return result


def _mark_guarded(event: AgentEvent) -> AgentEvent:
    """A tool call the run's hook checks before it runs: the engine waits for the hook's verdict.
    The hook's own lifecycle events are in the log; they are not stored twice."""
    match event:
        case Other(name="raw", text=text) if text.startswith("system/hook_"):
            return attrs.evolve(event, stored=False)
        case ToolCall():
            return attrs.evolve(event, guarded=True)
        case _:
            return event


def _started(on_event: EventSink, process: AttemptProcess) -> None:
    on_event(ProcessStarted.of(process))


def _guarded(request: AgentRequest) -> bool:
    return request.safety is not None and request.safety.enabled


def _cut_short(result: AgentResult, outcome: Outcome, reason: str) -> AgentResult:
    """The run was killed: keep what was learnt (session id, cost if a result came) but not the verdict."""
    return attrs.evolve(result, outcome=outcome, reason=reason, exit_code=None)


def _optional(config: Mapping[str, object], key: str, kind: type | tuple[type, ...]) -> Any:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"agent.{key} has the wrong type: {value!r}")
    return value


def _words(config: Mapping[str, object], key: str) -> tuple[str, ...] | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split(","))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"agent.{key} must be a list of strings, found {value!r}")


def from_config(
    config: Mapping[str, object], base_env: Mapping[str, str], executor: Executor | None = None
) -> ClaudeCodeAgent:
    """Build from the ``agent`` config section (the registry's factory signature).

    Optional keys: executable, model, max_turns, permission_mode, allowed_tools,
    disallowed_tools, idle_timeout_s, tool_idle_timeout_s, max_retries, base_url,
    config_dir, extra_args, prices (model prefix -> {input, output, cache_write,
    cache_read} USD per million tokens, over the defaults). Absent or null means the default; other keys of the
    section (it is shared by every agent) are ignored. The API key is never read
    from the config file: pass ANTHROPIC_API_KEY through to ``base_env``. With ``executor`` (an
    SSH host, ...) the CLI runs there; ``hook_python`` then names the Python there that runs the
    safety hook (default: the executor's ``guard_python``, else this machine's interpreter path).
    """
    settings: dict[str, Any] = {"base_env": base_env, "executor": executor}
    hook_python = _optional(config, "hook_python", str) or getattr(executor, "guard_python", None)
    if hook_python:
        settings["hook_python"] = str(hook_python)
    for key, kind in (
        ("executable", str),
        ("model", str),
        ("max_turns", int),
        ("permission_mode", str),
        ("idle_timeout_s", (int, float)),
        ("tool_idle_timeout_s", (int, float)),
        ("max_retries", int),
        ("base_url", str),
        ("config_dir", str),
    ):
        value = _optional(config, key, kind)
        if value is not None:
            settings[key] = value
    for key in ("allowed_tools", "disallowed_tools", "extra_args"):
        words = _words(config, key)
        if words is not None:
            settings[key] = words
    if config.get("prices"):
        settings["prices"] = with_overrides(prices_from_config(config["prices"]))
    return ClaudeCodeAgent(**settings)
