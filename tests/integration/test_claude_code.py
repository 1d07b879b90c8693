"""ClaudeCodeAgent end to end: the real Claude Code CLI against the fake Anthropic API on loopback.

Needs the pinned CLI from ``scripts/install-claude-cli.sh``; skipped without it.
Nothing leaves 127.0.0.1: the CLI's only endpoint is the fake, and
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC stops its side traffic (telemetry, DNS).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.claude_code import ClaudeCodeAgent, from_config
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports import Agent
from orchcore.ports.agent import AgentEvent, AgentRequest, Tick
from orchcore.records import Outcome
from tests.fakes.anthropic_api import (
    EmptyStream,
    Fail,
    FakeAnthropicAPI,
    Stall,
    Usage,
    text_turn,
    tool_results,
    tool_turn,
    user_texts,
)
from tests.support import CLAUDE, Seen, needs_claude

ROOT = Path(__file__).resolve().parents[2]
PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [
    pytest.mark.claude,
    pytest.mark.integration,
    needs_claude,
]


@attrs.define
class RecordingSink:
    """Keeps every event but ticks; optionally asks to stop when ``stop_when`` says so."""

    stop_when: Callable[[Seen], str | None] | None = None
    events: list[Seen] = attrs.field(factory=list)
    ticks: int = 0

    def __call__(self, event: AgentEvent) -> str | None:
        if isinstance(event, Tick):
            self.ticks += 1
            return None
        seen = Seen.of(event)
        self.events.append(seen)
        return self.stop_when(seen) if self.stop_when else None

    def kinds(self) -> list[str]:
        """Kinds in order, without the unpersisted per-message usage reports."""
        return [e.kind for e in self.events if e.kind != "usage"]

    def first(self, kind: str) -> Seen:
        return next(e for e in self.events if e.kind == kind)


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def make_agent(api: FakeAnthropicAPI, tmp_path: Path, **settings: Any) -> ClaudeCodeAgent:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return ClaudeCodeAgent(
        executable=str(CLAUDE),
        base_env={"PATH": PATH, "HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8"},
        base_url=api.base_url,
        api_key="sk-test",
        config_dir=str(tmp_path / "claude-config"),
        **settings,
    )


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


def processes_with(marker: str) -> list[int]:
    """Pids whose environment holds ``marker`` (the CLI and anything it started)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue  # gone meanwhile, or not ours
    return found


