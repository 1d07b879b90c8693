"""The day's report as markdown and as one self-contained HTML page with charts (Charts port).

The HTML has no script and fetches nothing: styles are inline, charts are inline SVG, and
the layout is one column that fits a phone (tables scroll sideways inside their box).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from orchcore.budget import amount_text, usd
from orchcore.day_advice import duration_text
from orchcore.day_report import DayReport, TaskLine
from orchcore.ports.charts import Charts, TimeBar

MAX_TIMELINE_ROWS = 40  # more tasks than that: one row per session
MAX_COST_BARS = 25  # the costliest tasks; the rest summed as one bar
NO_CHARTS = "no charts: install orchcore-cli with its [report] extra, or: pipx inject orchcore-cli pygal"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _money(value: Decimal | None) -> str:
    return "-" if value is None else amount_text(value)


def _num(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _at(report: DayReport, at: datetime | None) -> str:
    if at is None:
        return "-"
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        local = at.astimezone(ZoneInfo(report.tz))
    except (ZoneInfoNotFoundError, ValueError):
        local = at
    return f"{local:%H:%M:%S}"


def _wait(seconds: float | None) -> str:
    return "-" if seconds is None else duration_text(seconds)


def headline(report: DayReport) -> list[tuple[str, str]]:
    """The day in a few numbers: (label, value)."""
    rate = "-" if report.success_rate is None else f"{report.success_rate:.0%}"
    tokens_in = sum(t.tokens_in or 0 for t in report.tasks)
    tokens_out = sum(t.tokens_out or 0 for t in report.tasks)
    limit = "(no daily limit)" if report.limit_usd is None else f"of the ${report.limit_usd} daily limit"
    hit = "" if report.budget_hit_at is None else f"; budget hit at {report.budget_hit_at:%H:%M}"
    return [
        ("Sessions", str(len(report.sessions))),
        ("Tasks", f"{len(report.tasks)} ({report.succeeded} done of {report.finished} finished)"),
        ("Success rate", rate),
        ("Agent time", duration_text(sum(t.seconds for t in report.tasks))),
        ("Waiting for a human", duration_text(sum(t.human_wait_s for t in report.tasks))),
        ("Retries", str(sum(len(t.retries) for t in report.tasks))),
        ("Cost", f"{usd(report.spent_usd)} {limit}{hit}"),
        ("Tokens", f"{tokens_in:,} in, {tokens_out:,} out"),
        ("Safety events", str(len(report.safety))),
    ]


def _task_row(t: TaskLine) -> list[str]:
    checks = t.checks or "-"
    return [
        t.key,
        t.title,
        t.type,
        t.outcome,
        str(t.attempts),
        duration_text(t.seconds) if t.attempts else "-",
        _wait(t.human_wait_s) if t.human_wait_s else "-",
        _money(t.cost_usd),
        _num(t.tokens_in),
        _num(t.tokens_out),
        "-" if t.confidence is None else f"{t.confidence:.2f}",
        checks,
    ]


TASK_HEAD = [
    "Task",
    "Title",
    "Type",
    "Outcome",
    "Attempts",
    "Time",
    "Waited",
    "Cost (USD)",
    "Tokens in",
    "Tokens out",
    "Confidence",
    "Supervisor",
]


def _sections(report: DayReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every table of the report: (heading, columns, rows); markdown and HTML render the same."""
    by_type = [
        [
            t.type,
            str(sum(t.outcomes.values())),
            ", ".join(f"{n} {o}" for o, n in sorted(t.outcomes.items())),
            amount_text(t.cost_usd),
            f"{t.tokens_in:,}",
            f"{t.tokens_out:,}",
        ]
        for t in report.by_type
    ]
    retries = [[t.key, str(r.attempt), r.why] for t in report.tasks for r in t.retries]
    approvals = [
        [
            f"{a.session_id[:8]}/{a.task_id}",
            a.gate,
            _at(report, a.asked_at),
            _at(report, a.decided_at),
            a.decision or "waiting",
            a.by or "-",
            _wait(a.wait_s),
        ]
        for a in report.approvals
    ]
    exchanges = [
        [
            f"{x.session_id[:8]}/{x.task_id}",
            x.question,
            x.answer or "(not answered)",
            x.by or "-",
            _wait(x.wait_s),
        ]
        for x in report.exchanges
    ]
    safety = [[f"{s.session_id[:8]}/{s.task_id or '-'}", _at(report, s.at), s.text] for s in report.safety]
    files = [[t.key, t.files] for t in report.tasks if t.files]
    sessions = [
        [s.id, s.title, s.state + (f" ({s.reason})" if s.reason else ""), _at(report, s.created_at), s.source]
        for s in report.sessions
    ]
    return [
        ("Tasks", TASK_HEAD, [_task_row(t) for t in report.tasks]),
        (
            "Cost, tokens and outcomes by type",
            ["Type", "Tasks", "Outcomes", "Cost (USD)", "Tokens in", "Tokens out"],
            by_type,
        ),
        ("Retries and why", ["Task", "Attempt", "Why it was retried"], retries),
        ("Approvals", ["Task", "Gate", "Asked", "Decided", "Decision", "By", "Waited"], approvals),
        ("Questions and answers", ["Task", "Question", "Answer", "By", "Waited"], exchanges),
        ("Safety events", ["Task", "At", "What"], safety),
        ("Files changed", ["Task", "Files (last attempt)"], files),
        ("Sessions", ["Session", "Title", "State", "Started", "Task file"], sessions),
    ]


