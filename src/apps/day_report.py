"""Writing the day's report: gather the day's sessions from the store, build the DayReport
(orchcore.day_report), add the LLM's summary when a model answers, and write
``<results dir>/DATE-report.md`` and ``.html`` (apps.day_report_render).

Called by the engine whenever a session ends (finished, failed, halted on budget, cancelled),
by ``orch cancel`` on a session no engine drives, and by ``orch report --day [DATE]``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from orchcore.day_report import ENDED, DayReport, SessionRecords, build_day_report, sessions_of_day

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.ports.store import Store
    from orchcore.ports.summarizer import SummaryUnavailable
    from orchcore.records import Snapshot

log = logging.getLogger("apps.day_report")


@attrs.frozen
class WrittenReport:
    """Where the day's report went, and what it says."""

    markdown: Path
    html: Path
    report: DayReport


def report_paths(results_dir: Path, day: date) -> tuple[Path, Path]:
    """``results/DATE-report.md`` and ``results/DATE-report.html``."""
    stem = f"{day:%Y-%m-%d}-report"
    return results_dir / f"{stem}.md", results_dir / f"{stem}.html"


def day_records(store: Store, day: date, tz: tzinfo) -> list[SessionRecords]:
    """The records of every session that did something on ``day`` (in ``tz``)."""
    start = datetime.combine(day, time(0), tz)
    end = start + timedelta(days=1)
    candidates = [s for s in store.sessions() if s.created_at < end and s.updated_at >= start]
    records = [SessionRecords(store.load(s.id), tuple(store.events(s.id))) for s in candidates]
    return sessions_of_day(records, day, tz)


def build(rt: Runtime, day: date | None = None, *, summarize: bool | None = None) -> DayReport:
    """The report of ``day`` (default: today in the budget's time zone), with the LLM's summary
    when ``report.summary`` is on (or ``summarize`` says so) and a model answers."""
    budget = rt.settings.budget_policy()
    now = rt.clock.now()
    chosen = day or now.astimezone(budget.tz).date()
    records = day_records(rt.store, chosen, budget.tz)
    start = datetime.combine(chosen, time(0), budget.tz)
    end = start + timedelta(days=1)
    spent = sum(
        (
            r.attempt.cost_usd
            for r in rt.store.attempts_since(start)
            if r.attempt.cost_usd is not None and r.attempt.started_at < end
        ),
        Decimal(0),
    )
    report = build_day_report(
        records, chosen, now, budget.tz, spent_usd=spent, limit_usd=budget.daily_limit_usd
    )
    if summarize is False:
        return attrs.evolve(
            report, summary_note="No LLM summary asked this time: `orch report --day` asks for one"
        )
    if summarize is None and not rt.settings.report.summary:
        return attrs.evolve(report, summary_note="No LLM summary: off (report.summary: false)")
    return with_summary(rt, report)


def with_summary(rt: Runtime, report: DayReport) -> DayReport:
    """``report`` with the model's summary, or with the reason there is none (the rules stay)."""
    from orchcore.day_advice import summary_request
    from orchcore.ports.summarizer import SummaryUnavailable

    if not report.tasks:
        return attrs.evolve(report, summary_note="No LLM summary: nothing ran this day")
    answer = rt.summarize(summary_request(report))
    if isinstance(answer, SummaryUnavailable):
        return attrs.evolve(report, summary_note=_note(answer))
    return attrs.evolve(
        report, summary=answer.text, summary_note=f"Summary written by {answer.model or 'the model'}"
    )


def _note(why: SummaryUnavailable) -> str:
    return (
        f"no LLM summary: {why.reason}"
        + (f" ({why.hint})" if why.hint else "")
        + "; the rules below stand alone"
    )


def write_day_report(rt: Runtime, day: date | None = None, *, summarize: bool | None = None) -> WrittenReport:
    """Build the day's report and write it in both formats (OSError if the folder cannot be written)."""
    from apps.day_report_render import render_html, render_markdown

    report = build(rt, day, summarize=summarize)
    md, html = report_paths(rt.settings.results_dir, report.day)
    md.parent.mkdir(parents=True, exist_ok=True)
    _write(md, render_markdown(report))
    _write(html, render_html(report, rt.charts()))
    return WrittenReport(md, html, report)


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole: a reader never sees half a report."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def report_if_ended(rt: Runtime, session_id: str, *, summarize: bool | None = None) -> WrittenReport | None:
    """Write the day's report when ``session_id`` has ended; None (and a logged warning) when it
    has not, or the report could not be written: a report never fails the session it tells of."""
    try:
        if rt.store.session(session_id).state not in ENDED:
            return None
        written = write_day_report(rt, summarize=summarize)
    except Exception as exc:  # noqa: BLE001 - a full disk, a bug in a chart: the session is over anyway
        log.warning("the day's report was not written: %s: %s", type(exc).__name__, exc)
        return None
    log.info("day report written to %s and %s", written.markdown, written.html)
    return written


def report_after_command(
    rt: Runtime, before: Snapshot, after: Snapshot, *, summarize: bool | None = None
) -> WrittenReport | None:
    """A command (``cancel``, first) ended a session no engine drives: write the day's report, as
    the engine would have. A driven session's engine writes it when it sees the end."""
    ended = after.session.state in ENDED and before.session.state not in ENDED
    if not ended or rt.store.lease_holder(after.session.id) is not None:
        return None
    return report_if_ended(rt, after.session.id, summarize=summarize)
