"""The front ends' shared rules (orchcore.service) over the in-memory store."""

from __future__ import annotations

import pytest

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.errors import SessionBusy, SessionExists
from orchcore.service import resume_session, run_succeeded, start_session
from orchcore.state import Command, SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

PLAN = Plan(tasks=(Task(id="1", title="One", instruction="do it"),), source="/tasks/today.md")


def start(store: InMemoryStore, *, new: bool = False, plan: Plan = PLAN) -> str:
    snap = start_session(
        store,
        plan,
        SequentialIds(prefix=f"s{len(store.sessions())}-"),
        FakeClock(),
        agent="scripted",
        new=new,
    )
    return snap.session.id


def complete(store: InMemoryStore, sid: str) -> None:
    Engine(store, ScriptedAgent(), FakeClock(), SequentialIds(), MemoryLogs()).run(sid)
    assert store.session(sid).state is SessionState.COMPLETED


def test_start_refuses_a_second_session_while_one_is_unfinished() -> None:
    store = InMemoryStore()
    first = start(store)
    with pytest.raises(SessionExists) as refused:
        start(store)
    assert refused.value.session_id == first
    assert refused.value.state == "running"
    assert len(store.sessions()) == 1


def test_start_refuses_to_rerun_a_completed_file_without_new() -> None:
    store = InMemoryStore()
    first = start(store)
    complete(store, first)
    with pytest.raises(SessionExists) as refused:
        start(store)
    assert (refused.value.session_id, refused.value.state) == (first, "completed")
    assert len(store.sessions()) == 1
    second = start(store, new=True)
    assert second != first
    assert store.session(second).state is SessionState.RUNNING


def test_start_of_another_file_is_not_held_back() -> None:
    store = InMemoryStore()
    start(store)
    other = Plan(tasks=PLAN.tasks, source="/tasks/tomorrow.md")
    start(store, plan=other)
    assert len(store.sessions()) == 2


def test_resume_while_another_engine_drives_changes_nothing() -> None:
    store = InMemoryStore()
    sid = start(store)
    from orchcore.service import send_command

    send_command(store, sid, Command.PAUSE, FakeClock())
    store.acquire_lease(sid, "host:123")
    before = store.load(sid)
    with pytest.raises(SessionBusy, match="being run by host:123"):
        resume_session(store, sid, FakeClock())
    assert store.load(sid) == before
    after = resume_session(store, sid, FakeClock(), driving=sid)
    assert after.session.state is SessionState.RUNNING


@pytest.mark.parametrize(
    ("state", "ok"),
    [
        (SessionState.COMPLETED, True),
        (SessionState.WAITING_APPROVAL, True),
        (SessionState.PAUSED, True),
        (SessionState.FAILED, False),
        (SessionState.HALTED, False),
        (SessionState.CANCELLED, False),
    ],
)
def test_run_succeeded_only_when_done_or_waiting_on_a_human(state: SessionState, ok: bool) -> None:
    assert run_succeeded(state) is ok


def test_start_without_new_never_duplicates_a_file_whatever_came_before() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from orchcore.service import send_command

    ops = st.lists(st.sampled_from(["start", "start_new", "complete", "cancel", "other_file"]), max_size=12)

    @given(ops)
    def check(steps: list[str]) -> None:
        store = InMemoryStore()
        for step in steps:
            newest = next((s for s in store.sessions() if s.source == PLAN.source), None)
            if step in ("start", "start_new"):
                unfinished = [
                    s
                    for s in store.sessions()
                    if s.source == PLAN.source and s.state.value not in ("completed", "cancelled")
                ]
                refused = bool(unfinished) or (newest is not None and newest.state is SessionState.COMPLETED)
                before = len(store.sessions())
                try:
                    start(store, new=step == "start_new")
                except SessionExists:
                    assert step == "start"
                    assert refused
                    assert len(store.sessions()) == before
                else:
                    assert step == "start_new" or not refused
            elif step == "other_file":
                start(store, new=True, plan=Plan(tasks=PLAN.tasks, source="/tasks/other.md"))
            elif newest is not None and newest.state is SessionState.RUNNING:
                if step == "complete":
                    complete(store, newest.id)
                else:
                    send_command(store, newest.id, Command.CANCEL, FakeClock())

    check()
