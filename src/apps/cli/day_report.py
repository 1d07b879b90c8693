"""`orch report --day [DATE]`: the day's report across every session, written to the results dir."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.records import Snapshot


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` (None: today), or exit 2 saying what was expected."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        from apps.cli.main import BAD_INPUT, fail

        fail(BAD_INPUT, f"--day: found {text!r}, expected a date such as 2026-12-01 (or nothing: today)")


def day_report(ctx: typer.Context, day_text: str | None, config: str | None, output: Path | None) -> None:
    """Write the day's report (``-o DIR``: into DIR instead of the results dir) and say where."""
    import attrs

    from apps.cli.main import BAD_INPUT, errors, fail, runtime
    from apps.day_report import write_day_report

    day = parse_day(day_text)
    with errors():
        rt = runtime(ctx, config, read_only=True)
        if output is not None:
            rt.settings = attrs.evolve(
                rt.settings, report=attrs.evolve(rt.settings.report, dir=str(output.resolve()))
            )
        try:
            written = write_day_report(rt, day)
        except OSError as exc:
            fail(BAD_INPUT, f"cannot write the day's report to {rt.settings.results_dir}: {exc.strerror}")
    report = written.report
    rate = "-" if report.success_rate is None else f"{report.success_rate:.0%}"
    typer.echo(
        f"day report {report.day:%Y-%m-%d}: {len(report.sessions)} session(s), {len(report.tasks)} task(s), "
        f"success rate {rate}"
    )
    typer.echo(f"written to {written.markdown} and {written.html}")


def say_where_the_report_is(rt: Runtime, snap: Snapshot) -> None:
    """After a run that ended the session: one line naming the day's report the engine wrote."""
    from apps.day_report import report_paths
    from orchcore.day_report import ENDED

    if snap.session.state not in ENDED:
        return
    day = rt.clock.now().astimezone(rt.settings.budget_policy().tz).date()
    md, html = report_paths(rt.settings.results_dir, day)
    if md.is_file() and html.is_file():
        typer.echo(f"day report: {md} (and {html.name})")
