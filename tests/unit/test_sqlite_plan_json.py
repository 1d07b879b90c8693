"""The stored plan is read back by hand (not cattrs, which `orch status` no longer imports): every
plan written comes back identical, as the cattrs reader made it, and damage is a StoreError."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sqlite import _convert as convert
from adapters.sqlite.store import SqliteStore
from orchcore.errors import StoreError
from orchcore.records import Session, TaskRun
from orchcore.state import SessionState, TaskState
from orchcore.tasks import Complexity, Plan, Priority, Task

TEXT = st.text(max_size=12)
TEXTS = st.lists(TEXT, max_size=3).map(tuple)
TASKS = st.builds(
    Task,
    id=TEXT,
    title=TEXT,
    type=TEXT,
    priority=st.sampled_from(Priority),
    requires_approval=st.booleans(),
    description=TEXT,
    acceptance_criteria=TEXTS,
    instruction=TEXT,
    depends_on=TEXTS,
    context_files=TEXTS,
    deliverables=TEXTS,
    checks=TEXTS,
    module=TEXT,
    estimated_complexity=st.none() | st.sampled_from(Complexity),
    line=st.integers(0, 10_000),
    depends_on_line=st.integers(0, 10_000),
    context_files_line=st.integers(0, 10_000),
)
PLANS = st.builds(
    Plan,
    source=TEXT,
    tasks=st.lists(TASKS, max_size=5).map(tuple),
    date=TEXT,
    title=TEXT,
    max_cost_usd=st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=4),
)


def cattrs_reader() -> cattrs.Converter:
    """The reader the store used before (the oracle)."""
    plans = cattrs.Converter(forbid_extra_keys=True)

    def decimal(value: object, _: object) -> Decimal:
        assert isinstance(value, str)
        return Decimal(value)

    plans.register_structure_hook(Decimal, decimal)
    return plans


def every_field(plan: Plan) -> tuple[object, ...]:
    """All the plan holds, the fields equality leaves out (a task's line numbers) included."""
    return (repr(plan), tuple(attrs.astuple(t) for t in plan.tasks))


@settings(max_examples=200, deadline=None)
@given(PLANS)
def test_a_plan_reads_back_as_written_and_as_cattrs_read_it(plan: Plan) -> None:
    text = convert.plan_to_json(plan)
    back = convert.plan_from_json(text)
    assert back == plan
    assert every_field(back) == every_field(plan)
    assert every_field(back) == every_field(cattrs_reader().structure(json.loads(text), Plan))


def test_the_reader_knows_every_field_of_a_task_and_a_plan() -> None:
    """A field added to Task or Plan fails here until the reader converts it."""
    assert set(convert._TASK_FIELDS) == {f.name for f in attrs.fields(Task)}
    assert set(convert._PLAN_FIELDS) == {f.name for f in attrs.fields(Plan) if f.init}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tasks"][0].update(colour="red"), "unknown keys \\['colour'\\]"),
        (lambda d: d["tasks"][0].update(priority="urgent"), "'urgent' is not a valid Priority"),
        (lambda d: d["tasks"][0].update(depends_on="1"), "expected a list"),
        (lambda d: d["tasks"][0].pop("id"), "missing 1 required"),
        (lambda d: d.update(tasks={"1": {}}), "expected a list"),
        (lambda d: d.update(max_cost_usd=1.5), "expected a decimal as text"),
    ],
)
def test_a_damaged_plan_is_a_store_error_naming_what_is_wrong(
    tmp_path: Path, change: object, message: str
) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    now = datetime(2026, 12, 2, tzinfo=UTC)
    plan = Plan(source="tasks.md", tasks=(Task(id="1", title="one"),))
    session = Session(id="s1", source="tasks.md", state=SessionState.RUNNING, created_at=now, updated_at=now)
    store.create(session, plan, [TaskRun(task_id="1", state=TaskState.PENDING)], [])
    store.close()
    with sqlite3.connect(path) as db:
        data = json.loads(db.execute("SELECT plan FROM plans").fetchone()[0])
        change(data)  # type: ignore[operator]
        db.execute("UPDATE plans SET plan = ?", (json.dumps(data),))
    with pytest.raises(StoreError, match=message):
        SqliteStore(str(path)).load("s1")
