"""`orch install-service`: systemd units for `orch serve` and `orch telegram`.

Registered in apps.cli.main; imports happen inside, so `orch --help` stays fast.
"""

from pathlib import Path
from typing import Annotated

import typer


def install_service_command(
    user: Annotated[
        bool,
        typer.Option(
            "--user", help="User units in ~/.config/systemd/user (no root; `loginctl enable-linger`)."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the units and where they go; write nothing.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Write the units here instead of the systemd folder."),
    ] = None,
    run_as: Annotated[
        str | None,
        typer.Option(
            "--run-as", help="System units: the account they run as (default: you; under sudo give yours)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Where `orch serve` listens (keep loopback behind a proxy).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", help="The port of `orch serve`.", min=1, max=65535)
    ] = 8765,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """Write orch-serve.service and orch-telegram.service: hardened (ProtectSystem=strict,
    NoNewPrivileges, PrivateTmp, writable only the state dir, the workspace and the agents'
    folders), secrets from the .env next to the config (EnvironmentFile), restarted on failure."""
    from apps.cli.main import BAD_INPUT, errors, fail
    from apps.service_units import UNIT_NAMES, UnitPlan, render_unit
    from apps.settings import load_settings

    with errors():
        settings = load_settings(config)
    plan = UnitPlan(
        orch=_orch_executable(),
        config=str(Path(settings.source).resolve()) if settings.source else None,
        working_dir=str(Path(settings.base_dir).resolve()),
        state_dir=str(settings.state_dir),
        workspaces=(str(settings.path(settings.paths.workdir)),),
        env_file=str((Path(settings.base_dir) / ".env").resolve()),
        home=str(Path.home()),
        user=None if user else (run_as or _account()),
        host=host,
        port=port,
    )
    target = directory or (Path.home() / ".config/systemd/user" if user else Path("/etc/systemd/system"))
    units = {UNIT_NAMES[what]: render_unit(plan, what) for what in ("serve", "telegram")}
    if dry_run:
        for name, text in units.items():
            typer.echo(f"# {target / name}\n{text}")
        return
    try:
        # ReadWritePaths= must exist when the unit starts, or it fails with 226/NAMESPACE
        Path(plan.state_dir).mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in units.items():
            (target / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        hint = " (system units need root: sudo, or --user)" if not user else ""
        fail(BAD_INPUT, f"cannot write the units in {target}: {exc.strerror}{hint}")
    ctl = "systemctl --user" if user else "sudo systemctl"
    typer.echo(f"wrote {', '.join(str(target / n) for n in units)}")
    typer.echo(f"next: {ctl} daemon-reload && {ctl} enable --now orch-serve orch-telegram")
    if not Path(plan.env_file).is_file():
        typer.echo(f"secrets: put ORCH_WEBHOOK_SECRET=... (and the bot token) in {plan.env_file}, chmod 600")


def _orch_executable() -> str:
    """The absolute path of the running orch (a unit's ExecStart must be absolute)."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "orch"
    if beside.is_file():
        return str(beside)
    found = shutil.which("orch")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.argv[0]).resolve())


def _account() -> str:
    import getpass

    return getpass.getuser()