def render_markdown(report: DayReport) -> str:
    """The day's report in markdown."""
    lines = [
        f"# Day report: {report.day:%Y-%m-%d}",
        "",
        f"Written {report.generated_at:%Y-%m-%d %H:%M:%S} UTC; times below are {report.tz}.",
        "",
        *[f"- **{label}:** {value}" for label, value in headline(report)],
        "",
        "## For tomorrow",
        "",
    ]
    if report.summary:
        lines += [report.summary.strip(), "", f"_{report.summary_note}._", ""]
    elif report.summary_note:
        lines += [f"_{report.summary_note}._", ""]
    lines += ["Rules:", "", *[f"- {a}" for a in report.advice]]
    for title, head, rows in _sections(report):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("None.")
            continue
        lines += [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
            *["| " + " | ".join(_md(c) for c in row) + " |" for row in rows],
        ]
    return "\n".join(lines) + "\n"


CSS = """
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.45}
body{margin:0 auto;max-width:1100px;padding:12px;color:#1b1b1b;background:#fafafa}
h1{font-size:1.5rem;margin:.4rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #ddd}
.numbers{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:8px;padding:0;list-style:none}
.numbers li{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:8px}
.numbers b{display:block;font-size:.8rem;color:#555;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:4px}
figure svg{display:block;width:100%;height:auto}
.charts figure:first-child{grid-column:1/-1}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;background:#fff;border:1px solid #e0e0e0;border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
.summary{white-space:pre-wrap;background:#fff;border-left:4px solid #3949ab;padding:8px 12px}
.note{color:#555;font-style:italic}
@media (max-width:600px){body{padding:6px}table{font-size:.8rem}th,td{padding:4px}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def chart_figures(report: DayReport, charts: Charts) -> list[str]:
    """The three charts as SVG: the day's time line, cost by task, outcomes by type."""
    rows = {s.label for s in report.spans}
    per_session = len(rows) > MAX_TIMELINE_ROWS
    bars = [
        TimeBar(s.label.split("/", 1)[0] if per_session else s.label, s.start, s.end, s.outcome)
        for s in report.spans
    ]
    costly = sorted((t for t in report.tasks if t.cost_usd), key=lambda t: t.cost_usd or 0, reverse=True)
    costs = [(t.key, float(t.cost_usd or 0)) for t in costly[:MAX_COST_BARS]]
    rest = sum(float(t.cost_usd or 0) for t in costly[MAX_COST_BARS:])
    if rest:
        costs.append((f"{len(costly) - MAX_COST_BARS} other tasks", rest))
    outcomes = sorted({o for t in report.by_type for o in t.outcomes})
    types = [t.type for t in report.by_type]
    series = {o: [t.outcomes.get(o, 0) for t in report.by_type] for o in outcomes}
    title = "The day's attempts" + (" (one row per session)" if per_session else "")
    return [
        charts.timeline(title, bars),
        charts.bars("Cost by task (USD)", costs, "USD"),
        charts.stacked("Outcomes by task type", types, series),
    ]


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>'


def render_html(report: DayReport, charts: Charts | None) -> str:
    """The day's report as one HTML page with inline CSS and inline SVG charts (no script, no fetch)."""
    numbers = "".join(f"<li><b>{_e(k)}</b>{_e(v)}</li>" for k, v in headline(report))
    if charts is None:
        figures = f'<p class="note">{_e(NO_CHARTS)}</p>'
    else:
        figures = (
            '<div class="charts">'
            + "".join(f"<figure>{svg}</figure>" for svg in chart_figures(report, charts))
            + "</div>"
        )
    tomorrow = []
    if report.summary:
        tomorrow.append(f'<div class="summary">{_e(report.summary.strip())}</div>')
        tomorrow.append(f'<p class="note">{_e(report.summary_note)}.</p>')
    elif report.summary_note:
        tomorrow.append(f'<p class="note">{_e(report.summary_note)}.</p>')
    tomorrow.append("<p>Rules:</p><ul>" + "".join(f"<li>{_e(a)}</li>" for a in report.advice) + "</ul>")
    sections = "".join(
        f"<h2>{_e(title)}</h2>" + (_table(head, rows) if rows else "<p>None.</p>")
        for title, head, rows in _sections(report)
    )
    day = f"{report.day:%Y-%m-%d}"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # nothing may load from anywhere: the page is whole as it is
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Day report {day}</title><style>{CSS}</style></head><body>"
        f"<h1>Day report: {day}</h1>"
        f'<p class="note">Written {report.generated_at:%Y-%m-%d %H:%M:%S} UTC; times are {_e(report.tz)}.</p>'
        f'<ul class="numbers">{numbers}</ul>'
        f"<h2>Charts</h2>{figures}"
        f"<h2>For tomorrow</h2>{''.join(tomorrow)}"
        f"{sections}"
        "</body></html>\n"
    )
