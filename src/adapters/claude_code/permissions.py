"""The safety policy compiled into Claude Code's own controls: permission deny rules and a PreToolUse hook.

Both go into one settings file passed with ``--settings`` (never with ``--bare``
or ``--safe-mode``, which drop hooks). The deny rules are best effort (prefix
rules are easy to get around); the hook runs orchcore's shell-aware matcher on
every Bash, Write, Edit, MultiEdit and NotebookEdit call and denies with the
JSON decision 2.1.197 honours in ``-p`` mode. The hook's entry point is
``adapters.claude_code.hook``; this module names it, and writes and reads the
policy in the JSON the workspace guards (``adapters.guards.policy_file``) read too.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import attrs
import cattrs

from orchcore.ports.executor import AGENT_PATH_ENV
from orchcore.safety import SafetyPolicy, command_patterns

HOOK_MODULE = "adapters.claude_code.hook"
HOOK_MATCHER = "Bash|Write|Edit|MultiEdit|NotebookEdit"
HOOK_TIMEOUT_S = 30
POLICY_ENV = "ORCH_SAFETY_POLICY"
"""Where a CLI that runs elsewhere finds its policy file: the hook names it through this variable."""
HOOK_DROPPING_FLAGS = frozenset({"--bare", "--safe-mode"})
"""CLI flags that silently turn hooks off; a run with a safety policy refuses them."""

_converter = cattrs.Converter(forbid_extra_keys=True)


class PolicyFileError(Exception):
    """The policy file is missing or does not hold a policy."""


def policy_json(policy: SafetyPolicy) -> str:
    """The policy as the JSON ``adapters.guards`` reads (the default cattrs shape of the attrs classes)."""
    return json.dumps(_converter.unstructure(policy), indent=1, sort_keys=True)


def load_policy(path: str | Path) -> SafetyPolicy:
    """Read a policy file ``policy_json`` wrote; PolicyFileError if it cannot be read or is not a policy."""
    try:
        return _converter.structure(json.loads(Path(path).read_text(encoding="utf-8")), SafetyPolicy)
    except (OSError, ValueError, cattrs.BaseValidationError) as exc:
        raise PolicyFileError(f"cannot read the safety policy {path}: {exc}") from exc


def hook_command(policy_path: str, workdir: str, python: str | None = None) -> str:
    """The shell command Claude Code runs for the hook (``python -I``: nothing in the workspace shadows it)."""
    return shlex.join([python or sys.executable, "-I", "-m", HOOK_MODULE, policy_path, workdir])


def claude_settings(
    policy: SafetyPolicy, policy_path: str, workdir: str, python: str | None = None
) -> dict[str, Any]:
    """The ``--settings`` content: ``permissions.deny`` and the ``PreToolUse`` hook."""
    hook = {
        "type": "command",
        "command": hook_command(policy_path, workdir, python),
        "timeout": HOOK_TIMEOUT_S,
    }
    return {
        "permissions": {"deny": deny_rules(policy)},
        "hooks": {"PreToolUse": [{"matcher": HOOK_MATCHER, "hooks": [hook]}]},
    }


def remote_settings(policy: SafetyPolicy, workdir: str, python: str | None = None) -> str:
    """The ``--settings`` JSON text for a CLI on another host: the hook reads the policy file the
    executor wrote there (``$ORCH_SAFETY_POLICY``), and denies when it cannot run at all (no Python
    or no orchcore there): a hook that fails otherwise would let the call through."""
    refuse = shlex.quote(deny_output("orchcore: the safety hook could not run on this host"))
    command = (
        f'{shlex.join([python or sys.executable, "-I", "-m", HOOK_MODULE])} "${POLICY_ENV}" '
        f"{shlex.quote(workdir)} || printf '%s\\n' {refuse}"
    )
    hook = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}
    settings = {
        "permissions": {"deny": deny_rules(policy)},
        "hooks": {"PreToolUse": [{"matcher": HOOK_MATCHER, "hooks": [hook]}]},
    }
    return json.dumps(settings, separators=(",", ":"))


def deny_output(reason: str) -> str:
    """The PreToolUse hook output that denies the tool call with ``reason`` (what 2.1.197 honours headless)."""
    decision = {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": reason,
    }
    return json.dumps({"hookSpecificOutput": decision})


ENV_FILE_VAR = "CLAUDE_ENV_FILE"
KEEP_PATH = f'if [ -n "${{{AGENT_PATH_ENV}:-}}" ]; then export PATH="${AGENT_PATH_ENV}"; fi\n'
"""The ``CLAUDE_ENV_FILE`` the CLI sources before every Bash command, after its shell snapshot:
a snapshot (or the login shell it falls back to) rebuilds PATH from the user's profile, which
would put directories before orch's guard shims; this puts the run's own PATH back."""


@attrs.frozen
class SafetyFiles:
    """Where one run's Claude settings and policy files go: next to its log."""

    settings: str
    policy: str

    @classmethod
    def beside(cls, log_path: str) -> SafetyFiles:
        """``<log>.claude-settings.json`` and ``<log>.safety-policy.json``."""
        return cls(settings=f"{log_path}.claude-settings.json", policy=f"{log_path}.safety-policy.json")

    @property
    def env_file(self) -> str:
        """``<log>.claude-env.sh``: the ``CLAUDE_ENV_FILE`` that keeps the run's PATH."""
        return self.settings.removesuffix(".claude-settings.json") + ".claude-env.sh"

    def write(self, policy: SafetyPolicy, workdir: str, python: str | None = None) -> None:
        """Write both files (raises OSError); the settings name the policy file by absolute path."""
        policy_path = str(Path(self.policy).resolve())
        Path(self.policy).parent.mkdir(parents=True, exist_ok=True)
        Path(self.policy).write_text(policy_json(policy) + "\n", encoding="utf-8")
        settings = claude_settings(policy, policy_path, workdir, python)
        Path(self.settings).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
        Path(self.env_file).write_text(KEEP_PATH, encoding="utf-8")


def deny_rules(policy: SafetyPolicy) -> list[str]:
    """Claude Code permission deny rules for the policy: each forbidden command pattern in its
    syntax (``git commit *`` is ``Bash(git commit:*)``; a pattern with ``*`` inside stays a glob)."""
    rules = []
    for pattern in command_patterns(policy):
        head = pattern.removesuffix(" *")
        rules.append(f"Bash({head}:*)" if head != pattern and "*" not in head else f"Bash({pattern})")
    return rules
