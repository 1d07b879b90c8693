"""Aider (PyPI ``aider-chat``) as an orchcore Agent: one ``--message-file`` turn, its text read into events."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from adapters.aider.prices import ModelPrice, parse_price
from adapters.aider.stream import AiderOutput
from adapters.process import run_marked
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, ProcessStarted, Tick
from orchcore.records import AttemptProcess, Outcome

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with scripts/install-aider.sh (pinned aider-chat in its own venv under .tools/aider) "
    "and point the agent's executable at .tools/aider/current/bin/aider"
)
KEY_ENV = "OPENAI_API_KEY"
"""Where the key goes: the child's environment, never argv (``ps`` shows argv)."""
SAFETY_FLAGS = (
    "--no-git",  # no repository handle at all: Aider can neither commit nor move a ref
    "--no-auto-commits",
    "--no-dirty-commits",
    "--no-gitignore",
    "--no-suggest-shell-commands",  # with --yes-always it would run the commands the model suggests
    "--no-detect-urls",  # a URL in the prompt would be fetched
    "--no-auto-lint",
    "--no-auto-test",
    "--yes-always",
    "--no-pretty",
    "--no-fancy-input",
    "--no-check-update",
    "--analytics-disable",
    "--no-show-model-warnings",
    "--no-show-release-notes",
    "--no-restore-chat-history",
    "--no-notifications",
)
_VERSION_TIMEOUT_S = 120.0


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ConfigError(f"aider {attribute.name} must not be negative, got {value}")


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def safe_prompt(prompt: str) -> str:
    """The prompt as Aider must read it: a leading ``/`` or ``!`` would run an Aider command
    (``/run git commit``, ``/git push``), so such a prompt is put under a plain first line."""
    return f"Task:\n{prompt}" if prompt.lstrip()[:1] in ("/", "!") else prompt


