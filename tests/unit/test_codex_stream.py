"""codex exec --json streams (recorded from Codex CLI 0.171.0) read into typed agent events."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.codex.prices import DEFAULT_PRICES, price_for
from adapters.codex.rollout import RolloutEvents
from adapters.codex.stream import CodexStream, is_transient, shell_script
from orchcore.ports.agent import (
    TYPED_AGENT_EVENTS,
    Finished,
    Refused,
    Retrying,
    Said,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from orchcore.safety.events import SafetyLayer
from orchcore.safety.stream_guard import StreamGuard
from orchcore.sandbox import agent_sandbox

DATA = Path(__file__).resolve().parents[1] / "data" / "codex"


def read(name: str, model: str = "gpt-5-codex") -> tuple[CodexStream, list[TypedAgentEvent]]:
    stream = CodexStream(model=model, price=price_for(model, DEFAULT_PRICES))
    events = [e for line in (DATA / name).read_text().splitlines() for e in stream.feed(line)]
    return stream, events


def of(kind: type, events: list[TypedAgentEvent]) -> list[TypedAgentEvent]:
    return [e for e in events if isinstance(e, kind)]


def test_a_text_turn_is_said_priced_and_succeeds() -> None:
    stream, events = read("codex-exec-text.jsonl")
    assert [e.text for e in of(Said, events)] == ["Hello from the fake Responses API."]  # type: ignore[attr-defined]
    (usage,) = of(UsageReport, events)
    assert isinstance(usage, UsageReport)
    assert (usage.input_tokens, usage.output_tokens) == (100, 12)
    assert usage.cost_usd == Decimal("0.000245")  # 100 x 1.25 + 12 x 10 USD per million
    result = stream.outcome(0)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.final_text == "Hello from the fake Responses API."
    assert result.cost_usd == Decimal("0.000245")
    assert result.agent_session_id == "01a232f4-a010-7893-a5da-2001bbe2aa1d"


def test_the_model_metadata_error_item_is_a_warning_not_a_failure() -> None:
    stream, events = read("codex-exec-text.jsonl")
    assert not any(isinstance(e, Finished) and e.is_error for e in events)
    assert stream.outcome(0).reason == ""


def test_a_command_is_a_shell_tool_call_with_the_script_the_shell_ran() -> None:
    _, events = read("codex-exec-tool.jsonl")
    (call,) = of(ToolCall, events)
    assert isinstance(call, ToolCall)
    assert call.action is ToolAction.SHELL
    assert call.command == "echo hello-from-codex > hello.txt && cat hello.txt"
    (output,) = of(ToolOutput, events)
    assert isinstance(output, ToolOutput)
    assert output.call_id == call.call_id
    assert not output.is_error
    assert "hello-from-codex" in output.text


def test_a_write_the_sandbox_refused_is_a_sandbox_refusal_before_its_result() -> None:
    _, events = read("codex-exec-tool-readonly.jsonl")
    kinds = [type(e) for e in events]
    assert kinds.index(Refused) < kinds.index(ToolOutput)
    (refused,) = of(Refused, events)
    assert isinstance(refused, Refused)
    assert refused.layer is SafetyLayer.SANDBOX
    assert "Read-only file system" in refused.reason


def _outside_write(output: str, exit_code: int) -> list[str]:
    """The stream of a shell write outside the workspace, shown by the stream itself (item.started first)."""
    command = "/bin/bash -lc 'echo pwned > /elsewhere/outside.txt'"
    item = {"id": "item_1", "type": "command_execution", "command": command}
    return [
        '{"type":"thread.started","thread_id":"t1"}',
        '{"type":"turn.started"}',
        json.dumps(
            {"type": "item.started", "item": {**item, "aggregated_output": "", "status": "in_progress"}}
        ),
        json.dumps(
            {
                "type": "item.completed",
                "item": {
                    **item,
                    "aggregated_output": output,
                    "exit_code": exit_code,
                    "status": "failed" if exit_code else "completed",
                },
            }
        ),
    ]


def test_a_shown_write_outside_the_workspace_that_the_os_sandbox_refused_is_a_refusal_not_a_violation() -> (
    None
):
    # codex sometimes shows the command before it runs (item.started): the guard must wait for the
    # sandbox's answer rather than stop the run at once (a flake of test_codex_orch before the fix)
    guard = StreamGuard(DEFAULT_POLICY, "/w/project", sandbox=agent_sandbox(workdir="/w/project", home=None))
    stream = CodexStream()
    refusals = []
    for line in _outside_write("/bin/bash: line 1: /elsewhere/outside.txt: Read-only file system\n", 1):
        for event in stream.feed(line):
            found = guard.feed(event)
            if found is not None:
                refusals.append(found)
    assert guard.violation is None
    assert [(r.layer, r.refused) for r in refusals] == [(SafetyLayer.SANDBOX, True)]


def test_a_shown_write_outside_the_workspace_that_nothing_refused_is_a_violation_once_it_ran() -> None:
    guard = StreamGuard(DEFAULT_POLICY, "/w/project", sandbox=agent_sandbox(workdir="/w/project", home=None))
    stream = CodexStream()
    lines = _outside_write("", 0)
    for line in lines[:-1]:
        for event in stream.feed(line):
            guard.feed(event)
    assert guard.violation is None  # shown, not yet run: the sandbox may still refuse it
    for event in stream.feed(lines[-1]):
        guard.feed(event)
    assert guard.violation is not None
    assert "it ran, nothing refused it" in guard.violation.reason


def test_without_the_os_sandbox_a_shown_write_outside_the_workspace_is_a_violation_at_once() -> None:
    guard = StreamGuard(DEFAULT_POLICY, "/w/project")
    stream = CodexStream()
    for line in _outside_write("", 0)[:-1]:
        for event in stream.feed(line):
            guard.feed(event)
    assert guard.violation is not None
    assert "write outside the workspace" in guard.violation.reason


def test_the_clis_reconnects_are_retries_and_the_turn_still_succeeds() -> None:
    stream, events = read("codex-exec-fail500.jsonl")
    retries = of(Retrying, events)
    assert [(r.attempt, r.max_retries) for r in retries] == [(1, 2), (2, 2)]  # type: ignore[attr-defined]
    assert stream.outcome(0).outcome is Outcome.SUCCEEDED


def test_a_429_past_the_clis_retries_is_a_retryable_failure() -> None:
    stream, _ = read("codex-exec-fail429.jsonl")
    result = stream.outcome(1)
    assert result.outcome is Outcome.FAILED
    assert result.retryable
    assert "429" in result.reason


def test_a_stream_that_keeps_failing_is_a_retryable_failure() -> None:
    stream, _ = read("codex-exec-failed.jsonl")
    result = stream.outcome(1)
    assert (result.outcome, result.retryable) == (Outcome.FAILED, True)
    assert "stream disconnected" in result.reason


def test_a_bad_key_is_a_failure_no_retry_can_fix() -> None:
    stream = CodexStream()
    for line in (
        '{"type":"thread.started","thread_id":"t1"}',
        '{"type":"turn.started"}',
        '{"type":"error","message":"unexpected status 401 Unauthorized: bad key"}',
        '{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: bad key"}}',
    ):
        stream.feed(line)
    result = stream.outcome(1)
    assert (result.outcome, result.retryable) == (Outcome.FAILED, False)
    assert "401" in result.reason


def test_a_cli_that_printed_nothing_is_an_error_with_its_stderr() -> None:
    result = CodexStream().outcome(2, ["error: unexpected argument '--bogus' found"])
    assert result.outcome is Outcome.ERROR
    assert "--bogus" in result.reason


def test_a_file_change_is_a_write_with_its_paths() -> None:
    stream = CodexStream()
    item = {"id": "item_1", "type": "file_change", "changes": [{"path": "/w/a.txt", "kind": "add"}]}
    started = stream.feed(json.dumps({"type": "item.started", "item": {**item, "status": "in_progress"}}))
    done = stream.feed(json.dumps({"type": "item.completed", "item": {**item, "status": "completed"}}))
    (call,) = started
    assert isinstance(call, ToolCall)
    assert (call.action, call.paths) == (ToolAction.WRITE, ("/w/a.txt",))
    assert [type(e) for e in done] == [ToolOutput]


def test_shell_script_unwraps_only_a_shell_with_one_script() -> None:
    assert shell_script("/bin/bash -lc 'git commit -m x'") == "git commit -m x"
    assert shell_script("bash -c 'a && b'") == "a && b"
    assert shell_script("python -c 'print(1)'") == "python -c 'print(1)'"
    assert shell_script("/bin/bash -lc 'unterminated") == "/bin/bash -lc 'unterminated"


def test_transient_means_rate_limits_overload_and_dropped_streams_not_bad_requests() -> None:
    assert is_transient("exceeded retry limit, last status: 503 Service Unavailable")
    assert is_transient("stream disconnected before completion: boom")
    assert not is_transient("unexpected status 400 Bad Request: invalid model")
    assert not is_transient("the model said no")


def test_the_session_record_adds_a_command_the_sandbox_refused_and_the_stream_hid() -> None:
    stream = CodexStream()
    stream.feed('{"type":"thread.started","thread_id":"t1"}')
    stream.feed('{"type":"turn.started"}')
    follow = RolloutEvents(stream)
    call = {"type": "function_call", "name": "exec_command", "call_id": "c1"}
    assert (
        follow.feed({"type": "response_item", "payload": {**call, "arguments": '{"cmd": "echo x > /etc/y"}'}})
        == []
    )
    out = "Process exited with code 1\nOutput:\n/bin/bash: line 1: /etc/y: Read-only file system\n"
    events = follow.feed(
        {"type": "response_item", "payload": {"type": "function_call_output", "call_id": "c1", "output": out}}
    )
    assert [type(e) for e in events] == [ToolCall, Refused, ToolOutput]
    assert events[0].command == "echo x > /etc/y"  # type: ignore[union-attr]


def test_the_session_record_repeats_nothing_the_stream_showed() -> None:
    stream, _ = read("codex-exec-tool-readonly.jsonl")
    follow = RolloutEvents(stream)
    args = json.dumps({"cmd": "echo hello-from-codex > hello.txt && cat hello.txt"})
    follow.feed(
        {
            "type": "response_item",
            "payload": {"type": "function_call", "name": "exec_command", "call_id": "c", "arguments": args},
        }
    )
    out = {"type": "function_call_output", "call_id": "c", "output": "hello.txt: Read-only file system"}
    assert follow.feed({"type": "response_item", "payload": out}) == []


def test_usage_after_each_model_response_prices_the_turn_so_far_once() -> None:
    stream = CodexStream(model="gpt-5", price=price_for("gpt-5"))
    stream.feed('{"type":"thread.started","thread_id":"t1"}')
    stream.feed('{"type":"turn.started"}')
    follow = RolloutEvents(stream)
    tokens = {
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {"last_token_usage": {"input_tokens": 1000, "output_tokens": 100}},
        },
    }
    first, second = follow.feed(tokens), follow.feed(tokens)
    assert [u.cost_usd for u in (*first, *second)] == [Decimal("0.00225"), Decimal("0.0045")]  # type: ignore[union-attr]
    done = stream.feed('{"type":"turn.completed","usage":{"input_tokens":2000,"output_tokens":200}}')
    assert isinstance(done[-1], Finished)
    assert done[-1].cost_usd == Decimal("0.0045")
    assert follow.feed(tokens) == []  # after turn.completed: counted already
    assert stream.outcome(0).cost_usd == Decimal("0.0045")


_TYPES = st.sampled_from(
    [
        "thread.started",
        "turn.started",
        "item.started",
        "item.updated",
        "item.completed",
        "turn.completed",
        "turn.failed",
        "error",
        "x",
    ]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_ITEMS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "command_execution",
                "file_change",
                "agent_message",
                "error",
                "reasoning",
                "web_search",
                "mcp_tool_call",
                "todo_list",
            ]
        )
    },
    optional={
        "id": _VALUES,
        "command": _VALUES,
        "changes": _VALUES,
        "text": _VALUES,
        "aggregated_output": _VALUES,
        "exit_code": _VALUES,
        "status": _VALUES,
    },
)
_OBJECTS = st.fixed_dictionaries(
    {"type": _TYPES},
    optional={
        "item": _ITEMS | _VALUES,
        "usage": _VALUES,
        "error": _VALUES,
        "message": _VALUES,
        "thread_id": _VALUES,
    },
)


def test_the_parser_never_raises_and_only_emits_typed_events() -> None:
    @given(
        st.lists(st.one_of(_OBJECTS.map(json.dumps), st.text(max_size=80)), max_size=8),
        st.integers(-2, 3) | st.none(),
    )
    def check(lines: list[str], exit_code: int | None) -> None:
        stream = CodexStream()
        follow = RolloutEvents(stream)
        for line in lines:
            for event in stream.feed(line):
                assert isinstance(event, TYPED_AGENT_EVENTS)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                for event in follow.feed({"type": "response_item", "payload": record}):
                    assert isinstance(event, TYPED_AGENT_EVENTS)
        assert stream.outcome(exit_code).outcome in set(Outcome)

    check()


def test_the_rollout_tail_reads_complete_lines_once_and_skips_what_a_resumed_thread_had(
    tmp_path: Path,
) -> None:
    from adapters.codex.rollout import RolloutTail

    day = tmp_path / "sessions" / "2026" / "12" / "02"
    day.mkdir(parents=True)
    old = day / "rollout-2026-12-02T01-00-00-t1.jsonl"
    old.write_text('{"type": "earlier attempt"}\n')
    tail = RolloutTail.before_run(tmp_path / "sessions")
    assert tail.read(None) == []
    with old.open("a") as file:
        file.write('{"type": "now"}\n{"type": "ha')
    assert tail.read("t1") == [{"type": "now"}]
    with old.open("a") as file:
        file.write('lf"}\n')
    assert tail.read("t1") == [{"type": "half"}]
    assert tail.read("t1") == []
