"""The stream-json parser and accumulator, on verbatim streams of Claude Code 2.1.197."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.claude_code.stream import TEXT_LIMIT, StreamAccumulator, parse_line
from orchcore.ports.agent import TYPED_AGENT_EVENTS, AgentEvent, OutputLine, UsageReport
from orchcore.records import Outcome
from tests.support import Seen

DATA = Path(__file__).parent.parent / "data"
SESSION = "491cbdf4-d87b-4002-a324-015a15af7ae0"


def events_of(name: str, *, usage: bool = False) -> list[Seen]:
    """The parsed events of a recorded stream, each with its stored row (without the unstored
    usage reports, unless asked)."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [
        Seen.of(event)
        for line in text.splitlines()
        for event in parse_line(line)
        if usage or not isinstance(event, UsageReport)
    ]


def rows(line: str) -> list[Seen]:
    """The events one line parses into, each with its stored row."""
    return [Seen.of(event) for event in parse_line(line)]


def test_each_assistant_message_reports_its_token_usage_with_its_model_and_cost() -> None:
    usage = [e.event for e in events_of("claude-code-2.1.197-write.ndjson", usage=True) if e.kind == "usage"]
    assert [e.message_id for e in usage if isinstance(e, UsageReport)] == [
        "msg_fake_7fed3c29dcc048bc",
        "msg_fake_73ee80e20e424ef5",
    ]
    # priced by the adapter at Opus 4.8's 5/25/6.25/0.50 USD per million tokens
    assert usage[0] == UsageReport(
        "msg_fake_7fed3c29dcc048bc",
        "claude-opus-4-8",
        input_tokens=1001,
        output_tokens=1,
        cache_write_tokens=7,
        cache_read_tokens=3,
        cost_usd=Decimal("0.00507525"),
    )
    assert not usage[0].record().stored


def accumulate(events: list[Seen] | list[AgentEvent]) -> StreamAccumulator:
    summary = StreamAccumulator()
    for event in events:
        summary.feed(event.event if isinstance(event, Seen) else event)
    return summary


def test_write_transcript_yields_init_tool_use_tool_result_text_result_in_order() -> None:
    events = events_of("claude-code-2.1.197-write.ndjson")

    assert [e.kind for e in events] == ["init", "tool_use", "tool_result", "text", "result"]
    assert all(e.persist for e in events)


def test_init_carries_session_model_and_permission_mode() -> None:
    init = events_of("claude-code-2.1.197-write.ndjson")[0]

    assert init.data["session_id"] == SESSION
    assert init.data["model"] == "claude-opus-4-8[1m]"
    assert init.data["permission_mode"] == "acceptEdits"
    assert init.data["claude_code_version"] == "2.1.197"


def test_tool_use_has_name_id_and_input() -> None:
    tool_use = events_of("claude-code-2.1.197-write.ndjson")[1]

    assert tool_use.data["name"] == "Write"
    assert tool_use.data["id"] == "toolu_fake_f0474b659b384efb"
    assert tool_use.data["input"] == {"file_path": "<scratch>/cc-probe/work/hello.txt", "content": "hi"}
    assert tool_use.text == "Write <scratch>/cc-probe/work/hello.txt"


def test_tool_result_answers_the_tool_use_without_error() -> None:
    tool_result = events_of("claude-code-2.1.197-write.ndjson")[2]

    assert tool_result.data == {"tool_use_id": "toolu_fake_f0474b659b384efb", "is_error": False}
    assert tool_result.text.startswith("File created successfully at:")


def test_text_and_result_of_a_successful_run() -> None:
    events = events_of("claude-code-2.1.197-write.ndjson")
    text, result = events[3], events[4]

    assert text.text == "done"
    assert text.data["model"] == "claude-opus-4-8"
    assert result.data["subtype"] == "success"
    assert result.data["is_error"] is False
    assert result.data["total_cost_usd"] == "0.0126805"  # money stays exact: a string, never a float
    assert result.data["num_turns"] == 2
    assert result.data["duration_ms"] == 345
    assert result.data["session_id"] == SESSION
    assert isinstance(result.data["usage"], dict)
    assert result.data["usage"]["output_tokens"] == 103


def test_every_event_keeps_kind_and_text_out_of_its_data() -> None:
    # the engine stores {"kind", "text", **data}: data must not overwrite them
    names = [p.name for p in DATA.glob("claude-code-*.ndjson")]
    for name in names:
        for event in events_of(name):
            assert "kind" not in event.data
            assert "text" not in event.data


