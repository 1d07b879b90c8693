"""`orch doctor` and `orch backup`: is this machine ready for a run, and a safe copy of its state.

Registered in apps.cli.main; imports happen inside, so `orch --help` stays fast.
"""

from pathlib import Path
from typing import Annotated

import typer

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "--  "}


def doctor_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")] = False,
    send_test: Annotated[
        bool, typer.Option("--send-test", help="Send a test message to every notification channel.")
    ] = False,
    host: Annotated[
        str, typer.Option("--host", help="The address `orch serve` will listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", help="The port `orch serve` will listen on.", min=1, max=65535)
    ] = 8765,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """Check everything a run needs: Python and orch, the agent CLI (found, version, logged in),
    the sandbox, git, the state dir, the config, the judge (Ollama), notification channels, the
    webhook secret, the serve port and the clock. Each miss says its fix. Exit 0 when nothing
    failed (warnings are said), 1 otherwise."""
    import json

    import attrs

    from apps.bootstrap import host_probes
    from apps.cli.terminal import terminal_safe
    from apps.doctor import run_checks
    from orchcore.doctor import exit_code, summary

    checks = run_checks(config, host_probes(), host=host, port=port, send_test=send_test)
    code = exit_code(checks)
    if json_out:
        rows = [{**attrs.asdict(c), "status": c.status.value} for c in checks]
        typer.echo(json.dumps({"ok": code == 0, "summary": summary(checks), "checks": rows}, indent=2))
        raise typer.Exit(code)
    for c in checks:
        lines = c.detail.splitlines() or [""]
        typer.echo(terminal_safe(f"{MARKS[c.status.value]} {c.name}: {lines[0]}"))
        for more in lines[1:]:
            typer.echo(terminal_safe(f"       {more}"))
        if c.fix:
            typer.echo(terminal_safe(f"       fix: {c.fix}"))
    typer.echo(summary(checks))
    raise typer.Exit(code)


def backup_command(
    dest: Annotated[
        str | None,
        typer.Argument(
            help="The copy's file, or a folder (an existing one, or ending in /) for a dated file in it "
            "(default: the state dir's backups/)."
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """Copy the state database while runs go on (SQLite's online backup), then verify the copy
    (PRAGMA integrity_check). Restore: stop orch, copy the file back to state.db."""
    from datetime import UTC, datetime

    from apps.bootstrap import backup_state
    from apps.cli.main import errors
    from apps.settings import load_settings

    with errors():
        settings = load_settings(config)
        name = f"state-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
        if dest is None:
            target = settings.state_dir / "backups" / name
        elif dest.endswith("/") or Path(dest).expanduser().is_dir():
            target = Path(dest).expanduser() / name
        else:
            target = Path(dest).expanduser()
        path, size, schema, sessions = backup_state(settings, target)
    typer.echo(f"backup written to {path}: {size} bytes, schema {schema}, {sessions} sessions, integrity ok")
