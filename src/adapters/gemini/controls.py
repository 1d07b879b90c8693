"""The safety policy and the adapter's settings compiled into Gemini CLI's own controls.

One settings file in the CLI's private home (``GEMINI_CLI_HOME``), also handed to
it as its *system* settings (``GEMINI_CLI_SYSTEM_SETTINGS_PATH``) where it accepts
them (root-owned, not group/other-writable up to ``/``): they then take precedence
over a workspace's ``.gemini/settings.json``. Where they cannot, a workspace file
that could switch hooks off is refused. The auth type lives in the same file, so
a CLI that skipped it cannot run at all (exit 41): the hook never silently goes.
They hold:

- the auth type ``gemini-api-key`` (without it ``GOOGLE_GEMINI_BASE_URL`` makes
  0.61.0 exit 41, "Invalid auth method selected");
- a ``BeforeTool`` hook on ``run_shell_command|write_file|replace`` running
  ``python -I -m adapters.gemini.hook POLICY``: orchcore's shell-aware
  matcher decides, a denial is ``{"decision": "deny", "reason": ...}``;
- ``tools.exclude`` (tools the model is never offered), ``tools.sandbox: false``
  (its Docker sandbox needs an image no registry here has; orch's own sandbox
  wraps the CLI instead), ``general.maxAttempts`` (the CLI's own API retries),
  ``model.maxSessionTurns``;
- an ``AfterModel`` hook (``adapters/gemini/usage_hook.py``, standard library only) that appends
  each finished response's ``usageMetadata`` to ``USAGE_DIR/<run marker>.jsonl``, which the
  agent reads while the CLI runs, so a budget sees the cost mid-run;
- no update checks, usage statistics or telemetry (nothing leaves for Google but
  the model calls), and the API key redacted from the environment its tools get.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import cattrs

from adapters.gemini.tools import GUARDED_TOOLS
from orchcore.safety import SafetyPolicy

HOOK_MODULE = "adapters.gemini.hook"
HOOK_TIMEOUT_MS = 30_000
USAGE_HOOK_TIMEOUT_MS = 10_000
USAGE_DIR = "orch-usage"
"""Under the CLI's home: where the AfterModel hook appends each response's usage, one file per run."""
MAX_ATTEMPTS_CAP = 10  # the CLI refuses more
SECRET_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
"""The CLI's credentials: redacted from what its tools see."""

_converter = cattrs.Converter()


def policy_json(policy: SafetyPolicy) -> str:
    """The policy as the JSON the hook reads (the default cattrs shape of the attrs classes)."""
    return json.dumps(_converter.unstructure(policy), indent=1, sort_keys=True)


def hook_command(policy_path: str, python: str | None = None) -> str:
    """The shell command the CLI runs for the hook (``python -I``: nothing in the workspace shadows it);
    the workspace is the ``cwd`` of the hook's input, the CLI's own working directory."""
    return shlex.join([python or sys.executable, "-I", "-m", HOOK_MODULE, policy_path])


def usage_hook_command(usage_dir: str, python: str | None = None) -> str:
    """The shell command the CLI runs after every model chunk: the standard-library usage hook,
    without ``site`` (it starts on every chunk)."""
    script = str(Path(__file__).with_name("usage_hook.py").resolve())
    return shlex.join([python or sys.executable, "-I", "-S", script, usage_dir])


