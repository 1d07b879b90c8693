"""The end-of-session report, as markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from orchcore.budget import BudgetStatus, amount_text, usd
from orchcore.decide import blocked_tasks
from orchcore.records import JsonObject, Snapshot, TaskRun
from orchcore.safety.events import RecordedSafetyEvent
from orchcore.state import TaskState
from orchcore.tasks import Task


def _duration(run: TaskRun) -> float:
    return sum(
        (a.finished_at - a.started_at).total_seconds() for a in run.attempts if a.finished_at is not None
    )


def _fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _sum_opt(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def task_cost(run: TaskRun) -> Decimal | None:
    """What all attempts of a task cost, when any agent reported it."""
    costs = [a.cost_usd for a in run.attempts if a.cost_usd is not None]
    return sum(costs, Decimal(0)) if costs else None


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report(
    snap: Snapshot,
    tails: Mapping[str, Sequence[str]],
    now: datetime,
    *,
    day: BudgetStatus | None = None,
    safety: Sequence[RecordedSafetyEvent] = (),
    sandbox: str | None = None,
    supervision: Mapping[str, Sequence[JsonObject]] | None = None,
) -> str:
    """Markdown: every task with outcome, attempts, duration, tokens and cost;
    what the supervisor decided on each checked attempt (``supervision``: SUPERVISION data per task);
    totals; whether agents ran in the sandbox (``sandbox``, the session's sandbox line);
    every refusal and violation with the layer that stopped it (``safety``);
    and for failures the last lines of their logs (``tails``)."""
    session, plan = snap.session, snap.plan
    blocked = blocked_tasks(snap)
    title = plan.title or f"Tasks - {plan.date}"
    lines = [
        f"# Report: {title}",
        "",
        f"- Session: `{session.id}` — **{session.state.value}**"
        + (f" ({session.reason})" if session.reason else ""),
        f"- Task file: `{plan.source}`",
        f"- Started: {session.created_at:%Y-%m-%d %H:%M:%S} UTC; report at {now:%Y-%m-%d %H:%M:%S} UTC",
        *([f"- {'**' + sandbox + '**' if sandbox.startswith('WARNING') else sandbox}"] if sandbox else []),
        "",
        "| # | Task | Type | Outcome | Attempts | Duration | Tokens in | Tokens out | Cost (USD) |",
        "|---|------|------|---------|---------:|---------:|----------:|-----------:|-----------:|",
    ]
    counts: dict[str, int] = {}
    total_time = 0.0
    all_costs: list[Decimal] = []
    tokens_in: list[int | None] = []
    tokens_out: list[int | None] = []
    for task in plan.tasks:
        run = snap.runs[task.id]
        outcome = run.state.value
        if task.id in blocked:
            outcome = f"blocked by {blocked[task.id]}"
        elif run.state is TaskState.PENDING and session.state.value in ("completed", "failed", "cancelled"):
            outcome = "not run"
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
        seconds = _duration(run)
        total_time += seconds
        t_in = _sum_opt([a.input_tokens for a in run.attempts])
        t_out = _sum_opt([a.output_tokens for a in run.attempts])
        tokens_in.append(t_in)
        tokens_out.append(t_out)
        cost = task_cost(run)
        if cost is not None:
            all_costs.append(cost)
        lines.append(
            f"| {task.id} | {_escape(task.title)} | {task.type} | {outcome} | {run.attempt} | "
            f"{_fmt_duration(seconds) if run.attempts else '-'} | {_cell(t_in)} | {_cell(t_out)} | {'-' if cost is None else amount_text(cost)} |"
        )
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    total_cost = sum(all_costs, Decimal(0)) if all_costs else None
    lines += [
        "",
        "## Totals",
        "",
        f"- Tasks: {len(plan.tasks)} ({summary})",
        f"- Agent time: {_fmt_duration(total_time)}",
        f"- Tokens: {_cell(_sum_opt(tokens_in))} in, {_cell(_sum_opt(tokens_out))} out",
        f"- Cost: {'-' if total_cost is None else usd(total_cost)}",
    ]
    if day is not None:
        limit = "(no daily limit)" if day.limit is None else f"of the ${day.limit} daily limit"
        lines.append(f"- Today, all sessions: {usd(day.spent)} {limit}")
    if snap.session.reason.startswith(("day budget", "session budget")):
        lines.append(f"- Halted: {snap.session.reason}")
    lines += _safety_section(safety)
    lines += _checked_section(plan.tasks, supervision or {})
    failures = [
        t
        for t in plan.tasks
        if snap.runs[t.id].state in (TaskState.FAILED, TaskState.INTERRUPTED, TaskState.CANCELLED)
    ]
    if failures:
        lines += ["", "## Failures"]
        for task in failures:
            run = snap.runs[task.id]
            lines += [
                "",
                f"### Task {task.id}: {task.title}",
                "",
                f"{run.state.value} after {run.attempt} attempt(s): {run.reason or 'no reason given'}",
            ]
            tail = tails.get(task.id, ())
            if tail:
                lines += ["", "```", *tail, "```"]
    return "\n".join(lines) + "\n"


def _safety_section(safety: Sequence[RecordedSafetyEvent]) -> list[str]:
    """``## Safety``: one line per refusal or violation, naming the layer; nothing when there were none."""
    if not safety:
        return []
    refused = sum(1 for r in safety if r.event.refused)
    violations = len(safety) - refused
    lines = [
        "",
        "## Safety",
        "",
        f"{refused} refused (the task went on), {violations} violation{'s' if violations != 1 else ''} "
        "(the task failed).",
        "",
    ]
    for r in safety:
        what = "refused" if r.event.refused else "VIOLATION"
        command = f" `{_escape(r.event.command)}`" if r.event.command else ""
        reason = f": {_escape(r.event.reason)}" if r.event.reason else ""
        lines.append(
            f"- Task {r.task_id or '-'} (attempt {r.attempt or '-'}) — {what} by **{r.event.layer.value}**"
            f"{command}{reason}"
        )
    return lines


def _checked_section(tasks: Sequence[Task], supervision: Mapping[str, Sequence[JsonObject]]) -> list[str]:
    """``## Checked``: per checked task, each attempt's gates, confidence and decision, and the rule
    that stopped it or the reason it was retried; nothing when no task was checked."""
    if not any(supervision.get(t.id) for t in tasks):
        return []
    from orchcore.supervision_view import supervision_line

    lines = ["", "## Checked", ""]
    for task in tasks:
        for data in supervision.get(task.id, ()):
            why = f" — {_escape(str(data.get('reason', '')))}" if data.get("action") != "accept" else ""
            lines.append(f"- Task {task.id}: {_escape(supervision_line(data))}{why}")
    return lines