@attrs.frozen(kw_only=True)
class AiderAgent:
    """Runs a task with the real Aider CLI in one non-interactive turn.

    Satisfies ``orchcore.ports.Agent``. The prompt goes in a file (``--message-file``), the key in
    the environment; Aider's config, caches and histories live in a private home (``config_dir``),
    never in the workspace; it runs with ``--no-git`` and never commits. Its output is plain text
    (``AiderOutput``): edits and usage are read from it, shell commands are never run.
    """

    executable: str = "aider"
    base_env: Mapping[str, str] = attrs.field(factory=dict, converter=dict, repr=False)
    model: str = "openai/gpt-4.1"
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    config_dir: str | None = None
    edit_format: str = "diff"
    idle_timeout_s: float | None = attrs.field(default=900.0, validator=_non_negative)
    price: ModelPrice | None = None
    files: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def home(self, request: AgentRequest) -> Path:
        """Aider's private HOME: ``config_dir``, else ``~/.cache/orchcore/aider`` (outside the workspace)."""
        if self.config_dir is not None:
            return Path(self.config_dir).expanduser().resolve()
        if self.base_env.get("HOME"):
            return Path(self.base_env["HOME"]) / ".cache" / "orchcore" / "aider"
        return Path(request.log_path).resolve().parent / "aider-home"

    def environment(self, home: Path, request_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: base, the private HOME, the key, then the request's (guards' PATH)."""
        env = dict(self.base_env)
        env.update(
            {
                "HOME": str(home),
                "TMPDIR": str(home / "tmp"),
                "NO_COLOR": "1",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.api_key is not None:
            env[KEY_ENV] = self.api_key
        env.update(request_env or {})
        return env

    def command(self, home: Path, message_file: Path, executable: str | None = None) -> list[str]:
        """The argv of one run: no secret, no prompt text (both are out of ``ps``)."""
        argv = [executable or self.executable, "--model", self.model]
        if self.base_url is not None:
            argv += ["--openai-api-base", self.base_url]
        argv += [
            "--config",  # only this (empty) file: a .aider.conf.yml in the workspace cannot undo the flags
            str(home / "aider.conf.yml"),
            "--env-file",
            str(home / "aider.env"),
            "--chat-history-file",
            str(home / "chat.history.md"),
            "--input-history-file",
            str(home / "input.history"),
            "--edit-format",
            self.edit_format,
            "--map-tokens",
            "0",
            *SAFETY_FLAGS,
            *self.extra_args,
            "--message-file",
            str(message_file),
            *self.files,
        ]
        return argv

    def _resolve(self, env: Mapping[str, str]) -> str:
        found = shutil.which(self.executable, path=env.get("PATH", os.defpath))
        if found is None:
            raise AgentUnavailable(f"aider executable {self.executable!r} not found; {INSTALL_HINT}")
        return found

    def check(self) -> None:
        """Raise AgentUnavailable unless the executable runs (``--version``) and a key is there."""
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
        if done.returncode != 0 or "aider" not in done.stdout.lower():
            said = (done.stdout + done.stderr).strip()[-300:] or f"exit code {done.returncode}"
            raise AgentUnavailable(f"{executable} --version failed: {said}; {INSTALL_HINT}")
        if not (self.api_key or env.get(KEY_ENV)):
            raise AgentUnavailable(
                f"Aider has no API key: no {KEY_ENV} in the agent's environment; export it (orch passes it to the agent)"
            )

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """Run one attempt to its end; see ``orchcore.ports.Agent``.

        Aider exits 0 even when the API failed, so the outcome comes from what it printed
        (``AiderOutput.outcome``); the timeout or the silence limit is TIMED_OUT, the sink
        asking to stop is STOPPED. The process group is gone on return.
        """
        home = self.home(request)
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        (home / "aider.conf.yml").write_text("# written by orch: every setting is on the command line\n{}\n")
        message_file = home / f"message-{uuid.uuid4().hex}.txt"
        message_file.write_text(safe_prompt(request.prompt))
        env = self.environment(home, request.env)
        sandbox = request.sandbox.allowing_writes(str(home)) if request.sandbox is not None else None
        argv = self.command(home, message_file, self._resolve(env))
        price = self.price
        output = AiderOutput(
            model=self.model, pricer=price.cost if price is not None else None, sandboxed=sandbox is not None
        )

        def on_start(process: AttemptProcess) -> None:
            on_event(ProcessStarted(process.group, process.leader_start, process.marker))

        def on_line(line: str) -> str | None:
            for event in output.feed(line):
                reason = on_event(event)
                if reason is not None:
                    return reason
            return None

        logger.debug("starting aider", extra={"argv": argv, "cwd": request.workdir, "task": request.task_id})
        try:
            ended = run_marked(
                argv,
                env=env,
                agent="aider",
                task_id=request.task_id,
                cwd=request.workdir,
                stdin_text="",
                log_path=request.log_path,
                timeout_s=request.timeout_s,
                on_line=on_line,
                on_tick=lambda: on_event(Tick()),
                idle_timeout_s=self.idle_timeout_s,
                sandbox=sandbox,
                on_start=on_start,
            )
        finally:
            message_file.unlink(missing_ok=True)
        result = output.outcome(ended.exit_code, ended.stderr_tail)
        if ended.timed_out:
            return _cut_short(result, Outcome.TIMED_OUT, f"timed out after {request.timeout_s:g} s")
        if ended.idle_timed_out:
            return _cut_short(result, Outcome.TIMED_OUT, f"no output for {self.idle_timeout_s:g} s")
        if ended.stopped is not None:
            return _cut_short(result, Outcome.STOPPED, ended.stopped)
        on_event(output.finished())
        return result


def _cut_short(result: AgentResult, outcome: Outcome, reason: str) -> AgentResult:
    """The run was killed: keep the cost so far, not the verdict."""
    return attrs.evolve(
        result, outcome=outcome, reason=reason, exit_code=None, retryable=False, final_text=""
    )


_KINDS: Mapping[str, type | tuple[type, ...]] = {
    "executable": str,
    "model": str,
    "base_url": str,
    "config_dir": str,
    "edit_format": str,
    "idle_timeout_s": (int, float),
}


def _string_list(config: Mapping[str, object], key: str, problems: list[str]) -> tuple[str, ...] | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(f"agent.{key} must be a list of strings, found {value!r}")
    return None


def from_config(config: Mapping[str, object], base_env: Mapping[str, str]) -> AiderAgent:
    """Build from the ``agent`` config section (the registry's factory signature).

    Optional keys: executable, model (litellm's name, e.g. ``openai/gpt-4.1``), base_url,
    config_dir, edit_format, idle_timeout_s, price ({input, output} USD per million tokens),
    files (added to the chat), extra_args. Every problem is reported at once. The key is never
    read from the config file: pass OPENAI_API_KEY through to ``base_env``.
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
    for key in ("files", "extra_args"):
        found = _string_list(config, key, problems)
        if found is not None:
            settings[key] = found
    if config.get("price") is not None:
        try:
            settings["price"] = parse_price(config["price"])
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        return AiderAgent(**settings)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"agent: {exc}") from exc
