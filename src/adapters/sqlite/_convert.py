"""Records to SQLite rows and back: the only place that knows the column layout.

Datetimes are ISO-8601 UTC text of fixed width (so text order is time order);
money is Decimal text, never float; the plan is one JSON document.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from orchcore.errors import StoreError
from orchcore.records import (
    Attempt,
    AttemptProcess,
    AttemptRecord,
    Event,
    EventKind,
    Gate,
    JsonObject,
    Outcome,
    Session,
    SessionSummary,
    TaskRun,
)
from orchcore.state import SessionState, TaskState
from orchcore.tasks import Complexity, Plan, Priority, Task

Row: TypeAlias = tuple[Any, ...]

SESSION_COLUMNS = (
    "id, source, state, created_at, updated_at, auto_approve, agent, waiting_for, gate, reason, version"
)
SUMMARY_COLUMNS = "id, source, state, created_at, updated_at"
RUN_COLUMNS = "task_id, state, approved, reviewed, reason, question, answer"
ATTEMPT_COLUMNS = (
    "task_id, number, started_at, finished_at, outcome, exit_code, reason, cost_usd,"
    " input_tokens, output_tokens, agent_session_id, retry_at, process_group, process_start, process_marker,"
    " process_host"
)
EVENT_COLUMNS = "seq, at, kind, task_id, attempt, data"


def _decimal_from_text(value: object, _: object = None) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal as text, got {value!r}")
    return Decimal(value)


@functools.cache
def _plans() -> Any:
    """The converter that writes plans (cattrs, imported only when a plan is written)."""
    import cattrs

    plans = cattrs.Converter()
    plans.register_unstructure_hook(Decimal, str)
    return plans


def plan_to_json(plan: Plan) -> str:
    return json.dumps(_plans().unstructure(plan), separators=(",", ":"))


class _Members(dict[object, Any]):
    """An enum's members by value: a dict lookup, not the enum's own call (~1 µs each, three per
    task when reading a session); an unknown value is a ValueError, as the call raises."""

    def __init__(self, members: type[enum.Enum]) -> None:
        super().__init__((m.value, m) for m in members)
        self.name = members.__name__

    def __missing__(self, key: object) -> Any:
        raise ValueError(f"{key!r} is not a valid {self.name}")


_PRIORITIES = _Members(Priority)
_COMPLEXITIES = _Members(Complexity)
_TASK_STATES = _Members(TaskState)
_OUTCOMES = _Members(Outcome)


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def _strings(value: object) -> tuple[str, ...]:
    return tuple(map(str, _list(value)))


#: how each stored field of a task is read back (every field of Task, checked by a test)
_TASK_FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": str,
    "title": str,
    "type": str,
    "priority": _PRIORITIES.__getitem__,
    "requires_approval": bool,
    "description": str,
    "acceptance_criteria": _strings,
    "instruction": str,
    "depends_on": _strings,
    "context_files": _strings,
    "deliverables": _strings,
    "checks": _strings,
    "module": str,
    "estimated_complexity": lambda v: None if v is None else _COMPLEXITIES[v],
    "line": int,
    "depends_on_line": int,
    "context_files_line": int,
}
_PLAN_FIELDS: dict[str, Callable[[Any], Any]] = {
    "source": str,
    "tasks": lambda v: tuple(map(_task_from_dict, _list(v))),
    "date": str,
    "title": str,
    "max_cost_usd": lambda v: None if v is None else _decimal_from_text(v),
}


def _fields_from(data: object, fields: Mapping[str, Callable[[Any], Any]], what: str) -> dict[str, Any]:
    """The keyword arguments of ``what`` from a stored mapping: each known key converted, no other
    key allowed (as written by plan_to_json; keys added later take their defaults)."""
    if not isinstance(data, dict):
        raise TypeError(f"stored {what}: expected an object, got {type(data).__name__}")
    unknown = data.keys() - fields.keys()
    if unknown:
        raise ValueError(f"stored {what}: unknown keys {sorted(unknown)}")
    return {key: fields[key](value) for key, value in data.items()}


def _task_from_dict(data: object) -> Task:
    return Task(**_fields_from(data, _TASK_FIELDS, "task"))


def plan_from_json(text: str) -> Plan:
    """The plan plan_to_json wrote; ValueError or TypeError for anything else. Read by hand, not
    with cattrs: importing cattrs and building its reader was a third of reading a 1,000-task
    plan, which every `orch status` does."""
    return Plan(**_fields_from(json.loads(text), _PLAN_FIELDS, "plan"))


def time_to_text(value: datetime) -> str:
    if value.utcoffset() is None:
        raise StoreError(f"refusing to store a naive datetime ({value.isoformat()}): times are UTC-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def time_from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _optional_time_to_text(value: datetime | None) -> str | None:
    return None if value is None else time_to_text(value)


def _optional_time_from_text(text: str | None) -> datetime | None:
    return None if text is None else time_from_text(text)


def session_values(session: Session, version: int) -> Row:
    """Values in SESSION_COLUMNS order, with the version the store decided."""
    return (
        session.id,
        session.source,
        session.state.value,
        time_to_text(session.created_at),
        time_to_text(session.updated_at),
        session.auto_approve,
        session.agent,
        session.waiting_for,
        None if session.gate is None else session.gate.value,
        session.reason,
        version,
    )


def session_from_row(row: Row) -> Session:
    return Session(
        id=row[0],
        source=row[1],
        state=SessionState(row[2]),
        created_at=time_from_text(row[3]),
        updated_at=time_from_text(row[4]),
        auto_approve=bool(row[5]),
        agent=row[6],
        waiting_for=row[7],
        gate=None if row[8] is None else Gate(row[8]),
        reason=row[9],
        version=row[10],
    )


def summary_from_row(row: Row) -> SessionSummary:
    return SessionSummary(
        id=row[0],
        source=row[1],
        state=SessionState(row[2]),
        created_at=time_from_text(row[3]),
        updated_at=time_from_text(row[4]),
    )


def run_values(run: TaskRun) -> Row:
    """Values in RUN_COLUMNS order (without session and position)."""
    return (run.task_id, run.state.value, run.approved, run.reviewed, run.reason, run.question, run.answer)


def attempt_values(session_id: str, task_id: str, attempt: Attempt) -> Row:
    """Values for ``session_id`` followed by ATTEMPT_COLUMNS."""
    return (
        session_id,
        task_id,
        attempt.number,
        time_to_text(attempt.started_at),
        _optional_time_to_text(attempt.finished_at),
        None if attempt.outcome is None else attempt.outcome.value,
        attempt.exit_code,
        attempt.reason,
        None if attempt.cost_usd is None else str(attempt.cost_usd),
        attempt.input_tokens,
        attempt.output_tokens,
        attempt.agent_session_id,
        _optional_time_to_text(attempt.retry_at),
        None if attempt.process is None else attempt.process.group,
        None if attempt.process is None else attempt.process.leader_start,
        None if attempt.process is None else attempt.process.marker,
        None if attempt.process is None else attempt.process.host,
    )


def _attempt_from_row(row: Row) -> Attempt:
    return Attempt(
        number=row[1],
        started_at=time_from_text(row[2]),
        finished_at=_optional_time_from_text(row[3]),
        outcome=None if row[4] is None else _OUTCOMES[row[4]],
        exit_code=row[5],
        reason=row[6],
        cost_usd=None if row[7] is None else Decimal(row[7]),
        input_tokens=row[8],
        output_tokens=row[9],
        agent_session_id=row[10],
        retry_at=_optional_time_from_text(row[11]),
        process=None if row[12] is None else AttemptProcess(row[12], row[13], row[14], row[15] or ""),
    )


def attempt_record_from_row(row: Row) -> AttemptRecord:
    """``session_id`` followed by ATTEMPT_COLUMNS."""
    return AttemptRecord(session_id=row[0], task_id=row[1], attempt=_attempt_from_row(row[1:]))


def runs_from_rows(run_rows: Iterable[Row], attempt_rows: Iterable[Row]) -> dict[str, TaskRun]:
    """Task runs in file order, each with its attempts (rows ordered by task and number)."""
    attempts: dict[str, list[Attempt]] = {}
    for row in attempt_rows:
        attempts.setdefault(row[0], []).append(_attempt_from_row(row))
    return {
        row[0]: TaskRun(
            task_id=row[0],
            state=_TASK_STATES[row[1]],
            approved=bool(row[2]),
            reviewed=bool(row[3]),
            attempts=tuple(attempts.get(row[0], ())),
            reason=row[4],
            question=row[5],
            answer=row[6],
        )
        for row in run_rows
    }


def event_values(session_id: str, seq: int, event: Event) -> Row:
    """Values for ``session_id`` followed by EVENT_COLUMNS."""
    return (
        session_id,
        seq,
        time_to_text(event.at),
        event.kind.value,
        event.task_id,
        event.attempt,
        # ASCII escapes keep lone surrogates storable; allow_nan=False keeps it real JSON.
        json.dumps(event.data, separators=(",", ":"), allow_nan=False),
    )


def event_from_row(row: Row) -> Event:
    data: JsonObject = json.loads(row[5])
    return Event(
        kind=EventKind(row[2]),
        at=time_from_text(row[1]),
        task_id=row[3],
        attempt=row[4],
        data=data,
        seq=row[0],
    )


def events_from_rows(rows: Sequence[Row]) -> list[Event]:
    return [event_from_row(row) for row in rows]
