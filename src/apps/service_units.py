"""systemd units for `orch serve` and `orch telegram`, written by `orch install-service`.

Hardened: the whole file system is read-only to orch (``ProtectSystem=strict``) except the
state dir, the workspace and what the agent CLIs keep in the home folder; no privilege can be
gained (``NoNewPrivileges``; bubblewrap needs none: it uses user namespaces); a private /tmp.
Secrets come from an ``EnvironmentFile`` (the ``.env`` next to the config), never from the
unit itself, which any user may read.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import attrs

# what the agent CLIs write in the home folder (optional: "-" lets a missing one pass)
AGENT_HOME_PATHS = (".claude", ".claude.json", ".codex", ".gemini", ".aider", ".cache", ".config/gcloud")


@attrs.frozen
class UnitPlan:
    """What the units need to know about this machine; paths absolute."""

    orch: str  # the orch executable
    config: str | None  # the config file (None: none, the defaults from working_dir)
    working_dir: str
    state_dir: str
    workspaces: tuple[str, ...]
    env_file: str
    home: str
    user: str | None = None  # system units: the account they run as (None: user units)
    host: str = "127.0.0.1"
    port: int = 8765


def _quoted(word: str) -> str:
    """One word for a unit's command line: systemd splits like a shell, and expands % and $."""
    return shlex.quote(word).replace("%", "%%").replace("$", "$$")


def _exec(plan: UnitPlan, args: Sequence[str]) -> str:
    words = [plan.orch, *args]
    if plan.config:
        words += ["--config", plan.config]
    return " ".join(_quoted(w) for w in words)


def _path(path: str) -> str:
    """A path in a unit's space-separated list of paths (C escapes, as systemd unescapes them)."""
    return path.replace("\\", "\\\\").replace(" ", "\\x20").replace("%", "%%")


def _single(path: str) -> str:
    """A path that is a setting's whole value: taken literally, but for % specifiers."""
    return path.replace("%", "%%")


def render_unit(plan: UnitPlan, what: str) -> str:
    """The unit text for ``what``: ``serve`` or ``telegram``."""
    if what == "serve":
        description = "orch webhook API (orch serve)"
        args: list[str] = ["serve", "--host", plan.host, "--port", str(plan.port)]
    elif what == "telegram":
        description = "orch Telegram bot (orch telegram)"
        args = ["telegram"]
    else:
        raise ValueError(f"no unit for {what!r}: serve or telegram")
    writable = [plan.state_dir, *plan.workspaces]
    optional = [f"{plan.home}/{name}" for name in AGENT_HOME_PATHS]
    rw = " ".join([*(_path(p) for p in dict.fromkeys(writable)), *(f"-{_path(p)}" for p in optional)])
    account = f"User={plan.user}\n" if plan.user else ""
    wanted = "multi-user.target" if plan.user else "default.target"
    return (
        "# Written by `orch install-service`; edit freely, or write it again with that command.\n"
        "[Unit]\n"
        f"Description={description}\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        f"{account}"
        f"WorkingDirectory={_single(plan.working_dir)}\n"
        f"ExecStart={_exec(plan, args)}\n"
        "# secrets (ORCH_WEBHOOK_SECRET, ORCH_TELEGRAM_BOT_TOKEN, ANTHROPIC_API_KEY, ...): keep it chmod 600\n"
        f"EnvironmentFile=-{_single(plan.env_file)}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        "RestartSec=5s\n"
        "# a running task is marked interrupted on stop and runs again on the next resume\n"
        "KillMode=mixed\n"
        "TimeoutStopSec=30s\n"
        "NoNewPrivileges=yes\n"
        "ProtectSystem=strict\n"
        "PrivateTmp=yes\n"
        "ProtectKernelTunables=yes\n"
        "ProtectKernelModules=yes\n"
        "ProtectControlGroups=yes\n"
        "RestrictSUIDSGID=yes\n"
        "LockPersonality=yes\n"
        f"ReadWritePaths={rw}\n"
        "\n"
        "[Install]\n"
        f"WantedBy={wanted}\n"
    )


UNIT_NAMES = {"serve": "orch-serve.service", "telegram": "orch-telegram.service"}
