""" "For tomorrow": rules drawn from the day's report, and the request an LLM summarises it from.

The rules always run (they need no model): a task that failed twice, a type whose every task
needed a human's review, the hour the day's budget stopped work, long waits for a human,
questions left unanswered, safety events. The LLM summary (Summarizer port) comes on top
when a model is reachable; without one the report says so and the rules stand alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from orchcore.budget import usd
from orchcore.day_report import DayReport, TaskLine
from orchcore.ports.summarizer import SummaryRequest

LONG_WAIT_S = 30 * 60  # a type whose approvals waited longer in total is worth auto-approving
SUMMARY_TASK_LINES = 80  # tasks listed to the model; the rest are counted


def duration_text(seconds: float) -> str:
    """``42s``, ``7m05s``, ``2h03m``."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _failed_twice(report: DayReport) -> Iterator[str]:
    by_task: dict[tuple[str, str], list[TaskLine]] = {}
    for t in report.tasks:
        by_task.setdefault((t.type, t.title), []).append(t)
    for (kind, title), lines in by_task.items():
        failures = sum(t.failures for t in lines)
        if failures >= 2:
            ids = ", ".join(t.key for t in lines)
            yield (
                f"Task {ids} ({kind}: {title}) failed {failures} times today: split it into smaller "
                "tasks or sharpen its acceptance criteria before it runs again."
            )


def _always_reviewed(report: DayReport) -> Iterator[str]:
    for totals in report.by_type:
        ran = [t for t in report.tasks if t.type == totals.type and t.attempts > 0]
        if len(ran) >= 2 and all(t.reviews > 0 for t in ran):
            yield (
                f"Every {totals.type} task ({len(ran)}) needed a human's review: add checks for it "
                f"(supervisor.checks.{totals.type}) or plan the review (approval.checkpoint_after: "
                f"[{totals.type}])."
            )


def _budget(report: DayReport) -> Iterator[str]:
    if report.budget_hit_at is None:
        return
    left = sum(
        1 for t in report.tasks if t.outcome in ("pending", "not run") or t.outcome.startswith("blocked")
    )
    limit = "" if report.limit_usd is None else f" (${report.limit_usd})"
    yield (
        f"The day's budget{limit} was hit at {report.budget_hit_at:%H:%M}"
        + (f" with {left} task{'s' if left != 1 else ''} not run" if left else "")
        + ": raise budget.max_daily_cost_usd or split the work over two days."
    )


def _waits(report: DayReport) -> Iterator[str]:
    waited: dict[str, float] = {}
    types = {(t.session_id, t.task_id): t.type for t in report.tasks}
    for a in report.approvals:
        if a.gate == "before" and a.wait_s is not None:
            kind = types.get((a.session_id, a.task_id), "?")
            waited[kind] = waited.get(kind, 0.0) + a.wait_s
    for kind, seconds in sorted(waited.items()):
        if seconds >= LONG_WAIT_S:
            yield (
                f"{kind} tasks waited {duration_text(seconds)} for approval: auto-approve them "
                f"(approval.auto_approve: [{kind}]) if you trust them, or start them when you are around."
            )


def _open_questions(report: DayReport) -> Iterator[str]:
    for x in report.exchanges:
        if not x.answer:
            yield f"Task {x.session_id[:8]}/{x.task_id} still waits for an answer: {x.question[:200]}"


def _safety(report: DayReport) -> Iterator[str]:
    if report.safety:
        n = len(report.safety)
        yield (
            f"{n} safety event{'s' if n != 1 else ''} today: read them below before running those tasks "
            "again (a forbidden operation may need a task rewritten or a rule relaxed)."
        )


def advice(report: DayReport) -> list[str]:
    """The rules' recommendations for tomorrow, most pressing first; one line when nothing stood out."""
    found = [
        *_budget(report),
        *_failed_twice(report),
        *_always_reviewed(report),
        *_safety(report),
        *_waits(report),
        *_open_questions(report),
    ]
    return found or ["Nothing stood out: no task failed twice, no budget stop, no type always needed review."]


SUMMARY_SYSTEM = (
    "You write the evening summary of a day of work by AI coding agents for the developer who ran "
    "them. Use only the facts given. Write at most 6 short bullet points on what was done, what "
    "failed and why, and where time and money went; then a line 'For tomorrow:' and at most 3 "
    "concrete suggestions. Plain markdown, no headings, no preamble."
)


def _money(value: Decimal | None) -> str:
    return "-" if value is None else usd(value)


def summary_request(report: DayReport) -> SummaryRequest:
    """What the Summarizer is asked: the day's facts in a compact text (no logs, no secrets)."""
    rate = "-" if report.success_rate is None else f"{report.success_rate:.0%}"
    lines = [
        f"Day {report.day:%Y-%m-%d}: {len(report.sessions)} session(s), {len(report.tasks)} task(s), "
        f"{report.succeeded} of {report.finished} finished tasks succeeded ({rate}).",
        f"Spent {usd(report.spent_usd)}"
        + ("" if report.limit_usd is None else f" of the {usd(report.limit_usd)} daily limit")
        + (
            ""
            if report.budget_hit_at is None
            else f"; the budget stopped work at {report.budget_hit_at:%H:%M}"
        )
        + ".",
        "Tasks (id, type, title, outcome, attempts, time, cost, retries):",
    ]
    for t in report.tasks[:SUMMARY_TASK_LINES]:
        why = "; ".join(r.why for r in t.retries)[:200]
        lines.append(
            f"- {t.key} [{t.type}] {t.title[:80]}: {t.outcome}, {t.attempts} attempt(s), "
            f"{duration_text(t.seconds)}, {_money(t.cost_usd)}" + (f", retried: {why}" if why else "")
        )
    if len(report.tasks) > SUMMARY_TASK_LINES:
        lines.append(f"- … and {len(report.tasks) - SUMMARY_TASK_LINES} more tasks")
    waits = sum(t.human_wait_s for t in report.tasks)
    lines.append(f"Time waiting for a human: {duration_text(waits)}.")
    lines += [f"Question from {x.task_id}: {x.question[:200]}" for x in report.exchanges[:10]]
    lines += [f"Safety: {s.text[:200]}" for s in report.safety[:10]]
    lines += ["Rules found:", *[f"- {a}" for a in report.advice]]
    return SummaryRequest(system=SUMMARY_SYSTEM, prompt="\n".join(lines))