def test_events_are_json_serialisable() -> None:
    for path in DATA.glob("claude-code-*.ndjson"):
        for event in events_of(path.name):
            json.dumps(event.data, allow_nan=False)


def test_successful_run_succeeds_with_exact_cost_tokens_and_session() -> None:
    result = accumulate(events_of("claude-code-2.1.197-write.ndjson")).outcome(0)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.exit_code == 0
    assert result.reason == ""
    assert result.cost_usd == Decimal("0.0126805")
    # input counts cache writes and reads: 2003 + 14 + 6
    assert result.input_tokens == 2023
    assert result.output_tokens == 103
    assert result.agent_session_id == SESSION
    assert result.output_tail == "done"
    assert result.turns == 2


def test_api_error_is_a_failure_although_subtype_is_success() -> None:
    events = events_of("claude-code-2.1.197-api-500.ndjson")

    assert [e.kind for e in events] == ["api_retry", "api_retry", "text", "result"]
    assert events[2].data["error"] == "server_error"
    result = accumulate(events).outcome(1)
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("API Error: 500 fake internal error.")
    assert result.cost_usd == Decimal(0)
    assert result.exit_code == 1


def test_api_retry_event_carries_attempt_status_and_delay() -> None:
    retry = events_of("claude-code-2.1.197-api-500.ndjson")[0]

    assert retry.data == {
        "attempt": 1,
        "max_retries": 2,
        "retry_delay_ms": 503.2102369262817,
        "error_status": 500,
        "error": "server_error",
    }
    assert retry.text == "API retry 1/2 in 503 ms (500 server_error)"
    assert accumulate(events_of("claude-code-2.1.197-api-500.ndjson")).api_retries == 2


def test_max_turns_fails_with_max_turns_reason_and_keeps_cost() -> None:
    events = events_of("claude-code-2.1.197-max-turns.ndjson")

    assert [e.kind for e in events] == ["tool_use", "tool_result", "result"]
    assert events[2].text == "Reached maximum number of turns (1)"
    result = accumulate(events).outcome(1)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "max turns reached"
    assert result.cost_usd == Decimal("0.00632525")
    assert result.input_tokens == 1011
    assert result.output_tokens == 51
    assert result.agent_session_id == "5760f8f3-fdb4-4e14-a631-b15d1a1ba7bd"


def test_unknown_resume_id_fails_with_the_cli_error() -> None:
    result = accumulate(events_of("claude-code-2.1.197-unknown-resume.ndjson")).outcome(1)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "No conversation found with session ID: 99999999-2222-4333-8444-555555555555"
    assert result.input_tokens == 0


def test_denied_tool_is_an_error_tool_result_but_the_run_goes_on() -> None:
    (event,) = events_of("claude-code-2.1.197-denied-bash.ndjson")

    assert event.kind == "tool_result"
    assert event.data["is_error"] is True
    assert "has been denied" in event.text


def test_hook_events_are_kept_raw_with_their_type() -> None:
    events = events_of("claude-code-2.1.197-hook-deny.ndjson")

    assert [e.kind for e in events] == ["tool_use", "raw", "raw", "tool_result", "text", "result"]
    assert events[1].text == "system/hook_started"
    assert events[2].text == "system/hook_response"
    hook = events[2].data["event"]
    assert isinstance(hook, dict)
    assert hook["hook_name"] == "PreToolUse:Bash"
    assert accumulate(events).outcome(0).outcome is Outcome.SUCCEEDED


def test_unknown_event_type_is_raw_not_fatal() -> None:
    (event,) = rows('{"type":"brand_new_event","info":{"status":"allowed"},"uuid":"u"}')

    assert event.kind == "raw"
    assert event.text == "brand_new_event"
    assert event.persist
    assert event.data == {"event": {"type": "brand_new_event", "info": {"status": "allowed"}, "uuid": "u"}}


def test_an_api_500_after_the_clis_own_retries_is_a_retryable_failure() -> None:
    result = accumulate(events_of("claude-code-2.1.197-api-500.ndjson")).outcome(0)
    assert result.outcome is Outcome.FAILED
    assert result.retryable
    assert result.retry_at is None


def test_a_real_failure_is_not_retryable() -> None:
    result = accumulate(events_of("claude-code-2.1.197-max-turns.ndjson")).outcome(0)
    assert result.outcome is Outcome.FAILED
    assert not result.retryable


