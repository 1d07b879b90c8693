"""Hypothesis strategies for orchcore's values: plans, sessions, task runs, events.

Everything drawn is valid as the domain builds it: task ids unique, dependencies
only on earlier tasks, times timezone-aware UTC, money Decimal, event data JSON.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st

from orchcore.records import (
    Attempt,
    Event,
    EventKind,
    Gate,
    JsonValue,
    Outcome,
    Session,
    TaskRun,
)
from orchcore.state import SessionState, TaskState
from orchcore.tasks import Complexity, Plan, Priority, Task

#: Short text of any character UTF-8 can hold (no lone surrogates).
texts = st.text(st.characters(codec="utf-8"), max_size=12)

#: Identifiers as the task-file parser and the id factory produce them.
ids = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=10)

# Bounds are naive by hypothesis' API; the values drawn are UTC-aware.
_EARLIEST = datetime(2000, 1, 1)  # noqa: DTZ001
_LATEST = datetime(2100, 1, 1)  # noqa: DTZ001

#: Timezone-aware UTC instants with microseconds, well inside datetime's range.
times = st.datetimes(min_value=_EARLIEST, max_value=_LATEST, timezones=st.just(UTC))

#: US dollars with 0 to 6 decimal places (what agents report), never float.
costs = st.integers(min_value=0, max_value=6).flatmap(
    lambda places: st.decimals(
        min_value=Decimal(0), max_value=Decimal(1000), places=places, allow_nan=False, allow_infinity=False
    )
)

_small_ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_counts = st.integers(min_value=0, max_value=10**9)

#: JSON values (no NaN or infinities: JSON has none).
json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=6,
)

#: JSON objects, as events carry them.
json_objects = st.dictionaries(texts, json_values, max_size=4)


@st.composite
def plans(draw: st.DrawFn, min_tasks: int = 1, max_tasks: int = 6) -> Plan:
    """A plan whose tasks have unique ids and depend only on earlier tasks."""
    task_ids = draw(st.lists(ids, min_size=min_tasks, max_size=max_tasks, unique=True))
    tasks = []
    for position, task_id in enumerate(task_ids):
        earlier = task_ids[:position]
        depends_on = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        tasks.append(
            Task(
                id=task_id,
                title=draw(texts),
                type=draw(st.sampled_from(["any", "code", "docs", "test"])),
                priority=draw(st.sampled_from(Priority)),
                requires_approval=draw(st.booleans()),
                description=draw(texts),
                acceptance_criteria=tuple(draw(st.lists(texts, max_size=2))),
                instruction=draw(texts),
                depends_on=tuple(depends_on),
                context_files=tuple(draw(st.lists(texts, max_size=2))),
                deliverables=tuple(draw(st.lists(texts, max_size=2))),
                module=draw(texts),
                estimated_complexity=draw(st.none() | st.sampled_from(Complexity)),
                line=draw(st.integers(min_value=1, max_value=10_000)),
            )
        )
    return Plan(
        source=draw(texts),
        tasks=tuple(tasks),
        date=draw(st.sampled_from(["", "2026-11-23"])),
        title=draw(texts),
        max_cost_usd=draw(st.none() | costs),
    )


@st.composite
def sessions(draw: st.DrawFn, session_id: str | None = None, task_ids: tuple[str, ...] = ()) -> Session:
    """A session (``waiting_for`` names one of ``task_ids`` when there are some)."""
    created_at = draw(times)
    waiting = st.none() | (st.sampled_from(task_ids) if task_ids else ids)
    return Session(
        id=draw(ids) if session_id is None else session_id,
        source=draw(texts),
        state=draw(st.sampled_from(SessionState)),
        created_at=created_at,
        updated_at=draw(
            st.datetimes(min_value=created_at.replace(tzinfo=None), max_value=_LATEST, timezones=st.just(UTC))
        ),
        auto_approve=draw(st.booleans()),
        agent=draw(texts),
        waiting_for=draw(waiting),
        gate=draw(st.none() | st.sampled_from(Gate)),
        reason=draw(texts),
        version=draw(st.integers(min_value=0, max_value=100)),
    )


def attempts(number: int) -> st.SearchStrategy[Attempt]:
    """Attempt ``number`` of a task, finished or not."""
    return st.builds(
        Attempt,
        number=st.just(number),
        started_at=times,
        finished_at=st.none() | times,
        outcome=st.none() | st.sampled_from(Outcome),
        exit_code=st.none() | _small_ints,
        reason=texts,
        cost_usd=st.none() | costs,
        input_tokens=st.none() | _counts,
        output_tokens=st.none() | _counts,
        agent_session_id=st.none() | ids,
    )


@st.composite
def task_runs(draw: st.DrawFn, task_id: str, max_attempts: int = 3) -> TaskRun:
    """A run of ``task_id`` with attempts numbered 1, 2, ... in order."""
    count = draw(st.integers(min_value=0, max_value=max_attempts))
    return TaskRun(
        task_id=task_id,
        state=draw(st.sampled_from(TaskState)),
        approved=draw(st.booleans()),
        reviewed=draw(st.booleans()),
        attempts=tuple(draw(attempts(n)) for n in range(1, count + 1)),
        reason=draw(texts),
    )


@st.composite
def events(draw: st.DrawFn, task_ids: tuple[str, ...] = ()) -> Event:
    """An event as the engine emits it (``seq`` 0: the store assigns it)."""
    task_id = draw(st.none() | (st.sampled_from(task_ids) if task_ids else ids))
    return Event(
        kind=draw(st.sampled_from(EventKind)),
        at=draw(times),
        task_id=task_id,
        attempt=draw(st.none() | st.integers(min_value=1, max_value=5)),
        data=draw(json_objects),
    )
