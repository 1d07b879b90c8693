"""What the supervisor decided, as front ends show it: read from the SUPERVISION and GATE events.

Light on purpose (no pipeline import): ``orch status`` and ``orch explain`` use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from orchcore.records import Event, EventKind, JsonObject


def supervision_by_task(events: Iterable[Event]) -> dict[str, list[JsonObject]]:
    """Every SUPERVISION event's data per task, in attempt order, each with its ``attempt``."""
    found: dict[str, list[JsonObject]] = {}
    for event in events:
        if event.kind is EventKind.SUPERVISION and event.task_id is not None:
            found.setdefault(event.task_id, []).append(event.data | {"attempt": event.attempt})
    return found


def supervision_line(data: JsonObject) -> str:
    """``gates 5/6 passed, confidence 0.42, stop_for_review (rule gate-still-failing); judge not asked``."""
    passed, failed = data.get("gates_passed", 0), data.get("gates_failed", 0)
    total = (passed if isinstance(passed, int) else 0) + (failed if isinstance(failed, int) else 0)
    confidence = data.get("confidence")
    shown = f"{confidence:.2f}" if isinstance(confidence, int | float) else "?"
    rule = f" (rule {data['rule']})" if data.get("rule") else ""
    return (
        f"attempt {data.get('attempt')}: gates {passed}/{total} passed, confidence {shown}, "
        f"{data.get('action')}{rule}; judge {data.get('judge', 'not asked')}"
    )


def explain_lines(events: Iterable[Event], task_id: str) -> list[str]:
    """The decision trail of each checked attempt of ``task_id``: every rule, the judge, the
    confidence and what was decided, in order (``orch explain``)."""
    lines: list[str] = []
    for event in events:
        if event.task_id != task_id or event.kind is not EventKind.SUPERVISION:
            continue
        data = event.data | {"attempt": event.attempt}
        lines.append(supervision_line(data))
        trail = data.get("trail")
        steps = trail if isinstance(trail, list) else []
        lines += [f"  {s.get('stage')}: {s.get('text')}" for s in steps if isinstance(s, dict)]
        feedback = data.get("feedback")
        if isinstance(feedback, str) and feedback:
            lines.append("  feedback given to the agent:")
            lines += [f"    {line}" for line in feedback.splitlines()]
    return lines