def test_a_rejected_usage_limit_ends_rate_limited_until_its_reset() -> None:
    lines = [
        '{"type":"system","subtype":"init","session_id":"cc-9","model":"claude-opus-4-8"}',
        '{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1795453200,"rateLimitType":"five_hour"}}',
        '{"type":"result","subtype":"success","is_error":true,"result":"Claude AI usage limit reached","session_id":"cc-9"}',
    ]
    summary = accumulate([e for line in lines for e in parse_line(line)])
    result = summary.outcome(1)
    assert result.outcome is Outcome.RATE_LIMITED
    assert result.retry_at == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert result.agent_session_id == "cc-9"
    assert "usage limit reached" in result.reason
    (event,) = rows(lines[1])
    assert (event.kind, event.data) == (
        "rate_limit",
        {"status": "rejected", "resets_at": 1795453200, "window": "five_hour"},
    )


def test_unknown_content_block_is_raw() -> None:
    line = '{"type":"assistant","message":{"content":[{"type":"server_tool_use","id":"x"}]}}'

    (event,) = rows(line)

    assert event.kind == "raw"
    assert event.text == "assistant/server_tool_use"


def test_garbage_line_is_kept_as_unpersisted_output() -> None:
    (event,) = parse_line("Error: something broke {not json\n")

    assert event == OutputLine("Error: something broke {not json")
    assert not event.record().stored


def test_json_that_is_not_an_object_is_output() -> None:
    assert [e.kind for e in rows("[1, 2]")] == ["output"]
    assert [e.kind for e in rows("42")] == ["output"]


def test_blank_line_yields_nothing() -> None:
    assert parse_line("") == []
    assert parse_line("   \n") == []


def test_nan_in_a_line_becomes_null() -> None:
    (event,) = rows('{"type":"result","subtype":"success","is_error":false,"total_cost_usd":NaN}')

    assert event.data["total_cost_usd"] is None
    assert accumulate([event]).outcome(0).cost_usd is None


def test_long_tool_result_is_clipped_and_marked() -> None:
    content = "x" * (TEXT_LIMIT + 500)
    line = json.dumps(
        {
            "type": "user",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": content}],
            },
        }
    )

    (event,) = rows(line)

    assert event.data["truncated"] is True
    assert len(event.text) < TEXT_LIMIT + 50


def test_tool_result_with_block_content_joins_the_texts() -> None:
    blocks = [{"type": "text", "text": "a"}, {"type": "image", "source": {}}, {"type": "text", "text": "b"}]
    line = json.dumps(
        {
            "type": "user",
            "message": {
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": blocks, "is_error": True}]
            },
        }
    )

    (event,) = rows(line)

    assert event.text == "a\n[image]\nb"
    assert event.data["is_error"] is True


def test_no_result_line_is_an_error_with_the_stderr_tail_and_the_init_session() -> None:
    events = events_of("claude-code-2.1.197-write.ndjson")[:2]

    result = accumulate(events).outcome(1, ("first", "Error: Session ID 1111 is already in use.", ""))

    assert result.outcome is Outcome.ERROR
    assert (
        result.reason
        == "claude ended without a result (exit code 1): Error: Session ID 1111 is already in use."
    )
    assert "already in use" in result.output_tail
    assert result.agent_session_id == SESSION
    assert result.cost_usd is None


def test_nothing_at_all_is_an_error_without_session() -> None:
    result = StreamAccumulator().outcome(1)

    assert result.outcome is Outcome.ERROR
    assert result.reason == "claude ended without a result (exit code 1)"
    assert result.agent_session_id is None


def test_success_result_with_non_zero_exit_code_fails() -> None:
    result = accumulate(events_of("claude-code-2.1.197-write.ndjson")).outcome(3)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "claude exited with code 3 after a successful result"


def test_budget_error_fails_with_budget_reason() -> None:
    line = json.dumps(
        {
            "type": "result",
            "subtype": "error_max_budget_usd",
            "is_error": True,
            "total_cost_usd": 0.0130405,
            "errors": ["Reached maximum budget ($0.01)"],
        }
    )

    result = accumulate(parse_line(line)).outcome(1)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "max budget reached"
    assert result.cost_usd == Decimal("0.0130405")


