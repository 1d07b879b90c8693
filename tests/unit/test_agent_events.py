"""The typed agent events: each is stored in the event log in one shape, whichever agent sent it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.ports.agent import (
    TYPED_AGENT_EVENTS,
    AgentRecord,
    Finished,
    Other,
    OutputLine,
    ProcessStarted,
    RateLimited,
    Refused,
    Retrying,
    Said,
    Tick,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import EventKind
from orchcore.safety.events import SafetyLayer
from orchcore.service import create_session, send_command
from orchcore.state import Command
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds


def _run(*events: TypedAgentEvent) -> tuple[InMemoryStore, str, list[str]]:
    """Run a one-task session whose agent reports ``events``; the store, session id and what was shown."""
    store, clock, ids = InMemoryStore(), FakeClock(), SequentialIds()
    plan = Plan(source="today.md", tasks=(Task(id="1", title="t", description="do it"),))
    session_id = create_session(store, plan, ids, clock, auto_approve=True).session.id
    send_command(store, session_id, Command.START, clock)
    shown: list[str] = []
    agent = ScriptedAgent(events=events)
    Engine(store, agent, clock, ids, MemoryLogs(), watch=lambda e: shown.append(str(e.data.get("kind")))).run(
        session_id
    )
    return store, session_id, shown


def test_a_tool_call_is_stored_with_the_agents_tool_name_and_the_neutral_action() -> None:
    call = ToolCall(
        call_id="c1",
        tool="command_execution",
        action=ToolAction.SHELL,
        summary="command_execution ls",
        command="ls",
        input={"command": "ls"},
    )
    store, session_id, _ = _run(call, ToolOutput("c1", "a.py\n"))
    rows = [e.data for e in store.events(session_id) if e.kind is EventKind.AGENT]
    assert rows == [
        {
            "kind": "tool_use",
            "text": "command_execution ls",
            "id": "c1",
            "name": "command_execution",
            "action": "shell",
            "input": {"command": "ls"},
        },
        {"kind": "tool_result", "text": "a.py\n", "tool_use_id": "c1", "is_error": False},
    ]


def test_raw_lines_usage_and_ticks_are_shown_or_counted_but_never_stored() -> None:
    store, session_id, shown = _run(
        OutputLine("compiling..."),
        UsageReport("m1", "gpt-5", input_tokens=10, output_tokens=5, cost_usd=Decimal("0.001")),
        Tick(),
        Said("done", message_id="m1"),
    )
    rows = [e.data for e in store.events(session_id) if e.kind is EventKind.AGENT]
    assert rows == [{"kind": "text", "text": "done", "message_id": "m1"}]
    assert "output" in shown
    assert "tick" not in shown


def test_a_started_process_is_recorded_on_the_attempt_to_reap_after_a_crash() -> None:
    store, session_id, _ = _run(ProcessStarted(group=4242, leader_start=77, marker="ORCH_RUN=abc"))
    attempt = store.load(session_id).run("1").attempts[-1]
    assert attempt.process is not None
    assert (attempt.process.group, attempt.process.leader_start, attempt.process.marker) == (
        4242,
        77,
        "ORCH_RUN=abc",
    )


def test_the_result_row_keeps_the_agents_details_and_money_as_exact_text() -> None:
    finished = Finished(
        "all done",
        cost_usd=Decimal("0.123456789"),
        turns=3,
        agent_session_id="s-1",
        duration_ms=900,
        details={"subtype": "success"},
    )
    assert finished.record() == AgentRecord(
        "result",
        "all done",
        {
            "subtype": "success",
            "is_error": False,
            "total_cost_usd": "0.123456789",
            "num_turns": 3,
            "duration_ms": 900,
            "session_id": "s-1",
        },
    )


def test_a_refusal_names_its_layer_command_and_call() -> None:
    refused = Refused(SafetyLayer.HOOK, "Bash git push", "orchcore: git push is forbidden", call_id="c9")
    assert refused.record().data == {
        "layer": "hook",
        "command": "Bash git push",
        "reason": "orchcore: git push is forbidden",
        "tool_use_id": "c9",
    }


def test_a_rate_limit_reset_is_stored_as_unix_seconds() -> None:
    limited = RateLimited("rejected", datetime(2026, 1, 1, tzinfo=UTC), "five_hour")
    assert limited.rejected
    assert limited.record().data == {"status": "rejected", "resets_at": 1767225600, "window": "five_hour"}


_text = st.text(max_size=20)
_maybe_int = st.none() | st.integers(min_value=0, max_value=10**12)
_json_leaf = st.none() | st.booleans() | st.integers() | _text
_events = st.one_of(
    st.builds(ProcessStarted, st.integers(1, 2**31), st.integers(0, 2**40), _text),
    st.builds(Tick),
    st.builds(OutputLine, _text),
    st.builds(Said, _text, st.none() | _text, st.none() | _text, st.none() | _text, st.none() | _text),
    st.builds(
        ToolCall,
        _text,
        _text,
        st.sampled_from(ToolAction),
        _text,
        st.none() | _text,
        st.tuples(_text),
        st.dictionaries(_text, _json_leaf, max_size=3),
        st.booleans(),
    ),
    st.builds(ToolOutput, _text, _text, st.booleans(), st.booleans()),
    st.builds(
        UsageReport,
        _text,
        _text,
        st.integers(0, 10**9),
        st.integers(0, 10**9),
        cost_usd=st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=12),
    ),
    st.builds(Finished, _text, st.booleans(), turns=_maybe_int, duration_ms=_maybe_int),
    st.builds(
        RateLimited, st.none() | _text, st.none() | st.datetimes(timezones=st.just(UTC)), st.none() | _text
    ),
    st.builds(Retrying, _maybe_int, _maybe_int, st.none() | st.floats(0, 1e9), _maybe_int, _text),
    st.builds(Refused, st.sampled_from(SafetyLayer), _text, _text, st.none() | _text),
    st.builds(Other, _text, _text, st.dictionaries(_text, _json_leaf, max_size=3)),
)


def test_every_event_is_stored_as_plain_json_with_its_kind_and_text() -> None:
    @given(_events)
    def check(event: TypedAgentEvent) -> None:
        assert isinstance(event, TYPED_AGENT_EVENTS)
        stored = event.record()
        row = {"kind": stored.kind, "text": stored.text, **stored.data}
        assert json.loads(json.dumps(row, allow_nan=False)) == row
        assert "kind" not in stored.data
        assert "text" not in stored.data

    check()


def test_a_question_the_agent_asks_while_it_works_makes_the_task_wait_for_an_answer() -> None:
    from orchcore.ports.agent import Asked
    from orchcore.state import TaskState

    store, session_id, _ = _run(Asked("Should the email be unique per tenant"))  # no question mark needed
    run = store.load(session_id).run("1")
    assert run.state is TaskState.WAITING_ANSWER
    assert run.question == "Should the email be unique per tenant"
