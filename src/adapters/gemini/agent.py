"""Gemini CLI (``gemini -p``) as an orchcore Agent."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from adapters.gemini.controls import (
    MAX_ATTEMPTS_CAP,
    USAGE_DIR,
    RunFiles,
    secure_for_system_settings,
    workspace_turns_hooks_off,
)
from adapters.gemini.events import RunTally, retrying
from adapters.gemini.prices import PRICES, Price
from adapters.gemini.stream import Result, parse_line
from adapters.process import RUN_MARKER, run_marked
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, ProcessStarted, Tick
from orchcore.records import Outcome
from orchcore.sandbox import AttemptProcess

logger = logging.getLogger(__name__)

MIN_VERSION = (0, 61, 0)
INSTALL_HINT = (
    "install it with scripts/install-gemini-cli.sh (pinned, into .tools/gemini) "
    "or `npm install -g @google/gemini-cli`, and point the agent's executable at it"
)
APPROVAL_MODES = frozenset({"default", "auto_edit", "yolo", "plan"})
CREDENTIAL_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
DEFAULT_MODEL = "gemini-2.5-flash"
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)")
_VERSION_TIMEOUT_S = 60.0


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"0.61.0"`` -> ``(0, 61, 0)``; None if it does not start with a version."""
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def _approval_mode(_: object, __: attrs.Attribute[Any], value: str) -> None:
    if value not in APPROVAL_MODES:
        raise ConfigError(f"gemini approval_mode {value!r} is not one of {', '.join(sorted(APPROVAL_MODES))}")


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ConfigError(f"gemini {attribute.name} must not be negative, got {value}")


def _positive_turns(_: object, __: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"gemini max_turns must be at least 1, got {value}")