def test_tokens_come_from_model_usage_when_usage_is_zero_after_a_non_streaming_fallback() -> None:
    line = json.dumps(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "usage": {"input_tokens": 0, "output_tokens": 0},
            "modelUsage": {
                "a": {
                    "inputTokens": 10,
                    "outputTokens": 2,
                    "cacheReadInputTokens": 1,
                    "cacheCreationInputTokens": 3,
                },
                "b": {"inputTokens": 5, "outputTokens": 1},
            },
        }
    )

    result = accumulate(parse_line(line)).outcome(0)

    assert (result.input_tokens, result.output_tokens) == (19, 3)


def test_pending_tools_follow_tool_use_and_result() -> None:
    events = events_of("claude-code-2.1.197-write.ndjson")
    summary = StreamAccumulator()

    running = []
    for event in events:
        summary.feed(event.event)
        running.append(summary.tool_running)

    assert running == [False, True, False, False, False]


@given(st.text())
def test_any_text_line_parses_without_raising(line: str) -> None:
    for event in rows(line):
        assert isinstance(event.event, TYPED_AGENT_EVENTS)
        assert event.kind
        json.dumps(event.data, allow_nan=False)


# st.deferred rather than st.recursive: Hypothesis warns (an error here) when a run of
# st.recursive happens to draw only leaves, which made this test flaky.
json_values: st.SearchStrategy[object] = st.deferred(
    lambda: (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text()
        | st.lists(json_values, max_size=3)
        | st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    )
)


@given(
    st.sampled_from(["system", "assistant", "user", "result", "stream_event", "x"]),
    st.dictionaries(
        st.sampled_from(["subtype", "message", "content", "is_error", "session_id"]), json_values
    ),
)
def test_any_json_object_of_a_known_type_parses_and_accumulates_without_raising(
    kind: str, fields: dict[str, object]
) -> None:
    events = rows(json.dumps({"type": kind, **fields}))

    summary = accumulate(events)
    summary.outcome(0)
    for event in events:
        assert isinstance(event.event, TYPED_AGENT_EVENTS)
        json.dumps(event.data, allow_nan=False)


def _result_line_costing(token: str) -> str:
    """The recorded result line of a real run, with the CLI's cost token replaced by ``token``."""
    text = (DATA / "claude-code-2.1.197-write.ndjson").read_text(encoding="utf-8")
    [line] = [line for line in text.splitlines() if '"type":"result"' in line]
    return line.replace('"total_cost_usd":0.0126805', f'"total_cost_usd":{token}')


def test_the_cost_is_the_clis_json_number_exactly_not_its_float() -> None:
    for token in ("0.12345678901234567891", "0.15000000000000002", "1e-7", "0.0126805"):
        events = rows(_result_line_costing(token))
        assert accumulate(events).outcome(0).cost_usd == Decimal(token)
        json.dumps(events[0].data, allow_nan=False)  # the stored event stays JSON


_blocks = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use", "thinking", "tool_result", "image", "x"])},
    optional={
        "text": json_values,
        "name": json_values,
        "id": json_values,
        "input": json_values,
        "thinking": json_values,
        "tool_use_id": json_values,
        "content": json_values,
        "is_error": json_values,
    },
)
_claude_lines = st.fixed_dictionaries(
    {"type": st.sampled_from(["system", "assistant", "user", "result", "rate_limit_event", "stream_event"])},
    optional={
        "subtype": st.sampled_from(["init", "api_retry", "success", "error_max_turns", "hook_started"])
        | json_values,
        "message": st.fixed_dictionaries(
            {"content": st.lists(_blocks, max_size=3) | json_values},
            optional={"id": json_values, "model": json_values, "usage": json_values},
        )
        | json_values,
        "rate_limit_info": json_values,
        "total_cost_usd": json_values,
        "num_turns": json_values,
        "duration_ms": json_values,
        "retry_delay_ms": json_values,
        "permission_denials": json_values,
        "modelUsage": json_values,
        "parent_tool_use_id": json_values,
    },
)


def test_any_claude_shaped_line_parses_into_typed_events_stored_as_json_and_never_raises() -> None:
    @given(_claude_lines)
    def check(obj: dict[str, object]) -> None:
        events = parse_line(json.dumps(obj))
        for event in events:
            assert isinstance(event, TYPED_AGENT_EVENTS)
            stored = event.record()
            json.dumps({"kind": stored.kind, "text": stored.text, **stored.data}, allow_nan=False)
        summary = accumulate(events)
        summary.outcome(0)
        summary.outcome(None, ("stderr",))

    check()
