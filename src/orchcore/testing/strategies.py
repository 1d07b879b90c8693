"""Hypothesis strategies for orchcore's values: plans, sessions, task runs, events, notifications.

Everything drawn is valid as the domain builds it: task ids unique, dependencies
only on earlier tasks, times timezone-aware UTC, money Decimal, event data JSON.

The parametrised strategies draw from module-level ones instead of building new
strategies per draw: hypothesis validates every new strategy object, and in a
state machine that cost dominates.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs
from hypothesis import strategies as st

from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.records import (
    Attempt,
    Event,
    EventKind,
    Gate,
    JsonObject,
    JsonValue,
    OutboxEntry,
    Outcome,
    Session,
    TaskRun,
)
from orchcore.state import SessionState, TaskState
from orchcore.tasks import MAX_ID_LENGTH, Complexity, Plan, Priority, Task

T = TypeVar("T")

#: Short text of any character UTF-8 can hold (no lone surrogates; NUL included).
texts = st.text(st.characters(codec="utf-8"), max_size=12)

#: Identifiers as the task-file parser and the id factory produce them.
ids = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=10)

#: Any id a task file may give a task: any letters, digits or punctuation, up to the length limit.
task_ids = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=MAX_ID_LENGTH,
)

# Bounds are naive by hypothesis' API; the values drawn are UTC-aware.
_EARLIEST = datetime(2000, 1, 1)  # noqa: DTZ001
_LATEST = datetime(2100, 1, 1)  # noqa: DTZ001

#: Timezone-aware UTC instants with microseconds, well inside datetime's range.
times = st.datetimes(min_value=_EARLIEST, max_value=_LATEST, timezones=st.just(UTC))

#: US dollars with 0 to 6 decimal places, trailing zeros kept (``0.013280``); never float.
costs = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=6),
)

#: JSON values (no NaN or infinities: JSON has none).
json_values: st.SearchStrategy[JsonValue] = st.deferred(
    lambda: (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | texts
        | st.lists(json_values, max_size=2)
        | st.dictionaries(texts, json_values, max_size=2)
    )
)

#: JSON objects, as events carry them.
json_objects: st.SearchStrategy[JsonObject] = st.dictionaries(texts, json_values, max_size=3)

_optional_times = st.none() | times
_optional_costs = st.none() | costs
_optional_ids = st.none() | ids
_optional_exit_codes = st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1)
_optional_counts = st.none() | st.integers(min_value=0, max_value=10**9)
_optional_outcomes = st.none() | st.sampled_from(Outcome)
_optional_gates = st.none() | st.sampled_from(Gate)
_optional_complexities = st.none() | st.sampled_from(Complexity)
_optional_attempt_numbers = st.none() | st.integers(min_value=1, max_value=5)
_short_text_lists = st.lists(texts, max_size=2)
_task_types = st.sampled_from(["any", "code", "docs", "test"])
_lines = st.integers(min_value=1, max_value=10_000)
_session_lengths = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


def _one_of_or_none(draw: st.DrawFn, values: Sequence[T], otherwise: st.SearchStrategy[T | None]) -> T | None:
    """None, one of ``values``, or (when there are none) a draw from ``otherwise``."""
    if not values:
        return draw(otherwise)
    if draw(st.booleans()):
        return None
    return values[draw(st.integers(min_value=0, max_value=len(values) - 1))]


@st.composite
def plans(draw: st.DrawFn, min_tasks: int = 1, max_tasks: int = 6) -> Plan:
    """A plan whose tasks have unique ids and depend only on earlier tasks."""
    task_ids = draw(st.lists(ids, min_size=min_tasks, max_size=max_tasks, unique=True))
    tasks = []
    for position, task_id in enumerate(task_ids):
        wanted = draw(st.sets(st.integers(min_value=0, max_value=max(position - 1, 0)), max_size=3))
        depends_on = tuple(task_ids[i] for i in sorted(wanted) if i < position)
        tasks.append(
            Task(
                id=task_id,
                title=draw(texts),
                type=draw(_task_types),
                priority=draw(st.sampled_from(Priority)),
                requires_approval=draw(st.booleans()),
                description=draw(texts),
                acceptance_criteria=tuple(draw(_short_text_lists)),
                instruction=draw(texts),
                depends_on=depends_on,
                context_files=tuple(draw(_short_text_lists)),
                deliverables=tuple(draw(_short_text_lists)),
                checks=tuple(draw(_short_text_lists)),
                module=draw(texts),
                estimated_complexity=draw(_optional_complexities),
                line=draw(_lines),
            )
        )
    return Plan(
        source=draw(texts),
        tasks=tuple(tasks),
        date=draw(st.sampled_from(["", "2026-11-23"])),
        title=draw(texts),
        max_cost_usd=draw(_optional_costs),
    )


@st.composite
def sessions(draw: st.DrawFn, session_id: str | None = None, task_ids: Sequence[str] = ()) -> Session:
    """A session (``waiting_for`` names one of ``task_ids`` when there are some)."""
    created_at = draw(times)
    return Session(
        id=draw(ids) if session_id is None else session_id,
        source=draw(texts),
        state=draw(st.sampled_from(SessionState)),
        created_at=created_at,
        updated_at=created_at + draw(_session_lengths),
        auto_approve=draw(st.booleans()),
        agent=draw(texts),
        waiting_for=_one_of_or_none(draw, task_ids, _optional_ids),
        gate=draw(_optional_gates),
        reason=draw(texts),
        version=draw(st.integers(min_value=0, max_value=100)),
    )


#: An attempt, finished or not (numbered 1: ``task_runs`` renumbers).
any_attempt = st.builds(
    Attempt,
    number=st.just(1),
    started_at=times,
    finished_at=_optional_times,
    outcome=_optional_outcomes,
    exit_code=_optional_exit_codes,
    reason=texts,
    cost_usd=_optional_costs,
    input_tokens=_optional_counts,
    output_tokens=_optional_counts,
    agent_session_id=_optional_ids,
    retry_at=_optional_times,
)


def attempts(number: int) -> st.SearchStrategy[Attempt]:
    """Attempt ``number`` of a task, finished or not."""
    return any_attempt.map(lambda a: attrs.evolve(a, number=number))


@st.composite
def task_runs(draw: st.DrawFn, task_id: str, max_attempts: int = 3) -> TaskRun:
    """A run of ``task_id`` with attempts numbered 1, 2, ... in order."""
    drawn = draw(st.lists(any_attempt, max_size=max_attempts))
    return TaskRun(
        task_id=task_id,
        state=draw(st.sampled_from(TaskState)),
        approved=draw(st.booleans()),
        reviewed=draw(st.booleans()),
        attempts=tuple(attrs.evolve(a, number=n) for n, a in enumerate(drawn, start=1)),
        reason=draw(texts),
        question=draw(texts),
        answer=draw(texts),
    )


@st.composite
def events(draw: st.DrawFn, task_ids: Sequence[str] = ()) -> Event:
    """An event as the engine emits it (``seq`` 0: the store assigns it)."""
    return Event(
        kind=draw(st.sampled_from(EventKind)),
        at=draw(times),
        task_id=_one_of_or_none(draw, task_ids, _optional_ids),
        attempt=draw(_optional_attempt_numbers),
        data=draw(json_objects),
    )


#: Longer text of any character UTF-8 can hold, with line breaks: a notification's body.
long_texts = st.text(st.characters(codec="utf-8"), max_size=200)


@st.composite
def notifications(draw: st.DrawFn, session_id: str, key: str | None = None) -> Notification:
    """A notification of ``session_id`` (``key`` drawn unless given)."""
    return Notification(
        key=draw(ids) if key is None else key,
        session_id=session_id,
        kind=draw(st.sampled_from(NotificationKind)),
        title=draw(texts),
        text=draw(long_texts),
        created_at=draw(times),
        task_id=draw(_optional_ids),
        actions=tuple(draw(_short_text_lists)),
        data=draw(json_objects),
    )


@st.composite
def outbox_entries(draw: st.DrawFn, session_id: str, key: str, channel: str) -> OutboxEntry:
    """An outbox entry in any state (fresh, retried, delivered or given up)."""
    delivered = draw(_optional_times)
    return OutboxEntry(
        notification=draw(notifications(session_id, key)),
        channel=channel,
        next_attempt_at=draw(times),
        attempts=draw(st.integers(min_value=0, max_value=1000)),
        last_error=draw(texts),
        delivered_at=delivered,
        gave_up=delivered is None and draw(st.booleans()),
    )
