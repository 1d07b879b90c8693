"""`orch shell`: the interactive prompt. Registered in apps.cli.main; imports happen inside."""

from typing import Annotated

import typer


def shell_command(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """An interactive prompt with the bot's commands (start, status, approve, reject, answer,
    pause, resume, skip, retry, cancel, logs, report) plus sessions and use: Tab completes
    commands, task ids and session ids; the prompt shows the session's state; the sessions it
    starts or resumes run in the background while you type. History: shell_history in the state dir."""
    from apps.cli.main import errors, runtime
    from apps.commands import Commands
    from apps.notify import sending
    from apps.shell import HISTORY_FILE, OrchShell, history
    from apps.worker import SessionWorker

    with errors():
        rt = runtime(ctx, config)
        worker = SessionWorker(rt, name="orch-shell-engine")
        shell = OrchShell(Commands(rt, worker, "shell"))
        worker.start()
        try:
            with history(rt.settings.state_dir / HISTORY_FILE), sending(rt):
                shell.cmdloop()
        except KeyboardInterrupt:
            typer.echo("")
        finally:
            worker.stop()
