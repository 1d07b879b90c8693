"""Aider's plain-text output read into typed events: edits, usage and cost, API errors, the final words."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.aider.prices import ModelPrice
from adapters.aider.stream import AiderOutput, parse_count
from orchcore.ports.agent_events import Refused, Retrying, Said, ToolAction, ToolCall, ToolOutput, UsageReport
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from orchcore.safety.stream_guard import StreamGuard

STREAMS = Path(__file__).resolve().parents[1] / "data" / "aider"
BANNER = [
    "Aider v0.86.2",
    "Model: openai/fake-model with diff edit format",
    "Git repo: none",
    "Repo-map: disabled",
    "",
]
EDIT = [
    "I will create the file.",
    "",
    "hello.txt",
    "```",
    "<<<<<<< SEARCH",
    "=======",
    "hello-from-aider",
    ">>>>>>> REPLACE",
    "```",
    "",
    "Tokens: 2.4k sent, 25 received. Cost: $0.01 message, $0.02 session.",
    "",
    "hello.txt",
    "Applied edit to hello.txt",
]


def read(lines: list[str], price: ModelPrice | None = None) -> tuple[AiderOutput, list[object]]:
    output = AiderOutput(model="openai/fake-model", pricer=price.cost if price else None)
    events = [event for line in lines for event in output.feed(line)]
    return output, events


def test_an_applied_edit_is_an_edit_tool_call_naming_the_file() -> None:
    _, events = read(BANNER + EDIT)
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.action, c.paths) for c in calls] == [(ToolAction.EDIT, ("hello.txt",))]


def test_the_tokens_line_is_usage_priced_by_aiders_own_cost_without_a_configured_price() -> None:
    output, events = read(BANNER + EDIT)
    usage = [e for e in events if isinstance(e, UsageReport)]
    assert [(u.input_tokens, u.output_tokens, u.cost_usd) for u in usage] == [(2400, 25, Decimal("0.01"))]
    assert output.outcome(0).cost_usd == Decimal("0.01")


def test_a_configured_price_wins_over_what_aider_printed() -> None:
    output, _ = read(BANNER + EDIT, ModelPrice(Decimal(2), Decimal(8)))
    assert output.outcome(0).cost_usd == Decimal("0.0050")  # 2400 * 2 + 25 * 8 per million


def test_the_final_words_are_the_reply_without_its_edit_block() -> None:
    output, events = read(BANNER + EDIT)
    said = [e.text for e in events if isinstance(e, Said)]
    result = output.outcome(0)
    assert said == ["I will create the file."]
    assert (result.outcome, result.final_text) == (Outcome.SUCCEEDED, "I will create the file.")


def test_an_api_error_after_retries_is_a_retryable_failure_though_aider_exits_0() -> None:
    lines = [
        *BANNER,
        "litellm.InternalServerError: InternalServerError: OpenAIException - boom",
        "The API provider's servers are down or overloaded.",
        "Retrying in 0.2 seconds...",
        "litellm.InternalServerError: InternalServerError: OpenAIException - boom",
    ]
    output, events = read(lines)
    result = output.outcome(0)
    assert [e.delay_ms for e in events if isinstance(e, Retrying)] == [200.0]
    assert (result.outcome, result.retryable) == (Outcome.FAILED, True)
    assert "boom" in result.reason


def test_a_bad_key_is_a_failure_not_worth_retrying() -> None:
    output, _ = read([*BANNER, "litellm.AuthenticationError: AuthenticationError: OpenAIException - bad key"])
    result = output.outcome(0)
    assert (result.outcome, result.retryable) == (Outcome.FAILED, False)


def test_no_reply_at_all_is_an_error_naming_what_aider_said_on_stderr() -> None:
    output, _ = read(["aider: error: unrecognized arguments: --bogus"])
    result = output.outcome(2, ("aider: error: unrecognized arguments: --bogus",))
    assert result.outcome is Outcome.ERROR
    assert "--bogus" in result.reason


def test_the_captured_reference_stream_reads_as_one_edit_and_one_message() -> None:
    lines = (STREAMS / "message-0.86.2.stdout").read_text().splitlines()
    output, events = read(lines)
    assert [c.paths for c in events if isinstance(c, ToolCall)] == [("hello.txt",)]
    assert output.outcome(0).input_tokens == 2400


def test_rounded_counts_are_read_with_their_suffix() -> None:
    assert [parse_count(t) for t in ("25", "1.9k", "1.2M", "k", "")] == [25, 1900, 1_200_000, 0, 0]


def test_the_parser_never_raises_whatever_aider_prints() -> None:
    pieces = st.sampled_from(
        [
            "Tokens: ",
            "sent, ",
            "received.",
            " Cost: $",
            "Applied edit to ",
            "litellm.",
            "Error: ",
            "Retrying in ",
            " seconds",
            "Repo-map: disabled",
            "```",
            "k",
            "M",
            ".",
            "1",
            "9",
            " ",
            "/",
        ]
    )
    line = st.one_of(st.text(max_size=60), st.lists(pieces, max_size=12).map("".join))

    @given(st.lists(line, max_size=30), st.integers(-9, 300) | st.none())
    def check(lines: list[str], exit_code: int | None) -> None:
        output, _ = read(["Repo-map: disabled", *lines])
        output.outcome(exit_code)
        output.finished()

    check()


def test_an_edit_the_sandbox_did_not_let_aider_write_is_its_refusal_and_not_a_violation() -> None:
    lines = [
        *BANNER,
        "Tokens: 2.0k sent, 23 received.",
        "../outside.txt",
        "Unable to create ../outside.txt, skipping edits.",
        "Unable to write file /w/.env: [Errno 30] Read-only file system: '/w/.env'",
        "Unable to write file /w/a.txt after 3 attempts: [Errno 13] Permission denied: '/w/a.txt'",
    ]
    output = AiderOutput(sandboxed=True)
    events = [e for line in lines for e in output.feed(line)]
    refusals = [e for e in events if isinstance(e, Refused)]
    assert [(r.layer.value, r.command) for r in refusals] == [
        ("sandbox", "edit ../outside.txt"),
        ("sandbox", "edit /w/.env"),
        ("sandbox", "edit /w/a.txt"),
    ]
    assert "Read-only file system" in refusals[1].reason
    assert "Permission denied" in refusals[2].reason
    assert all(isinstance(e, ToolOutput) and e.is_error for e in events if isinstance(e, ToolOutput))
    guard = StreamGuard(DEFAULT_POLICY, "/w")
    found = [guard.feed(e) for e in events]
    assert [f.layer.value for f in found if f is not None] == ["sandbox", "sandbox", "sandbox"]
    assert guard.violation is None, "a refused write is a refusal, never a violation"
    assert output.finished().details["refused"] == ["../outside.txt", "/w/.env", "/w/a.txt"]


def test_without_the_sandbox_a_failed_write_is_only_output() -> None:
    output = AiderOutput()
    events = [e for line in [*BANNER, "Unable to create x/y.txt, skipping edits."] for e in output.feed(line)]
    assert not [e for e in events if isinstance(e, ToolCall)]