def poll(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_agent_satisfies_the_port(api: FakeAnthropicAPI, tmp_path: Path) -> None:
    agent: Agent = make_agent(api, tmp_path)

    agent.check()


def test_write_tool_creates_the_file_and_the_run_succeeds_with_exact_cost(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    usage = Usage(
        input_tokens=1000, output_tokens=50, cache_creation_input_tokens=200, cache_read_input_tokens=400
    )
    hello = work / "hello.txt"
    api.play(
        tool_turn("Write", {"file_path": str(hello), "content": "hello from the fake\n"}, usage),
        text_turn("done", usage),
    )
    sink = RecordingSink()
    request = make_request(work, "create hello.txt")

    result = make_agent(api, tmp_path).run(request, sink)

    assert hello.read_text() == "hello from the fake\n"
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.exit_code == 0
    # the CLI prices usage at 5/25/6.25/0.50 USD per million input/output/cache-write/cache-read tokens
    assert result.cost_usd == Decimal("0.0154")
    assert result.input_tokens == 2 * (1000 + 200 + 400)
    assert result.output_tokens == 100
    init = sink.first("init")
    assert result.agent_session_id == init.data["session_id"]
    assert sink.kinds() == [
        "process",
        "init",
        "tool_use",
        "tool_result",
        "text",
        "result",
    ]  # process: what to reap after a crash
    assert sink.first("tool_use").data["name"] == "Write"
    assert sink.first("tool_result").data["is_error"] is False
    final = sink.first("result")
    assert final.data["num_turns"] == 2
    assert final.data["is_error"] is False
    assert all(
        e.persist for e in sink.events if e.kind not in ("usage", "process")
    )  # priced, or recorded on the attempt
    # what went over the wire: one HEAD probe, two model turns, the tool result sent back
    assert [(r.method, r.is_main_turn) for r in api.requests] == [
        ("HEAD", False),
        ("POST", True),
        ("POST", True),
    ]
    first, second = api.main_turns
    assert first.headers["x-api-key"] == "sk-test"
    assert any("create hello.txt" in text for text in user_texts(first))
    (answer,) = tool_results(second)
    assert answer["tool_use_id"] == sink.first("tool_use").data["id"]
    assert not answer.get("is_error")
    # the raw stream is in the log, the result line last
    log_lines = Path(request.log_path).read_text().splitlines()
    assert log_lines[-1].startswith('{"type":"result"')


@pytest.mark.parametrize(
    ("failure", "retry_delay_ms"),
    [(Fail(500, "fake internal error"), None), (Fail(429, "fake rate limit", retry_after=1), 1000)],
    ids=["500", "429-retry-after"],
)
def test_a_failed_request_is_retried_and_the_run_succeeds(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path, failure: Fail, retry_delay_ms: int | None
) -> None:
    api.play(failure, text_turn("recovered"))
    sink = RecordingSink()

    result = make_agent(api, tmp_path, max_retries=2).run(make_request(work, "say hi"), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    retry = sink.first("api_retry")
    assert retry.data["error_status"] == failure.status
    assert retry.data["max_retries"] == 2
    if retry_delay_ms is not None:
        assert retry.data["retry_delay_ms"] == retry_delay_ms
    assert len(api.main_turns) == 2
    assert sink.events[-1].text == "recovered"


def test_retries_are_bounded_and_the_run_fails_with_the_api_error(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(*[Fail(500, "fake internal error")] * 5)
    sink = RecordingSink()
    started = time.monotonic()

    result = make_agent(api, tmp_path, max_retries=1).run(make_request(work, "say hi"), sink)

    assert time.monotonic() - started < 20
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("API Error: 500 fake internal error")
    assert result.exit_code == 1
    assert sink.kinds().count("api_retry") == 1
    assert len(api.main_turns) == 2


def test_an_empty_stream_falls_back_to_a_non_streaming_request(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    hello = work / "hello.txt"
    usage = Usage(input_tokens=1000, output_tokens=50)
    api.play(
        EmptyStream(),
        tool_turn("Write", {"file_path": str(hello), "content": "hi"}, usage),
        EmptyStream(),
        text_turn("done", usage),
    )

    result = make_agent(api, tmp_path).run(make_request(work), RecordingSink())

    assert result.outcome is Outcome.SUCCEEDED, result
    assert hello.read_text() == "hi"
    assert [r.streaming for r in api.main_turns] == [True, False, True, False]
    # result.usage is all zeros after this fallback; the tokens come from modelUsage
    assert (result.input_tokens, result.output_tokens) == (2000, 100)
    assert result.cost_usd == Decimal("0.0125")


def test_resume_sends_the_first_conversation_again(api: FakeAnthropicAPI, tmp_path: Path, work: Path) -> None:
    agent = make_agent(api, tmp_path)
    api.play(text_turn("first answer ALPHA-REPLY"))
    first = agent.run(make_request(work, "first message ALPHA"), RecordingSink())
    assert first.outcome is Outcome.SUCCEEDED, first
    assert first.agent_session_id is not None
    api.play(text_turn("second answer"))

    second = agent.run(
        make_request(work, "second message BETA", attempt=2, resume_agent_session=first.agent_session_id),
        RecordingSink(),
    )

    assert second.outcome is Outcome.SUCCEEDED, second
    assert second.agent_session_id == first.agent_session_id
    resumed = api.main_turns[-1]
    texts = user_texts(resumed)
    assert any("first message ALPHA" in t for t in texts)
    assert any("second message BETA" in t for t in texts)
    replies = [m for m in resumed.messages if m.get("role") == "assistant"]
    assert replies
    assert replies[0]["content"][0]["text"] == "first answer ALPHA-REPLY"


def test_a_stalled_stream_is_cut_by_the_idle_watchdog_and_the_group_is_killed(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(Stall())
    marker = f"ORCH_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    request = make_request(work, "say hi", env={name: value})
    sink = RecordingSink()
    started = time.monotonic()

    result = make_agent(api, tmp_path, idle_timeout_s=3).run(request, sink)

    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.TIMED_OUT
    assert result.reason == "no output for 3 s"
    assert result.exit_code is None
    assert 3 <= elapsed < 10
    assert result.agent_session_id == sink.first("init").data["session_id"]
    assert sink.ticks >= 2
    assert processes_with(marker) == []
    assert poll(lambda: api.stalls_released == 1), "the CLI's connection to the fake stayed open"


def test_the_task_timeout_kills_the_run(api: FakeAnthropicAPI, tmp_path: Path, work: Path) -> None:
    api.play(Stall())

    result = make_agent(api, tmp_path, idle_timeout_s=None).run(
        make_request(work, "say hi", timeout_s=3.0), RecordingSink()
    )

    assert result.outcome is Outcome.TIMED_OUT
    assert result.reason == "timed out after 3 s"


def test_a_stop_from_the_sink_stops_the_run_before_the_tool_runs_twice(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(
        tool_turn("Bash", {"command": "echo one >> marks.txt", "description": "mark"}),
        tool_turn("Bash", {"command": "echo two >> marks.txt", "description": "mark"}),
        text_turn("done"),
    )
    sink = RecordingSink(stop_when=lambda e: "cancelled by test" if e.kind == "tool_result" else None)

    result = make_agent(api, tmp_path).run(make_request(work, "mark twice"), sink)

    assert result.outcome is Outcome.STOPPED
    assert result.reason == "cancelled by test"
    assert (work / "marks.txt").read_text() == "one\n"
    assert sink.kinds()[-1] == "tool_result"


def test_bash_runs_without_a_human_by_default(api: FakeAnthropicAPI, tmp_path: Path, work: Path) -> None:
    command = "python3 -c \"open('made.txt', 'w').write('ok')\" && echo ran"
    api.play(tool_turn("Bash", {"command": command, "description": "make"}), text_turn("done"))
    sink = RecordingSink()

    result = make_agent(api, tmp_path).run(make_request(work, "make it"), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert (work / "made.txt").read_text() == "ok"
    assert sink.first("tool_result").text == "ran"


def test_a_disallowed_command_is_refused_and_the_run_goes_on(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(tool_turn("Bash", {"command": "touch denied.txt", "description": "x"}), text_turn("done"))
    sink = RecordingSink()

    result = make_agent(api, tmp_path, disallowed_tools=["Bash(touch:*)"]).run(make_request(work), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert not (work / "denied.txt").exists()
    assert sink.first("tool_result").data["is_error"] is True
    assert sink.first("result").data["permission_denials"]


def test_a_tool_may_stay_silent_longer_than_the_model(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(
        tool_turn("Bash", {"command": "sleep 4 && echo slept", "description": "wait"}), text_turn("done")
    )
    sink = RecordingSink()

    result = make_agent(api, tmp_path, idle_timeout_s=2.5, tool_idle_timeout_s=30).run(
        make_request(work), sink
    )

    assert result.outcome is Outcome.SUCCEEDED, result
    assert sink.first("tool_result").text == "slept"


def test_a_silent_tool_past_its_limit_is_killed_with_its_children(
    api: FakeAnthropicAPI, tmp_path: Path, work: Path
) -> None:
    api.play(tool_turn("Bash", {"command": "sleep 30", "description": "hang"}), text_turn("done"))
    marker = f"ORCH_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    started = time.monotonic()

    result = make_agent(api, tmp_path, tool_idle_timeout_s=2).run(
        make_request(work, env={name: value}), RecordingSink()
    )

    assert result.outcome is Outcome.TIMED_OUT
    assert result.reason == "no output for 2 s while a tool ran"
    assert time.monotonic() - started < 10
    assert processes_with(marker) == []


def test_model_and_max_turns_reach_the_cli(api: FakeAnthropicAPI, tmp_path: Path, work: Path) -> None:
    api.play(*[tool_turn("Bash", {"command": f"echo {i}", "description": "loop"}) for i in range(3)])
    sink = RecordingSink()

    result = make_agent(api, tmp_path, model="my-local-model-x", max_turns=1).run(make_request(work), sink)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "max turns reached"
    assert result.cost_usd is not None
    assert [r.body["model"] for r in api.main_turns] == ["my-local-model-x"]
    assert sink.first("init").data["model"] == "my-local-model-x"


def test_command_line_carries_permissions_model_turns_and_resume(tmp_path: Path) -> None:
    agent = ClaudeCodeAgent(
        executable="claude",
        model="sonnet",
        max_turns=7,
        allowed_tools=["Bash", "Read"],
        disallowed_tools=["Bash(git commit:*)"],
    )

    argv = agent.command(make_request(tmp_path, resume_agent_session="abc"))

    assert argv == [
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode=acceptEdits",
        "--allowedTools=Bash",
        "--allowedTools=Read",
        "--disallowedTools=Bash(git commit:*)",
        "--model=sonnet",
        "--max-turns=7",
        "--resume=abc",
    ]


def test_environment_adds_only_what_the_cli_needs_and_the_request_wins() -> None:
    agent = ClaudeCodeAgent(
        base_env={"PATH": "/bin", "CLAUDE_CODE_MAX_RETRIES": "10"},
        base_url="http://127.0.0.1:9",
        api_key="sk-x",
        max_retries=1,
    )

    env = agent.environment({"EXTRA": "1"})

    assert env == {
        "PATH": "/bin",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "ANTHROPIC_API_KEY": "sk-x",
        "EXTRA": "1",
    }
    assert "sk-x" not in repr(agent)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="permission mode"):
        ClaudeCodeAgent(permission_mode="yolo")
    with pytest.raises(ConfigError, match="max_turns"):
        ClaudeCodeAgent(max_turns=0)


def test_from_config_reads_its_keys_and_ignores_the_rest() -> None:
    agent = from_config(
        {
            "name": "claude_code",
            "command": [],
            "timeout_s": 60.0,
            "executable": "/opt/claude",
            "model": "sonnet",
            "max_turns": 30,
            "allowed_tools": ["Bash", "Edit"],
            "disallowed_tools": "Bash(git push:*),Bash(rm:*)",
            "idle_timeout_s": None,
            "max_retries": 4,
        },
        {"PATH": "/bin"},
    )

    assert agent == ClaudeCodeAgent(
        executable="/opt/claude",
        base_env={"PATH": "/bin"},
        model="sonnet",
        max_turns=30,
        allowed_tools=("Bash", "Edit"),
        disallowed_tools=("Bash(git push:*)", "Bash(rm:*)"),
        max_retries=4,
    )


def test_from_config_rejects_a_wrong_type() -> None:
    with pytest.raises(ConfigError, match="max_turns"):
        from_config({"max_turns": "many"}, {})


def test_check_raises_agent_unavailable_when_the_executable_is_missing(tmp_path: Path) -> None:
    agent = ClaudeCodeAgent(executable=str(tmp_path / "no-such-claude"), base_env={"PATH": PATH})

    with pytest.raises(AgentUnavailable, match=r"install-claude-cli\.sh"):
        agent.check()


def test_check_raises_agent_unavailable_when_the_name_is_not_on_path(tmp_path: Path) -> None:
    agent = ClaudeCodeAgent(executable="claude", base_env={"PATH": str(tmp_path)})

    with pytest.raises(AgentUnavailable, match="not found"):
        agent.check()


def test_check_raises_agent_unavailable_when_the_cli_is_too_old(tmp_path: Path) -> None:
    old = tmp_path / "claude"
    old.write_text("#!/bin/sh\necho '2.0.77 (Claude Code)'\n")
    old.chmod(0o755)

    with pytest.raises(AgentUnavailable, match=r"2\.0\.77 .* older than 2\.1\.0"):
        ClaudeCodeAgent(executable=str(old), base_env={"PATH": PATH}).check()
