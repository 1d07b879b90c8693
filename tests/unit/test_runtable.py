"""RunTable: an immutable mapping of task runs that agrees with a dict after any updates."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.records import TaskRun
from orchcore.runtable import RunTable, with_runs
from orchcore.state import TaskState

IDS = [f"t{i}" for i in range(12)]

_runs = st.builds(TaskRun, st.sampled_from(IDS), st.sampled_from(list(TaskState)), st.booleans())


@settings(max_examples=300)
@given(
    size=st.integers(min_value=0, max_value=len(IDS)),
    chunk=st.integers(min_value=1, max_value=5),
    steps=st.lists(st.lists(_runs, max_size=4), max_size=8),
)
def test_a_table_agrees_with_a_dict_after_any_updates_and_finds_exactly_what_changed(
    size: int, chunk: int, steps: list[list[TaskRun]]
) -> None:
    known = IDS[:size]
    table = RunTable((TaskRun(t) for t in known), chunk=chunk)
    model = {t: TaskRun(t) for t in known}
    history = [(table, dict(model))]
    for step in steps:
        changes = [r for r in step if r.task_id in model]
        table = table.updated(changes)
        model.update({r.task_id: r for r in changes})
        history.append((table, dict(model)))
        assert table == model
        assert model == table
        assert list(table) == known
        assert list(table.items()) == list(model.items())
        assert len(table) == len(model)
    for older, older_model in history:  # against every earlier version, and a plain dict
        expected = [t for t in known if older_model[t] != model[t]]
        assert table.changed_from(older) == expected
        assert table.changed_from(older_model) == expected


def test_an_update_leaves_the_table_it_came_from_unchanged() -> None:
    before = RunTable([TaskRun("a"), TaskRun("b")], chunk=1)
    after = before.updated([TaskRun("b", TaskState.COMPLETED)])
    assert before["b"].state is TaskState.PENDING
    assert after["b"].state is TaskState.COMPLETED
    assert after.updated([]) is after


def test_a_repeated_id_keeps_its_first_place_and_its_last_run_as_a_dict_does() -> None:
    table = RunTable([TaskRun("a"), TaskRun("b"), TaskRun("a", TaskState.SKIPPED)])
    assert list(table.items()) == [("a", TaskRun("a", TaskState.SKIPPED)), ("b", TaskRun("b"))]


def test_an_update_of_a_task_the_table_lacks_raises_key_error_and_a_different_key_set_is_no_diff() -> None:
    table = RunTable([TaskRun("a")])
    with pytest.raises(KeyError):
        table.updated([TaskRun("zz")])
    assert table.changed_from({"b": TaskRun("b")}) is None
    assert "zz" not in table
    assert table.get("zz") is None


def test_a_table_copies_and_is_not_hashable() -> None:
    table = RunTable([TaskRun("a"), TaskRun("b", TaskState.FAILED)], chunk=1)
    assert copy.deepcopy(table) == table
    with pytest.raises(TypeError):
        hash(table)


def test_with_runs_updates_a_table_in_place_of_copying_and_falls_back_to_a_dict_for_unknown_tasks() -> None:
    table = RunTable([TaskRun("a"), TaskRun("b")])
    done = TaskRun("b", TaskState.COMPLETED)
    shared = with_runs(table, [done])
    assert isinstance(shared, RunTable)
    assert shared == {"a": TaskRun("a"), "b": done}
    stray = with_runs(table, [TaskRun("zz")])  # the store refuses it later, with its own error
    assert stray == {"a": TaskRun("a"), "b": TaskRun("b"), "zz": TaskRun("zz")}
    assert with_runs({"a": TaskRun("a")}, [done]) == {"a": TaskRun("a"), "b": done}
