"""Gemini CLI's stream-json parser and run tally, on verbatim streams of 0.61.0 (and Hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.gemini.events import RunTally, retrying, transient
from adapters.gemini.prices import PRICES, Price, cost_of, price_for
from adapters.gemini.stream import NotJson, Result, Tokens, ToolUse, Unknown, parse_line
from orchcore.ports.agent import (
    TYPED_AGENT_EVENTS,
    Finished,
    Other,
    Refused,
    Said,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import Outcome
from orchcore.safety.events import SafetyLayer

DATA = Path(__file__).parent.parent / "data"


def events_of(name: str, tally: RunTally | None = None) -> tuple[RunTally, list[TypedAgentEvent]]:
    tally = tally or RunTally(model="gemini-2.5-flash")
    text = (DATA / name).read_text(encoding="utf-8")
    return tally, [e for line in text.splitlines() for e in tally.feed(parse_line(line))]


def test_a_tool_run_becomes_a_neutral_shell_call_its_output_one_message_and_the_result() -> None:
    tally, events = events_of("gemini-0.61.0-tool.jsonl")

    kinds = [type(e).__name__ for e in events if not (isinstance(e, Other) and not e.stored)]
    assert kinds == ["Other", "ToolCall", "ToolOutput", "Said", "UsageReport", "Finished"]
    call = next(e for e in events if isinstance(e, ToolCall))
    assert call.action is ToolAction.SHELL
    assert call.command == "echo hello-from-gemini > hello.txt && cat hello.txt"
    assert call.summary == "run_shell_command echo hello-from-gemini > hello.txt && cat hello.txt"
    output = next(e for e in events if isinstance(e, ToolOutput))
    assert (output.call_id, output.text, output.is_error) == (call.call_id, "hello-from-gemini", False)
    said = next(e for e in events if isinstance(e, Said))
    assert said.text == "Done: created hello.txt."  # the two delta chunks, joined
    result = tally.outcome(0)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.final_text == "Done: created hello.txt."
    assert result.agent_session_id == "cc39ec5f-0ac3-4483-bda3-0998db74c18e"
    assert (result.input_tokens, result.output_tokens) == (200, 16)
    assert result.cost_usd == (200 * Decimal("0.30") + 16 * Decimal("2.50")) / 1_000_000
    (usage,) = [e for e in events if isinstance(e, UsageReport)]
    assert usage.cost_usd == result.cost_usd
    assert all(isinstance(e, TYPED_AGENT_EVENTS) for e in events)


def test_a_failed_result_is_a_failure_with_the_api_error_and_a_5xx_is_retryable() -> None:
    tally = RunTally(model="gemini-2.5-flash")
    line = {
        "type": "result",
        "status": "error",
        "error": {"type": "unknown", "message": '[API Error: {"error":{"code":500,"message":"boom"}}]'},
        "stats": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
    }
    events = tally.feed(parse_line(json.dumps(line)))

    result = tally.outcome(1)
    assert result.outcome is Outcome.FAILED
    assert result.retryable is True
    assert "boom" in result.reason
    assert isinstance(events[-1], Finished)
    assert events[-1].is_error is True


def test_no_result_is_an_error_named_by_the_exit_code() -> None:
    tally = RunTally()

    auth = tally.outcome(41, ["Invalid auth method selected."])
    turns = tally.outcome(53)

    assert auth.outcome is Outcome.ERROR
    assert auth.reason.startswith("gemini could not authenticate (exit code 41)")
    assert auth.reason.endswith("Invalid auth method selected.")
    assert auth.retryable is False
    assert (turns.outcome, turns.reason) == (Outcome.FAILED, "max turns reached (exit code 53)")


def test_a_hook_denial_is_refused_by_the_hook_before_the_tools_error() -> None:
    tally = RunTally(guarded=True)
    tally.feed(ToolUse("run_shell_command", "t1", {"command": "git commit -am x"}))
    blocked = "Tool execution blocked: orchcore: forbidden (git-commit): git commit"
    line = {
        "type": "tool_result",
        "tool_id": "t1",
        "status": "error",
        "output": blocked,
        "error": {"type": "policy_violation", "message": blocked},
    }

    refused, output = tally.feed(parse_line(json.dumps(line)))

    assert isinstance(refused, Refused)
    assert (refused.layer, refused.call_id) == (SafetyLayer.HOOK, "t1")
    assert refused.reason == "orchcore: forbidden (git-commit): git commit"
    assert refused.command == "run_shell_command git commit -am x"
    assert isinstance(output, ToolOutput)
    assert output.is_error


def test_a_read_only_file_system_in_a_shell_result_is_a_sandbox_refusal_but_not_in_a_file_read() -> None:
    tally = RunTally()
    tally.feed(ToolUse("run_shell_command", "s", {"command": "echo x > /etc/x"}))
    tally.feed(ToolUse("read_file", "r", {"file_path": "notes.md"}))
    said = "bash: /etc/x: Read-only file system"

    shell = tally.feed(
        parse_line(json.dumps({"type": "tool_result", "tool_id": "s", "status": "success", "output": said}))
    )
    read = tally.feed(
        parse_line(json.dumps({"type": "tool_result", "tool_id": "r", "status": "success", "output": said}))
    )

    assert isinstance(shell[0], Refused)
    assert shell[0].layer is SafetyLayer.SANDBOX
    assert [type(e) for e in read] == [ToolOutput]


def test_a_shell_call_in_another_directory_is_checked_where_it_runs() -> None:
    (call,) = RunTally().feed(
        ToolUse("run_shell_command", "c", {"command": "git commit -m x", "dir_path": "/w/sub dir"})
    )

    assert isinstance(call, ToolCall)
    assert call.command == "cd '/w/sub dir' && git commit -m x"


def test_file_tools_name_their_paths_and_unknown_tools_are_other() -> None:
    tally = RunTally()
    (write,) = tally.feed(ToolUse("write_file", "w", {"file_path": "a.py", "content": "x"}))
    (edit,) = tally.feed(ToolUse("replace", "e", {"file_path": "b.py", "old_string": "1", "new_string": "2"}))
    (todo,) = tally.feed(ToolUse("write_todos", "t", {"todos": []}))

    assert isinstance(write, ToolCall)
    assert (write.action, write.paths) == (ToolAction.WRITE, ("a.py",))
    assert isinstance(edit, ToolCall)
    assert (edit.action, edit.paths) == (ToolAction.EDIT, ("b.py",))
    assert isinstance(todo, ToolCall)
    assert todo.action is ToolAction.OTHER


def test_thinking_tokens_are_billed_as_output_and_cached_input_at_the_cached_price() -> None:
    tokens = Tokens(input=1000, output=50, cached=400, total=1100)

    cost = cost_of("gemini-2.5-pro-preview", tokens)

    assert tokens.billed_output == 100
    assert cost == (600 * Decimal("1.25") + 400 * Decimal("0.125") + 100 * Decimal(10)) / 1_000_000


def test_an_unknown_model_is_priced_at_the_dearest_known_one() -> None:
    assert price_for("some-new-model", PRICES) == max(PRICES.values(), key=lambda p: (p.output, p.input))
    assert price_for("x", {"": Price(Decimal(1), Decimal(2), Decimal(0))}).output == 2


def test_transient_errors_are_told_from_permanent_ones() -> None:
    assert transient("Attempt 1 failed: fake 503. Max attempts reached\n  status: 503")
    assert transient("RetryableQuotaError: you exceeded your quota")
    assert not transient('[API Error: {"error":{"code":400,"message":"bad"}}]\n  status: 400')


def test_a_line_that_is_no_json_object_is_output_and_an_unknown_type_is_kept_raw() -> None:
    assert parse_line("Loaded cached credentials.") == NotJson("Loaded cached credentials.")
    assert parse_line("[1, 2]") == NotJson("[1, 2]")
    assert parse_line("   ") is None
    unknown = parse_line('{"type": "thought", "subject": "x"}')
    assert isinstance(unknown, Unknown)
    assert unknown.name == "thought"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_KEYS = (
    "type",
    "status",
    "tool_id",
    "tool_name",
    "parameters",
    "output",
    "error",
    "stats",
    "role",
    "content",
    "delta",
    "session_id",
    "model",
)


def test_the_parser_and_the_tally_never_raise_on_arbitrary_lines() -> None:
    @given(st.lists(st.text(max_size=80) | st.builds(json.dumps, _json), max_size=8))
    def check(lines: list[str]) -> None:
        tally = RunTally(guarded=True)
        for line in lines:
            tally.feed(parse_line(line))
        tally.flush()
        tally.outcome(1, lines[-2:])

    check()


def test_the_tally_never_raises_on_events_of_known_types_with_arbitrary_fields() -> None:
    types = st.sampled_from(["init", "message", "tool_use", "tool_result", "error", "result", "other"])
    fields = st.dictionaries(st.sampled_from(_KEYS), _json, max_size=8)

    @given(st.lists(st.tuples(types, fields), max_size=8), st.one_of(st.none(), st.integers(-5, 300)))
    def check(objects: list[tuple[str, dict[str, object]]], exit_code: int | None) -> None:
        tally = RunTally(guarded=True, model="gemini-2.5-flash")
        for kind, data in objects:
            for event in tally.feed(parse_line(json.dumps({**data, "type": kind}))):
                assert isinstance(event, TYPED_AGENT_EVENTS)
                event.record()  # every event can be stored
        result = tally.outcome(exit_code)
        assert result.cost_usd is None or result.cost_usd >= 0
        if isinstance(tally.result, Result) and tally.result.ok and exit_code in (0, None):
            assert result.outcome is Outcome.SUCCEEDED

    check()


def test_the_clis_retry_line_on_stderr_is_a_retrying_event() -> None:
    line = 'Attempt 2 failed with status 503. Retrying with backoff... _ApiError: {"error":{"code":503}}'

    retry = retrying(line, 4)

    assert retry is not None
    assert (retry.attempt, retry.max_retries, retry.status) == (2, 4, 503)
    assert retry.error.startswith("_ApiError")
    assert retrying("Attempt 1 failed: fake 429. Max attempts reached") is None
    assert retrying("Ripgrep is not available. Falling back to GrepTool.") is None


def test_a_run_cut_short_after_its_init_line_keeps_its_session_id() -> None:
    tally = RunTally()
    tally.feed(parse_line('{"type":"init","session_id":"s-42","model":"gemini-2.5-flash"}'))

    result = tally.outcome(None)

    assert result.agent_session_id == "s-42"
    assert result.outcome is Outcome.ERROR