def _retries(_: object, __: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value < MAX_ATTEMPTS_CAP:
        raise ConfigError(
            f"gemini max_retries must be 0 to {MAX_ATTEMPTS_CAP - 1} (the CLI's cap), got {value}"
        )


def _env(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.define
class _Watchdog:
    """Says when the CLI has been silent too long; allows more silence while a tool runs
    (the CLI prints nothing while a model turn streams in or a shell command runs)."""

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


@attrs.frozen(kw_only=True)
class GeminiAgent:
    """Runs a task with the real Gemini CLI headless, streaming its events.

    Satisfies ``orchcore.ports.Agent``. One run is ``gemini -p "" --output-format
    stream-json --skip-trust --approval-mode=MODE --model=MODEL`` in
    ``request.workdir`` with the prompt on stdin (the CLI appends ``-p`` to its
    stdin: the prompt is never in argv). The CLI's state (sessions, for
    ``--resume``) lives in a private ``GEMINI_CLI_HOME``; its settings are the run's
    system settings (``controls.RunFiles``), which no workspace file overrides.

    Approval defaults to ``yolo``: headless, ``default`` drops the shell and file
    tools from the registry and ``auto_edit`` the shell, so a task could not be
    done. The safety policy is then enforced by orch's BeforeTool hook, the
    workspace guards and the sandbox, not by asking a human.
    """

    executable: str = "gemini"
    base_env: Mapping[str, str] = attrs.field(factory=dict, converter=_env, repr=False)
    model: str = DEFAULT_MODEL
    approval_mode: str = attrs.field(default="yolo", validator=_approval_mode)
    max_turns: int | None = attrs.field(default=None, validator=_positive_turns)
    excluded_tools: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    idle_timeout_s: float | None = attrs.field(default=900.0, validator=_non_negative)
    tool_idle_timeout_s: float | None = attrs.field(default=1800.0, validator=_non_negative)
    max_retries: int = attrs.field(default=2, validator=_retries)
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    home_dir: str | None = None
    prices: Mapping[str, Price] = attrs.field(factory=lambda: dict(PRICES))
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def home(self, request: AgentRequest) -> Path:
        """The CLI's private home (``GEMINI_CLI_HOME``): configured, or beside the session's logs."""
        return (
            Path(self.home_dir)
            if self.home_dir is not None
            else Path(request.log_path).parent / "gemini-home"
        )

    def environment(self, request: AgentRequest) -> dict[str, str]:
        """The child's environment: base, then the adapter's settings, then the request's."""
        env = dict(self.base_env)
        env.update(
            {
                "GEMINI_CLI_HOME": str(self.home(request).resolve()),
                "GEMINI_CLI_NO_RELAUNCH": "true",  # one node process, not a relaunched child
                "NO_COLOR": "1",
            }
        )
        if self.base_url is not None:
            env["GOOGLE_GEMINI_BASE_URL"] = self.base_url
        if self.api_key is not None:
            env["GEMINI_API_KEY"] = self.api_key
        env.update(request.env)
        return env

    def command(
        self, request: AgentRequest, executable: str | None = None, *, resume: bool = True
    ) -> list[str]:
        """The argv of one run (the prompt goes to stdin, not here); ``resume`` False starts afresh."""
        argv = [executable or self.executable, "-p", "", "--output-format", "stream-json", "--skip-trust"]
        argv.append(f"--approval-mode={self.approval_mode}")
        argv.append(f"--model={self.model}")
        if resume and request.resume_agent_session is not None:
            argv.append(f"--resume={request.resume_agent_session}")
        argv.extend(self.extra_args)
        return argv

    def _resolve(self, env: Mapping[str, str]) -> str:
        found = shutil.which(self.executable, path=env.get("PATH", os.defpath))
        if found is None:
            raise AgentUnavailable(f"gemini executable {self.executable!r} not found; {INSTALL_HINT}")
        return found

    def check(self) -> None:
        """Raise AgentUnavailable unless the executable runs, is at least 0.61.0 and has an API key."""
        env = {**self.base_env, "GEMINI_CLI_NO_RELAUNCH": "true"}
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
            wanted, have = ".".join(map(str, MIN_VERSION)), ".".join(map(str, version))
            raise AgentUnavailable(f"gemini {have} at {executable} is older than {wanted}; {INSTALL_HINT}")
        if self.api_key is None and not any(self.base_env.get(name) for name in CREDENTIAL_ENV):
            raise AgentUnavailable(
                "Gemini CLI has no API key: no GEMINI_API_KEY or GOOGLE_API_KEY in the agent's environment; "
                "export GEMINI_API_KEY (orch passes it to the agent, never in argv or logs)"
            )

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """Run one attempt to its end; see ``orchcore.ports.Agent``.

        Every stream line becomes typed events sent to ``on_event`` as they arrive,
        and a ``Tick`` at least every second. Outcomes: the result line decides
        (``status: error`` is FAILED); timeout or silence past the watchdog's limit
        is TIMED_OUT; the sink asking to stop is STOPPED. In every case the whole
        process group is gone on return.
        """
        env = self.environment(request)
        env[RUN_MARKER] = run_id = uuid.uuid4().hex
        home = self.home(request).resolve()
        files = RunFiles.for_run(home, request.log_path)
        guarded = request.safety is not None and request.safety.enabled
        try:
            home.mkdir(parents=True, exist_ok=True)
            files.write(
                request.safety,
                max_attempts=self.max_retries + 1,
                excluded_tools=self.excluded_tools,
                max_turns=self.max_turns,
                usage_dir=str(home / USAGE_DIR),
            )
        except OSError as exc:
            return AgentResult(
                Outcome.FAILED,
                reason=f"cannot write the Gemini CLI settings next to {request.log_path}: {exc}",
            )
        if secure_for_system_settings(Path(files.settings)):
            env["GEMINI_CLI_SYSTEM_SETTINGS_PATH"] = files.settings  # above the workspace's own settings
        elif guarded and (why := workspace_turns_hooks_off(request.workdir)) is not None:
            return AgentResult(Outcome.FAILED, reason=f"gemini: {why}; remove it or run orch as root")
        sandbox = request.sandbox
        if sandbox is not None:  # the CLI keeps its sessions in its home; the hook reads the policy
            shown = (str(home), files.policy) if guarded else (str(home),)
            sandbox = sandbox.allowing_writes(str(home)).showing(*shown)
        resume = request.resume_agent_session
        if resume is not None and not has_session(home, resume):
            # an attempt that failed before its first turn saved nothing: --resume would exit 42
            logger.info(
                "gemini session %s was never saved: starting afresh", resume, extra={"task": request.task_id}
            )
        argv = self.command(
            request, self._resolve(env), resume=resume is not None and has_session(home, resume)
        )
        tally = RunTally(guarded=guarded, model=self.model, prices=self.prices)
        watchdog = _Watchdog(self.idle_timeout_s, self.tool_idle_timeout_s)
        usage = UsageFile(home / USAGE_DIR / f"{run_id}.jsonl")

        def responses() -> str | None:
            """Each response the AfterModel hook saw end since the last look, to the budget."""
            for counts in usage.new():
                reason = on_event(tally.response_usage(*counts))
                if reason is not None:
                    return reason
            return None

        def on_line(line: str) -> str | None:
            watchdog.saw_line()
            parsed = parse_line(line)
            if isinstance(parsed, Result):  # the total replaces what the hook reported: none after it
                usage.close()
            elif (stop := responses()) is not None:
                return stop
            for event in tally.feed(parsed):
                reason = on_event(event)
                if reason is not None:
                    return reason
            return None

        def on_stderr_line(line: str) -> str | None:
            retry = retrying(line, self.max_retries)
            if retry is None:
                return None
            watchdog.saw_line()  # the CLI is alive: it waits out its backoff
            return on_event(retry)

        def on_tick() -> str | None:
            return on_event(Tick()) or responses() or watchdog.check(tally.tool_running)

        def on_start(process: AttemptProcess) -> None:
            on_event(ProcessStarted(process.group, process.leader_start, process.marker))

        logger.debug("starting gemini", extra={"argv": argv, "cwd": request.workdir, "task": request.task_id})
        try:
            ended = run_marked(
                argv,
                env=env,
                agent="gemini",
                task_id=request.task_id,
                cwd=request.workdir,
                stdin_text=request.prompt,
                log_path=request.log_path,
                timeout_s=request.timeout_s,
                on_line=on_line,
                on_tick=on_tick,
                sandbox=sandbox,
                on_start=on_start,
                on_stderr_line=on_stderr_line,
            )
        finally:
            usage.remove()
        for event in tally.flush():  # a message the CLI was cut off in
            on_event(event)
        result = tally.outcome(ended.exit_code, ended.stderr_tail)
        if ended.timed_out:
            result = _cut_short(result, Outcome.TIMED_OUT, f"timed out after {request.timeout_s:g} s")
        elif watchdog.fired is not None and ended.stopped == watchdog.fired:
            result = _cut_short(result, Outcome.TIMED_OUT, ended.stopped)
        elif ended.stopped is not None:
            result = _cut_short(result, Outcome.STOPPED, ended.stopped)
        logger.debug(
            "gemini ended",
            extra={"task": request.task_id, "outcome": result.outcome.value, "reason": result.reason},
        )
        return result


@attrs.define
class UsageFile:
    """The AfterModel hook's usage lines of one run, read as they are appended."""

    path: Path
    offset: int = 0
    closed: bool = False

    def new(self) -> list[tuple[int, int, int]]:
        """``(input, output, total)`` of each response appended since the last call."""
        if self.closed:
            return []
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        found = []
        for line in complete.splitlines():
            try:
                counts = json.loads(line)
                found.append((int(counts["input"]), int(counts["output"]), int(counts["total"])))
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line: the run's total corrects it at the end
        return found

    def close(self) -> None:
        """Read no more (the run's result came)."""
        self.closed = True

    def remove(self) -> None:
        self.closed = True
        self.path.unlink(missing_ok=True)


def has_session(home: Path, session_id: str) -> bool:
    """Whether the CLI saved a resumable session ``session_id`` under ``home``: its chat file
    (``.gemini/tmp/<project>/chats/session-<time>-<first 8 of the id>.jsonl``, the id in the first
    line) holds a model reply. A run that failed at its first API call keeps only the context
    (0.61.0 rolls the prompt back), and ``--resume`` of it exits 42."""
    if not re.fullmatch(r"[0-9a-fA-F-]{8,64}", session_id):
        return False
    for chat in home.glob(f".gemini/tmp/*/chats/session-*-{session_id[:8]}.jsonl"):
        try:
            text = chat.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if session_id in text.partition("\n")[0] and '"type":"gemini"' in text:
            return True
    return False


def _cut_short(result: AgentResult, outcome: Outcome, reason: str) -> AgentResult:
    """The run was killed: keep what was learnt (session id, cost if a result came) but not the verdict."""
    return attrs.evolve(result, outcome=outcome, reason=reason, exit_code=None, retryable=False)


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


def _usd(where: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ConfigError(f"{where} must be a number of USD per million tokens, found {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{where} must be a number of USD per million tokens, found {value!r}")
    return amount


def _price(where: str, value: object) -> Price:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where} must be a mapping {{input, output, cached}} (USD per million), found {value!r}"
        )
    odd = sorted(set(value) - {"input", "output", "cached"})
    missing = [k for k in ("input", "output") if k not in value]
    if odd or missing:
        what = [f"unknown key {k!r}" for k in odd] + [f"missing {k!r}" for k in missing]
        raise ConfigError(f"{where}: {', '.join(what)} (expected input, output and optionally cached)")
    input_usd = _usd(f"{where}.input", value["input"])
    cached = value.get("cached")
    return Price(
        input_usd,
        _usd(f"{where}.output", value["output"]),
        input_usd if cached is None else _usd(f"{where}.cached", cached),
    )


def _prices(config: Mapping[str, object]) -> dict[str, Price] | None:
    """The price table with the config's overrides: ``price`` for every model, ``prices`` by model prefix."""
    one, table = config.get("price"), config.get("prices")
    if one is None and table is None:
        return None
    prices = dict(PRICES)
    if one is not None:
        flat = _price("agent.price", one)
        prices = {"": flat}  # the empty prefix matches every model
    if table is not None:
        if not isinstance(table, Mapping):
            raise ConfigError(f"agent.prices must map model prefixes to prices, found {table!r}")
        prices.update({str(k): _price(f"agent.prices.{k}", v) for k, v in table.items()})
    return prices


def from_config(config: Mapping[str, object], base_env: Mapping[str, str]) -> GeminiAgent:
    """Build from the ``agent`` config section (the registry's factory signature).

    Optional keys: executable, model, approval_mode, max_turns, excluded_tools,
    idle_timeout_s, tool_idle_timeout_s, max_retries, base_url, home_dir,
    extra_args, price ({input, output, cached} USD per million, for every model)
    and prices ({MODEL_PREFIX: {...}}). Absent or null means the default; other
    keys of the section (it is shared by every agent) are ignored. The API key is
    never read from the config file: pass GEMINI_API_KEY through to ``base_env``.
    """
    settings: dict[str, Any] = {"base_env": base_env}
    problems: list[str] = []

    def take(key: str, read: Callable[[], object]) -> None:
        try:
            value = read()
        except ConfigError as exc:
            problems.append(str(exc))
            return
        if value is not None:
            settings[key] = value

    for key, kind in (
        ("executable", str),
        ("model", str),
        ("approval_mode", str),
        ("max_turns", int),
        ("idle_timeout_s", (int, float)),
        ("tool_idle_timeout_s", (int, float)),
        ("max_retries", int),
        ("base_url", str),
        ("home_dir", str),
    ):
        take(key, partial(_optional, config, key, kind))
    for key in ("excluded_tools", "extra_args"):
        take(key, partial(_words, config, key))
    take("prices", partial(_prices, config))
    if problems:  # every problem at once, not the first
        raise ConfigError("\n".join(problems))
    return GeminiAgent(**settings)