def gemini_settings(
    *,
    max_attempts: int,
    excluded_tools: Sequence[str] = (),
    max_turns: int | None = None,
    hook: str | None = None,
    usage_hook: str | None = None,
) -> dict[str, Any]:
    """The system settings of one run; ``hook`` is the BeforeTool command (None: no policy),
    ``usage_hook`` the AfterModel one (None: usage only at the end)."""
    settings: dict[str, Any] = {
        "security": {
            "auth": {"selectedType": "gemini-api-key"},
            "environmentVariableRedaction": {"enabled": True, "blocked": list(SECRET_ENV)},
        },
        "general": {
            "maxAttempts": max(1, min(max_attempts, MAX_ATTEMPTS_CAP)),
            "enableAutoUpdate": False,
            "enableAutoUpdateNotification": False,
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "tools": {"sandbox": False},
    }
    if excluded_tools:
        settings["tools"]["exclude"] = list(excluded_tools)
    if max_turns is not None:
        settings["model"] = {"maxSessionTurns": max_turns}
    if hook is not None:
        definition = {
            "type": "command",
            "name": "orchcore-safety",
            "command": hook,
            "timeout": HOOK_TIMEOUT_MS,
        }
        settings["hooks"] = {"BeforeTool": [{"matcher": "|".join(GUARDED_TOOLS), "hooks": [definition]}]}
    if usage_hook is not None:
        usage = {
            "type": "command",
            "name": "orchcore-usage",
            "command": usage_hook,
            "timeout": USAGE_HOOK_TIMEOUT_MS,
        }
        settings.setdefault("hooks", {})["AfterModel"] = [{"hooks": [usage]}]
    return settings


def secure_for_system_settings(path: Path) -> bool:
    """Whether the CLI would read ``path`` as system settings: it and every directory above it
    owned by root and not writable by group or others (0.61.0 skips the file otherwise)."""
    for item in (path, *path.parents):
        try:
            found = item.stat()
        except OSError:
            return False
        if found.st_uid != 0 or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def workspace_turns_hooks_off(workdir: str) -> str | None:
    """Why the workspace's own ``.gemini/settings.json`` could switch orch's hook off, or None.

    Project settings take precedence over user settings: where the run's settings cannot be
    system settings, a project file with ``hooksConfig`` (or one orch cannot read) is refused.
    """
    project = Path(workdir) / ".gemini" / "settings.json"
    if not project.exists():
        return None
    try:
        text = project.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {project}: {exc}"
    if "hooksConfig" in text:
        return f"{project} sets hooksConfig, which could switch orch's safety hook off"
    return None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o644)
    temporary.replace(path)


@attrs.frozen
class RunFiles:
    """Where the CLI's settings and orch's policy file go: the settings in the CLI's private
    home, the policy the hook reads beside the session's logs, out of the agent's reach (the
    home is writable for the agent, the logs are not: a policy it could rewrite would let it
    switch the hook off).

    The settings are the home's *user* settings (``.gemini/settings.json``); where the
    CLI accepts them as system settings too (:func:`secure_for_system_settings`), the
    run points ``GEMINI_CLI_SYSTEM_SETTINGS_PATH`` at the same file, so no workspace
    file overrides them. The same content for every run of one agent and policy:
    parallel runs sharing the home rewrite the same bytes.
    """

    settings: str
    policy: str

    @classmethod
    def for_run(cls, home: Path, log_path: str) -> RunFiles:
        """``HOME/.gemini/settings.json`` and ``<log dir>/gemini-safety-policy.json``."""
        return cls(
            settings=str(home / ".gemini" / "settings.json"),
            policy=str(Path(log_path).resolve().parent / "gemini-safety-policy.json"),
        )

    def write(
        self,
        policy: SafetyPolicy | None,
        *,
        max_attempts: int,
        excluded_tools: Sequence[str] = (),
        max_turns: int | None = None,
        python: str | None = None,
        usage_dir: str | None = None,
    ) -> None:
        """Write the settings (and the policy when there is one); raises OSError. With
        ``usage_dir`` (created here), each response's usage is appended there as it ends."""
        hook = None
        if policy is not None and policy.enabled:
            policy_path = str(Path(self.policy).resolve())
            _write_atomically(Path(self.policy), policy_json(policy) + "\n")
            hook = hook_command(policy_path, python)
        usage_hook = None
        if usage_dir is not None:
            Path(usage_dir).mkdir(parents=True, exist_ok=True)
            usage_hook = usage_hook_command(str(Path(usage_dir).resolve()), python)
        settings = gemini_settings(
            max_attempts=max_attempts,
            excluded_tools=excluded_tools,
            max_turns=max_turns,
            hook=hook,
            usage_hook=usage_hook,
        )
        _write_atomically(Path(self.settings), json.dumps(settings, indent=1) + "\n")
