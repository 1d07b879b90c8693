"""How a session looks to every front end: the one JSON shape of `orch status --json`,
the webhook answers and the Telegram replies, so they can never drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchcore.decide import blocked_tasks
from orchcore.records import Snapshot
from orchcore.report import task_cost
from orchcore.safety.events import RecordedSafetyEvent


def task_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """Each task of the session with its state, attempts, why, what blocks it, and its cost.

    Every status answer (CLI, webhook, Telegram) builds one row per task: enum values are read
    as ``_value_`` (the ``.value`` property costs a descriptor call each) and the usage sums are
    made only for tasks that ran."""
    blocked = blocked_tasks(snap)
    runs = snap.runs
    rows = []
    for task in snap.plan.tasks:
        run = runs[task.id]
        attempts = run.attempts
        cost = task_cost(run) if attempts else None
        rows.append(
            {
                "id": task.id,
                "title": task.title,
                "type": task.type,
                "priority": task.priority._value_,
                "state": run.state._value_,
                "attempts": len(attempts),
                "reason": run.reason,
                "blocked_by": blocked.get(task.id),
                "cost_usd": None if cost is None else str(cost),
                "input_tokens": sum(a.input_tokens or 0 for a in attempts) if attempts else None,
                "output_tokens": sum(a.output_tokens or 0 for a in attempts) if attempts else None,
            }
        )
    return rows


def session_fields(snap: Snapshot, engine: str | None) -> dict[str, Any]:
    """The session's own fields (without its tasks)."""
    s = snap.session
    return {
        "id": s.id,
        "state": s.state.value,
        "reason": s.reason,
        "source": s.source,
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "version": s.version,
        "waiting_for": s.waiting_for,
        "gate": None if s.gate is None else s.gate.value,
        "auto_approve": s.auto_approve,
        "agent": s.agent,
        "engine": engine,
    }


def safety_rows(recorded: Sequence[RecordedSafetyEvent]) -> list[dict[str, Any]]:
    """Every refusal and violation of the session: task, attempt, the layer that acted, what and why."""
    return [
        {
            "task": r.task_id,
            "attempt": r.attempt,
            "at": r.at.isoformat(),
            "layer": r.event.layer.value,
            "refused": r.event.refused,
            "command": r.event.command,
            "reason": r.event.reason,
        }
        for r in recorded
    ]
