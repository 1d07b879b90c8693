"""`orch doctor`: run every probe a day's run depends on and judge each with orchcore.doctor.

Each check is independent: one that cannot run says why and the others still run, so a
single `orch doctor` lists everything that is missing, each with its fix.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from apps import secrets
from apps.settings import AGENT_ENV_NAMES, JudgeMode, Settings, agent_environment, load_settings
from orchcore import doctor as d
from orchcore.errors import AgentUnavailable, ConfigError, NotifyError, OrchError
from orchcore.sandbox import SandboxMode

if TYPE_CHECKING:
    from apps.bootstrap import HostProbes
    from orchcore.ports.supervisor import JudgeUnavailable

DEFAULT_EXECUTABLES = {
    "claude": "claude",
    "claude_code": "claude",
    "codex": "codex",
    "gemini": "gemini",
    "aider": "aider",
}


def run_checks(
    config: str | None,
    probes: HostProbes,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    send_test: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[d.Check]:
    """Every check, in the order a user sets things up."""
    checks = [_python(), _orch()]
    settings, config_check = _config(config, environ)
    checks.append(config_check)
    steps: list[Callable[[], list[d.Check]]] = [
        lambda: _agents(settings, probes, environ),
        lambda: [_sandbox(settings, probes)],
        lambda: [_git(probes)],
        lambda: [_state_dir(settings, probes)],
        lambda: [_judge(settings)],
        lambda: _channels(settings, probes, send_test=send_test, environ=environ),
        lambda: [_webhook_secret(settings, environ)],
        lambda: [d.port_check(host, port, probes.port_problem(host, port))],
        lambda: [d.clock_check(probes.time_zone_name(), probes.ntp_synchronised(), None)],
    ]
    for step in steps:
        try:
            checks.extend(step())
        except OrchError as exc:  # one probe's trouble is its own line, never the end of doctor
            checks.append(
                d.fail("doctor", f"a check could not run: {exc}", "fix the cause above and run it again")
            )
    return checks


def _python() -> d.Check:
    version = ".".join(map(str, sys.version_info[:3]))  # 3.11 at least: pip refuses to install on older
    return d.ok("python", f"Python {version} at {sys.executable}")


def _orch() -> d.Check:
    from importlib import metadata

    try:
        version = metadata.version("orchcore-cli")
    except metadata.PackageNotFoundError:
        return d.warn(
            "orch",
            "orch runs from a source tree that is not installed",
            'install it from a checkout: pipx install "orchcore-cli[all] @ git+file://$PWD" (or scripts/setup)',
        )
    return d.ok("orch", f"orchcore-cli {version}")


def _config(config: str | None, environ: Mapping[str, str] | None) -> tuple[Settings, d.Check]:
    try:
        settings = load_settings(config, environ=environ)
    except ConfigError as exc:
        problems = str(exc).splitlines()
        detail = "\n".join(problems) if len(problems) > 1 else problems[0]
        fix = "fix the lines above; the other checks use the defaults meanwhile"
        return Settings(), d.fail("config", detail, fix)
    if not settings.source:
        return settings, d.ok("config", "no config file found: the defaults (`orch init` writes one)")
    return settings, d.ok("config", f"{settings.source}: no problems")


def _agents(settings: Settings, probes: HostProbes, environ: Mapping[str, str] | None) -> list[d.Check]:
    from apps.bootstrap import build_runtime

    name = settings.agent.name
    title = f"agent {name}"
    executable = settings.agent.options.get("executable") or DEFAULT_EXECUTABLES.get(name)
    if executable is None and settings.agent.command:
        executable = settings.agent.command[0]
    env = agent_environment(settings, environ)
    rt = build_runtime(settings, read_only=True, in_memory=True)
    try:
        try:
            rt.agents(name).check()
        except AgentUnavailable as exc:
            return [
                d.fail(
                    title,
                    str(exc),
                    "set agent.command in the config (README: The command agent), or pick another agent (agent.name)"
                    if name == "command"
                    else f"install or log in to the {name} CLI as said above, or pick another agent (agent.name)",
                )
            ]
        except ConfigError as exc:
            return [d.fail(title, str(exc), "fix the agent section of the config")]
    finally:
        rt.close()
    version = ""
    if executable and settings.agent.executor.kind == "local":
        said, _ = probes.command_version(str(executable), ("--version",), env)
        version = f" {said}" if said else ""
    keys = [n for n in AGENT_ENV_NAMES.get(name, ()) if ("KEY" in n or "TOKEN" in n) and env.get(n)]
    login = f"; credentials: {', '.join(keys)} set" if keys else ""
    where = (
        "" if settings.agent.executor.kind == "local" else f" on the {settings.agent.executor.kind} executor"
    )
    return [d.ok(title, f"{executable or name}{version}{where}: ready{login}")]


def _sandbox(settings: Settings, probes: HostProbes) -> d.Check:
    executor = settings.agent.executor
    remote = None
    if executor.kind != "local":
        remote = f"{executor.kind} host {executor.host}" if executor.host else f"the {executor.kind} executor"
    probe_it = remote is None and settings.sandbox.mode is not SandboxMode.OFF
    found, why = probes.bwrap() if probe_it else (None, "")
    return d.sandbox_check(settings.sandbox.mode, remote, found, why)


def _git(probes: HostProbes) -> d.Check:
    said, why = probes.command_version("git", ("--version",), None)
    if said is None:
        return d.fail("git", why, "apt-get install git (checkpoints, worktrees and the safety guards use it)")
    return d.ok("git", said)


def _state_dir(settings: Settings, probes: HostProbes) -> d.Check:
    folder = settings.state_dir
    problem = probes.writable_problem(folder)
    try:
        schema = probes.schema_version(settings.db_path)
    except OrchError as exc:
        return d.fail("state dir", str(exc), "restore it from a backup (`orch backup`), or move it away")
    return d.state_dir_check(
        str(folder),
        writable=problem,
        filesystem=probes.filesystem_type(folder),
        schema=schema,
        expected_schema=probes.expected_schema,
    )


def _judge(settings: Settings) -> d.Check:
    from apps.bootstrap import build_runtime

    sv = settings.supervisor
    if sv.judge is JudgeMode.OFF:
        return d.skip("judge", "off in the config (supervisor.judge: off)")
    rt = build_runtime(settings, read_only=True, in_memory=True)
    try:
        judge = rt.supervisor()
        probe = getattr(judge, "probe", None)  # the Ollama adapter's one-request check, not the port's
        found: int | JudgeUnavailable | None = probe() if callable(probe) else None
    finally:
        rt.close()
    if isinstance(found, int):
        return d.ok("judge", f"Ollama at {sv.host}: {sv.model} is pulled, context {found} tokens")
    reason = "the judge cannot be asked" if found is None else found.reason
    hint = "" if found is None else found.hint
    # the judge never blocks a run: without it attempts are judged by the gates alone
    return d.warn(
        "judge", f"{reason}; attempts are judged by the gates alone", hint or "or set supervisor.judge: off"
    )


def _channels(
    settings: Settings, probes: HostProbes, *, send_test: bool, environ: Mapping[str, str] | None
) -> list[d.Check]:
    from apps.bootstrap import Channels

    n = settings.notifications
    if not n.channels:
        return [d.skip("notifications", "no channels configured (notifications.channels)")]
    channels = Channels(settings, environ)
    checks: list[d.Check] = []
    try:
        built = channels.notifiers()
        for name, notifier in built.items():
            title = f"channel {name}"
            problem = next((p for p in channels.problems if f"channel {name!r}" in p), None)
            if problem is not None:
                checks.append(d.fail(title, problem, "set what the message names (config or .env)"))
                continue
            url = {"n8n": n.n8n_url, "telegram": n.telegram_api_url or "https://api.telegram.org"}.get(name)
            away = probes.unreachable(url) if url else None
            if away is not None:
                checks.append(d.fail(title, away, f"check the network and the {name} URL in the config"))
                continue
            if send_test:
                checks.append(_send_test(name, notifier))
            else:
                reach = f"{_host_of(url)} is reachable" if url else "ready"
                checks.append(d.ok(title, f"{reach} (`orch doctor --send-test` sends a test message)"))
    finally:
        channels.close()
    return checks


def _send_test(name: str, notifier: object) -> d.Check:
    import uuid
    from datetime import UTC, datetime

    from orchcore.ports.notifier import Notification, NotificationKind

    title = f"channel {name}"
    message = Notification(
        key=f"doctor-{uuid.uuid4().hex}",
        session_id="doctor",
        kind=NotificationKind.SESSION_STARTED,
        title="orch doctor: test message",
        text="If you read this, orch can reach you here.",
        created_at=datetime.now(UTC),
    )
    try:
        notifier.send(message)  # type: ignore[attr-defined]
    except NotifyError as exc:
        return d.fail(
            title, f"the test message was not delivered: {exc}", "check the channel's URL and secrets"
        )
    return d.ok(title, "test message sent")


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _webhook_secret(settings: Settings, environ: Mapping[str, str] | None) -> d.Check:
    where = secrets.dotenv_path(settings)
    fix = f"put {secrets.WEBHOOK_SECRET}=$(openssl rand -hex 32) in {where} (or the environment)"
    try:
        secret = secrets.webhook_secret(settings, environ)
    except ConfigError as exc:
        return d.fail("webhook secret", str(exc), f"make {where} readable")
    if secret is None:
        return d.warn(
            "webhook secret", f"{secrets.WEBHOOK_SECRET} is not set: `orch serve` will refuse to start", fix
        )
    if len(secret.reveal()) < 16:
        return d.warn("webhook secret", f"{secrets.WEBHOOK_SECRET} is shorter than 16 characters", fix)
    return d.ok("webhook secret", f"{secrets.WEBHOOK_SECRET} is set")
