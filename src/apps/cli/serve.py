"""`orch serve`: the webhook server for remote control (n8n, scripts, bots).

Registered in apps.cli.main; heavy imports (starlette, uvicorn) happen inside.
"""

from typing import Annotated

import typer


def serve_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback needs a secret.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.", min=0, max=65535)] = 8765,
    insecure_local: Annotated[
        bool,
        typer.Option(
            "--insecure-local",
            help="Serve without a secret; only on 127.0.0.1, ::1 or localhost. Anyone on this machine "
            "can then control your sessions.",
        ),
    ] = False,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
    secure_cookie: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookie/--no-secure-cookie",
            help="Mark the dashboard's login cookie Secure (sent over https only). Default: when the "
            "request came over https; pass --secure-cookie behind a TLS-terminating proxy.",
        ),
    ] = None,
) -> None:
    """Serve the webhook API (POST /webhook/*, GET /health, GET /openapi.json) and the dashboard
    (/ui/), and run the
    sessions it starts. The secret comes from $ORCH_WEBHOOK_SECRET or a .env file next to
    the config; send it as the X-Orch-Secret header."""
    from apps.cli.main import BAD_INPUT, errors, fail
    from apps.logs import configure_logging
    from apps.settings import load_settings
    from apps.web.server import prepare

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        fail(
            BAD_INPUT,
            f"orch serve needs the serve extra ({exc.name} is missing): pip install 'orchcore-cli[serve]'",
        )
    with errors():
        settings = load_settings(config)
        ready = prepare(settings, host, port, insecure_local, secure_cookie=secure_cookie)
        configure_logging(settings)
        log = (
            settings.path(settings.logging.file) if settings.logging.file else settings.state_dir / "orch.log"
        )
        auth = "NO secret (--insecure-local)" if insecure_local and not ready.secured else "secret required"
        where = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL writes it
        typer.echo(f"orch serve: listening on {where}:{ready.port}, {auth}; log: {log}", err=True)
        typer.echo(f"orch serve: dashboard at http://{where}:{ready.port}/ui/", err=True)
        ready.run()
