"""GeminiAgent end to end: the real Gemini CLI against the fake Gemini API on loopback.

Needs the pinned CLI from ``scripts/install-gemini-cli.sh``; skipped without it (the
reason is printed). Nothing leaves 127.0.0.1: the CLI's only endpoint is the fake, and
the run's settings turn off its update checks, usage statistics and telemetry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.gemini import GeminiAgent
from orchcore.ports.agent import (
    AgentEvent,
    AgentRequest,
    Finished,
    Other,
    ProcessStarted,
    Retrying,
    Said,
    Tick,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import Outcome
from tests.fakes.gemini_api import (
    GEMINI,
    Fail,
    FakeGeminiAPI,
    Slow,
    Stall,
    Usage,
    call_turn,
    function_responses,
    needs_gemini,
    shell_turn,
    text_turn,
    user_texts,
)

PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [pytest.mark.gemini, pytest.mark.integration, needs_gemini]


@attrs.define
class Sink:
    """Keeps every event but ticks; optionally asks to stop when ``stop_when`` says so."""

    stop_when: Callable[[TypedAgentEvent | AgentEvent], str | None] | None = None
    events: list[TypedAgentEvent | AgentEvent] = attrs.field(factory=list)
    ticks: int = 0

    def __call__(self, event: TypedAgentEvent | AgentEvent) -> str | None:
        if isinstance(event, Tick):
            self.ticks += 1
            return None
        self.events.append(event)
        return self.stop_when(event) if self.stop_when else None

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events if not (isinstance(e, Other) and not e.stored)]


@pytest.fixture
def api() -> Iterator[FakeGeminiAPI]:
    with FakeGeminiAPI() as server:
        yield server


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def make_agent(api: FakeGeminiAPI, tmp_path: Path, **settings: Any) -> GeminiAgent:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "executable": str(GEMINI),
        "base_env": {"PATH": PATH, "HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8"},
        "base_url": api.base_url,
        "api_key": "fake-gemini-key-123",
        "max_retries": 0,
    } | settings
    return GeminiAgent(**values)


def make_request(work: Path, prompt: str = "create hello.txt", **fields: Any) -> AgentRequest:
    values: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": 1,
        "prompt": prompt,
        "workdir": str(work),
        "log_path": str(work.parent / "logs" / "t1-1.log"),
        "timeout_s": 60.0,
    } | fields
    return AgentRequest(**values)


def kinds_with_usage(sink: Sink) -> list[str]:
    return [type(e).__name__ for e in sink.events if not (isinstance(e, Other) and not e.stored)]


def processes_with(marker: str) -> list[int]:
    """Pids whose environment holds ``marker`` (the CLI and anything it started)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def test_a_shell_tool_writes_the_file_and_the_run_succeeds_priced_by_the_adapter(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    usage = Usage(prompt_tokens=1000, output_tokens=50, cached_tokens=200)
    api.play(
        shell_turn("echo hello-from-gemini > hello.txt && cat hello.txt", usage),
        text_turn("Done: created hello.txt.", usage),
    )
    sink = Sink()
    request = make_request(work, "create hello.txt PROMPT-MARK")

    result = make_agent(api, tmp_path).run(request, sink)

    assert (work / "hello.txt").read_text() == "hello-from-gemini\n"
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.exit_code == 0
    assert result.final_text == "Done: created hello.txt."
    # gemini-2.5-flash: 0.30 / 2.50 / 0.03 USD per million input / output / cached input tokens
    assert (
        result.cost_usd
        == (1600 * Decimal("0.30") + 400 * Decimal("0.03") + 100 * Decimal("2.50")) / 1_000_000
    )
    assert (result.input_tokens, result.output_tokens) == (2000, 100)
    kinds = [k for k in sink.kinds() if k != "UsageReport"]
    assert kinds == ["ProcessStarted", "Other", "ToolCall", "ToolOutput", "Said", "Finished"]
    (call,) = sink.of(ToolCall)
    assert call.action is ToolAction.SHELL
    assert call.tool == "run_shell_command"
    assert call.command == "echo hello-from-gemini > hello.txt && cat hello.txt"
    assert call.guarded is False  # no policy in this request: no hook
    (output,) = sink.of(ToolOutput)
    assert (output.call_id, output.text, output.is_error) == (call.call_id, "hello-from-gemini", False)
    # each response priced as it ended (the AfterModel hook sees no cached count: all at the input
    # price, never less), then zeroed and replaced by the run's own total
    *responses, report = sink.of(UsageReport)
    each = (1000 * Decimal("0.30") + 50 * Decimal("2.50")) / 1_000_000
    assert [(r.message_id, r.cost_usd) for r in responses] == [
        ("gemini-response-1", each),
        ("gemini-response-2", each),
        ("gemini-response-1", 0),
        ("gemini-response-2", 0),
    ]
    assert kinds_with_usage(sink)[:4] == ["ProcessStarted", "Other", "UsageReport", "ToolCall"], (
        "before the tool"
    )
    assert report.cost_usd == result.cost_usd
    (finished,) = sink.of(Finished)
    assert finished.agent_session_id == result.agent_session_id is not None
    # on the wire: two model turns, the key in a header, the prompt from stdin, the tool's answer sent back
    first, second = api.main_turns
    assert first.headers["x-goog-api-key"] == "fake-gemini-key-123"
    assert first.model == "gemini-2.5-flash"
    assert any("PROMPT-MARK" in t for t in user_texts(first))
    (answer,) = function_responses(second)
    assert answer["name"] == "run_shell_command"
    assert "hello-from-gemini" in json.dumps(answer["response"])
    # the raw stream is in the log, the result line last; the key is nowhere in it
    log = Path(request.log_path).read_text()
    assert log.splitlines()[-1].startswith('{"type":"result"') or '"type":"result"' in log
    assert "fake-gemini-key-123" not in log


def test_the_api_key_is_neither_in_argv_nor_seen_by_the_agents_tools(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    api.play(shell_turn("env > env.txt"), text_turn("done"))
    agent = make_agent(api, tmp_path)
    request = make_request(work)

    result = agent.run(request, Sink())

    assert result.outcome is Outcome.SUCCEEDED, result
    assert "fake-gemini-key-123" not in " ".join(agent.command(request))
    seen = (work / "env.txt").read_text()
    assert "fake-gemini-key-123" not in seen
    assert "GOOGLE_GEMINI_BASE_URL" in seen  # the environment did reach the tool, only the key is gone


def test_a_file_write_tool_is_a_neutral_write_call(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    target = work / "notes.md"
    api.play(
        call_turn("write_file", {"file_path": str(target), "content": "# notes\n"}), text_turn("written")
    )
    sink = Sink()

    result = make_agent(api, tmp_path).run(make_request(work), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert target.read_text() == "# notes\n"
    (call,) = sink.of(ToolCall)
    assert (call.action, call.paths) == (ToolAction.WRITE, (str(target),))


def test_a_transient_500_is_retried_by_the_cli_and_the_run_succeeds(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    api.play(Fail(500, "fake internal error"), text_turn("recovered"))
    sink = Sink()

    result = make_agent(api, tmp_path, max_retries=1).run(make_request(work, "say hi"), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.final_text == "recovered"
    assert len(api.main_turns) == 2
    (retry,) = sink.of(Retrying)  # the CLI's own retry, read from its stderr
    assert (retry.attempt, retry.max_retries, retry.status) == (1, 1, 500)
    assert "fake internal error" in retry.error


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_transient_error_past_the_clis_retries_fails_retryable(
    api: FakeGeminiAPI, tmp_path: Path, work: Path, status: int
) -> None:
    api.play(*[Fail(status, f"fake {status}")] * 3)
    sink = Sink()

    result = make_agent(api, tmp_path, max_retries=0).run(make_request(work, "say hi"), sink)

    assert result.outcome is Outcome.FAILED
    assert result.retryable is True
    assert f"fake {status}" in result.reason
    (finished,) = sink.of(Finished)
    assert finished.is_error is True
    assert len(api.main_turns) == 1


def test_a_bad_request_fails_and_is_not_retried(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    api.play(Fail(400, "fake bad request"))

    result = make_agent(api, tmp_path).run(make_request(work, "say hi"), Sink())

    assert result.outcome is Outcome.FAILED
    assert result.retryable is False
    assert "fake bad request" in result.reason


def test_a_stalled_stream_is_cut_by_the_idle_watchdog_and_the_group_is_killed(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    api.play(Stall())
    marker = f"ORCH_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    sink = Sink()
    started = time.monotonic()

    result = make_agent(api, tmp_path, idle_timeout_s=3).run(
        make_request(work, "say hi", env={name: value}), sink
    )

    assert result.outcome is Outcome.TIMED_OUT
    assert result.reason == "no output for 3 s"
    assert 3 <= time.monotonic() - started < 15
    assert sink.ticks >= 2
    assert processes_with(marker) == []


def test_a_slow_model_that_keeps_streaming_is_not_cut(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    api.play(Slow(text_turn("slow but fine"), delay_s=1.5))

    result = make_agent(api, tmp_path, idle_timeout_s=10).run(make_request(work, "say hi"), Sink())

    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.final_text == "slow but fine"


def test_a_silent_tool_past_its_limit_is_killed_with_its_children(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    api.play(shell_turn("sleep 30"), text_turn("done"))
    marker = f"ORCH_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    started = time.monotonic()

    result = make_agent(api, tmp_path, tool_idle_timeout_s=2).run(
        make_request(work, env={name: value}), Sink()
    )

    assert result.outcome is Outcome.TIMED_OUT
    assert result.reason == "no output for 2 s while a tool ran"
    assert time.monotonic() - started < 15
    assert processes_with(marker) == []


def test_a_stop_from_the_sink_stops_the_run_before_the_tool_runs_twice(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    # the model takes a second to answer the first result: the stop lands before the second call
    api.play(
        shell_turn("echo one >> marks.txt"), Slow(shell_turn("echo two >> marks.txt"), 2.0), text_turn("done")
    )
    sink = Sink(stop_when=lambda e: "cancelled by test" if isinstance(e, ToolOutput) else None)

    result = make_agent(api, tmp_path).run(make_request(work, "mark twice"), sink)

    assert result.outcome is Outcome.STOPPED
    assert result.reason == "cancelled by test"
    assert (work / "marks.txt").read_text() == "one\n"


def test_an_excluded_tool_is_not_offered_and_a_call_to_it_is_refused(
    api: FakeGeminiAPI, tmp_path: Path, work: Path
) -> None:
    api.play(shell_turn("touch denied.txt"), text_turn("done"))
    sink = Sink()

    result = make_agent(api, tmp_path, excluded_tools=["run_shell_command"]).run(make_request(work), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert not (work / "denied.txt").exists()
    offered = [f["name"] for t in api.main_turns[0].body["tools"] for f in t.get("functionDeclarations", [])]
    assert "run_shell_command" not in offered
    assert sink.of(ToolOutput)[0].is_error is True


def test_resume_sends_the_first_conversation_again(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    agent = make_agent(api, tmp_path)
    api.play(text_turn("first answer ALPHA-REPLY"))
    first = agent.run(make_request(work, "first message ALPHA"), Sink())
    assert first.outcome is Outcome.SUCCEEDED, first
    assert first.agent_session_id is not None
    api.play(text_turn("second answer"))

    second = agent.run(
        make_request(work, "second message BETA", attempt=2, resume_agent_session=first.agent_session_id),
        Sink(),
    )

    assert second.outcome is Outcome.SUCCEEDED, second
    texts = user_texts(api.main_turns[-1])
    assert any("first message ALPHA" in t for t in texts)
    assert any("second message BETA" in t for t in texts)


def test_the_process_is_reported_before_anything_else(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    api.play(text_turn("hi"))
    sink = Sink()

    make_agent(api, tmp_path).run(make_request(work), sink)

    assert isinstance(sink.events[0], ProcessStarted)
    assert sink.of(Said)[-1].text == "hi"


def test_model_and_max_turns_reach_the_cli(api: FakeGeminiAPI, tmp_path: Path, work: Path) -> None:
    api.play(*[shell_turn(f"echo {i}") for i in range(5)])

    result = make_agent(api, tmp_path, model="gemini-2.5-pro", max_turns=2).run(make_request(work), Sink())

    assert result.outcome is Outcome.FAILED
    assert (result.exit_code, result.reason) == (53, "max turns reached (exit code 53)")
    assert result.retryable is False
    assert [r.model for r in api.main_turns] == ["gemini-2.5-pro", "gemini-2.5-pro"]
    # what the two turns cost is still known, at gemini-2.5-pro's 1.25 / 10 USD per million
    assert result.cost_usd == (2000 * Decimal("1.25") + 100 * Decimal(10)) / 1_000_000
