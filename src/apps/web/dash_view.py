"""What the dashboard shows, read from the store: plain dicts for the templates.

Nothing here decides anything: the buttons offered are the commands the core's state tables
allow now (``orchcore.state``), and every row comes from the views the CLI and webhook use.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.views import session_fields, task_rows
from orchcore.service import budget_report, suggestions
from orchcore.state import Command, SessionState, TaskState, allowed_commands, allowed_task_commands
from orchcore.supervision_view import supervision_by_task, supervision_line

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from apps.settings import Settings
    from orchcore.records import Snapshot

#: the commands the dashboard's buttons send; anything else posted is refused
BUTTONS = (
    Command.APPROVE,
    Command.REJECT,
    Command.ANSWER,
    Command.SKIP,
    Command.RETRY,
    Command.PAUSE,
    Command.RESUME,
    Command.CANCEL,
)
SESSION_BUTTONS = (Command.PAUSE, Command.RESUME, Command.CANCEL)
TASK_BUTTONS = (Command.APPROVE, Command.REJECT, Command.ANSWER, Command.SKIP, Command.RETRY)
SHOWN_SESSIONS = 20
#: what each gate (orchcore.records.Gate) asks of the human, in words
GATE_TEXT = {
    "before": "approval to start",
    "after": "a review of the finished work (checkpoint)",
    "review": "a review: the supervisor stopped the finished attempt",
    "answer": "an answer to the agent's question",
}
DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def results_dir(settings: Settings) -> Path:
    """Where the day's reports are written: ``report.dir`` (``results/`` beside the config by default)."""
    return settings.results_dir


def report_file(settings: Settings, day: str) -> Path | None:
    """``results/DAY-report.html`` if it exists; None for anything that is not a date."""
    if not DATE_NAME.match(day):
        return None
    path = results_dir(settings) / f"{day}-report.html"
    return path if path.is_file() else None


def overview(rt: Runtime, session_id: str | None, driving: str | None) -> dict[str, Any]:
    """The whole page: sessions, the chosen (or newest) session, its tasks, waits, budget, report."""
    sessions = rt.store.sessions()
    chosen = session_id or (sessions[0].id if sessions else None)
    snap = None if chosen is None else rt.store.load(chosen)
    budget = budget_report(rt.store, rt.settings.budget_policy(), rt.clock)
    today = rt.clock.now().astimezone(rt.settings.budget_policy().tz).date()
    return {
        "sessions": [
            {
                "id": s.id,
                "state": s.state.value,
                "source": s.source,
                "updated": f"{s.updated_at:%Y-%m-%d %H:%M}",
            }
            for s in sessions[:SHOWN_SESSIONS]
        ],
        "session": None if snap is None else session_view(rt, snap, driving),
        "budget": gauge(
            budget.status.spent, budget.daily_limit, budget.warn_ratio, budget.status.level.value
        ),
        "report": report_link(rt.settings, today),
    }


def report_link(settings: Settings, today: date) -> dict[str, str] | None:
    """The link to today's report when it has been written."""
    day = today.isoformat()
    return {"day": day, "href": f"/ui/report/{day}"} if report_file(settings, day) else None


def gauge(spent: Decimal, limit: Decimal | None, warn: Decimal, level: str) -> dict[str, Any]:
    """The budget gauge: spend, limit, the share used (0-100) and the level's name."""
    percent = None if not limit else min(100, int(spent * 100 / limit))
    return {
        "spent": f"{spent:.2f}",
        "limit": None if limit is None else f"{limit:.2f}",
        "percent": percent,
        "warn_percent": int(warn * 100),
        "level": level,
    }


def session_view(rt: Runtime, snap: Snapshot, driving: str | None) -> dict[str, Any]:
    """One session: its fields, tasks with checks and cost, what waits, the running task, buttons."""
    s = snap.session
    engine = rt.store.lease_holder(s.id)
    events = rt.store.events(s.id)
    checks = supervision_by_task(events)
    rows = task_rows(snap)
    for row in rows:
        found = checks.get(row["id"], [])
        row["checks"] = supervision_line(found[-1]) if found else ""
        run = snap.runs[row["id"]]
        row["question"] = run.question if run.state is TaskState.WAITING_ANSWER else ""
        row["buttons"] = task_buttons(s.state, run.state) if row["id"] != s.waiting_for else []
    running = [t for t in snap.plan.ids if snap.runs[t].state is TaskState.RUNNING]
    live = [{"task": t, "attempt": snap.runs[t].attempt, "title": snap.plan.task(t).title} for t in running]
    if not live:  # nothing runs: show the last output of the latest attempt
        tried = [t for t in snap.plan.ids if snap.runs[t].attempt]
        live = [
            {"task": t, "attempt": snap.runs[t].attempt, "title": snap.plan.task(t).title} for t in tried[-1:]
        ]
    hints = suggestions(snap, engine_attached=engine is not None or driving == s.id)
    return {
        **session_fields(snap, engine),
        "tasks": rows,
        "seq": events[-1].seq if events else 0,
        "waiting": waiting(snap),
        "live": live,
        "buttons": session_buttons(s.state, hints),
        "next": hints,
    }


def session_buttons(state: SessionState, hints: list[str]) -> list[str]:
    """Pause and cancel where the session accepts them; resume only where the core suggests it
    (a running session accepts resume too, but that only re-attaches a missing engine)."""
    allowed = allowed_commands(state)
    shown: list[Command] = [c for c in SESSION_BUTTONS if c in allowed and c is not Command.RESUME]
    if Command.RESUME in allowed and any(h.startswith("resume") for h in hints):
        shown.insert(1 if Command.PAUSE in shown else 0, Command.RESUME)
    return [c.value for c in shown]


def task_buttons(session: SessionState, task: TaskState) -> list[str]:
    """The task commands both the session and the task accept now (skip, retry...)."""
    allowed = set(allowed_commands(session)) & set(allowed_task_commands(task))
    return [c.value for c in (Command.SKIP, Command.RETRY) if c in allowed]


def waiting(snap: Snapshot) -> dict[str, Any] | None:
    """The approval, review or question the session waits on, with the commands it accepts."""
    s = snap.session
    if s.waiting_for is None or s.state not in (SessionState.WAITING_APPROVAL, SessionState.WAITING_ANSWER):
        return None
    run = snap.runs[s.waiting_for]
    task = snap.plan.task(s.waiting_for)
    allowed = allowed_commands(s.state)
    return {
        "task": task.id,
        "title": task.title,
        "kind": "question" if s.state is SessionState.WAITING_ANSWER else "approval",
        "why": GATE_TEXT.get(s.gate.value if s.gate else "", ""),
        "question": run.question,
        "buttons": [c.value for c in TASK_BUTTONS if c in allowed],
    }
