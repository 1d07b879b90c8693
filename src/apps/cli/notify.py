"""`orch notify`: show the notifications still waiting in the outbox, or deliver the due ones.

Registered in apps.cli.main; imports happen inside, so `orch --help` stays fast.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from orchcore.records import OutboxEntry


def _row(entry: "OutboxEntry") -> dict[str, Any]:
    from orchcore.delivery import held_back
    from orchcore.redact import redact

    n = entry.notification
    return {
        "key": n.key,
        "session": n.session_id,
        "channel": entry.channel,
        "kind": n.kind.value,
        "title": n.title,
        "created_at": n.created_at.isoformat(),
        "attempts": entry.attempts,
        "next_attempt_at": None if entry.gave_up else entry.next_attempt_at.isoformat(),
        "gave_up": entry.gave_up,
        "held_back": held_back(entry),
        "last_error": redact(entry.last_error),
    }


def notify_command(
    ctx: typer.Context,
    flush: Annotated[
        bool,
        typer.Option(
            "--flush",
            help="Deliver every notification that is due now; exit 8 if any is still undelivered "
            "(waiting for a retry, or given up now). For cron and CI.",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Start no delivery after this many seconds.", min=0.1)
    ] = 30.0,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session (default: all sessions).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")] = False,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """List the notifications not delivered yet (with their last error), or with --flush
    deliver the due ones now. Retries back off from 2 s to 5 min; after a day one is given up."""
    from datetime import timedelta

    from apps.cli.main import OK, UNDELIVERED, errors, runtime
    from apps.cli.render import undelivered_line
    from apps.notify import log_report
    from orchcore.delivery import DeliveryReport, claim_for, deliver_due, held_back
    from orchcore.redact import redact
    from orchcore.service import resolve_session

    with errors():
        rt = runtime(ctx, config)
        sid = None if session is None else resolve_session(rt.store, session)
        report = DeliveryReport()
        if flush:
            deadline = rt.clock.now() + timedelta(seconds=timeout)
            claim_s = claim_for(rt.settings.notifications.timeout_s)
            report = deliver_due(
                rt.store, rt.notifiers(), rt.clock, rt.delivery, deadline=deadline, claim_s=claim_s
            )
            log_report(report)
        left = rt.store.undelivered(sid)
        now_open = [e for e in left if e.open]
    if json_out:
        import json

        typer.echo(
            json.dumps(
                {
                    "delivered": len(report.delivered),
                    "failed": len(report.failures),
                    "gave_up": report.gave_up,
                    "undelivered": [_row(e) for e in left],
                },
                indent=2,
            )
        )
    else:
        if flush:
            typer.echo(
                f"delivered {len(report.delivered)}, failed {len(report.failures) - report.gave_up}"
                + (f", gave up {report.gave_up}" if report.gave_up else "")
                + (" (stopped at the time limit)" if report.stopped_at_deadline else "")
            )
        typer.echo(undelivered_line(left) or "every notification was delivered")
        for e in left:
            when = "given up" if e.gave_up else f"next try {e.next_attempt_at.astimezone():%H:%M:%S}"
            if held_back(e):
                when = f"held back after {e.attempts} failures, {when}"
            error = f": {redact(e.last_error)}" if e.last_error else ""
            typer.echo(f"  {e.key} -> {e.channel} ({e.attempts} attempts, {when}){error}")
    if flush and (now_open or report.gave_up):
        raise typer.Exit(UNDELIVERED)
    raise typer.Exit(OK)
