"""`orch telegram`: remote control through a Telegram bot, without n8n.

Registered in apps.cli.main; imports happen inside, so `orch --help` stays fast.
"""

from typing import Annotated

import typer


def telegram_command(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Bot API server (default: https://api.telegram.org; or your local Bot API server).",
        ),
    ] = None,
    poll_timeout: Annotated[
        int,
        typer.Option("--poll-timeout", help="Seconds one long poll may wait for a message.", min=1, max=50),
    ] = 30,
) -> None:
    """Run the Telegram bot: it takes /start /status /approve /reject /pause /resume /skip
    /answer /logs /help from the chats in $ORCH_TELEGRAM_CHAT_IDS (others are ignored) and runs
    the sessions it starts. The token comes from $ORCH_TELEGRAM_BOT_TOKEN or a .env file next
    to the config. Stop it with Ctrl-C."""
    from apps.cli.main import errors
    from apps.logs import configure_logging
    from apps.settings import load_settings
    from apps.telegram.bot import run_bot

    def notice(message: str) -> None:
        typer.echo(f"orch telegram: {message}", err=True)

    with errors():
        settings = load_settings(config)
        configure_logging(settings)
        log = (
            settings.path(settings.logging.file) if settings.logging.file else settings.state_dir / "orch.log"
        )
        notice(f"starting; log: {log}")
        try:
            run_bot(settings, api_url=api_url, poll_timeout_s=poll_timeout, notice=notice)
        except KeyboardInterrupt:
            notice("stopped; a task cut short runs again on `orch resume` (or /resume)")
