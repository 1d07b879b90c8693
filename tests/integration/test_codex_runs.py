"""One Codex CLI attempt at a time, real CLI against the fake Responses API: resume, the stall
watchdog, a stop asked by the sink (budget), and where the API key goes (nowhere but the CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.codex import CodexAgent
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentRequest, Finished, Tick, UsageReport
from orchcore.records import Outcome
from tests.fakes.openai_responses_api import FakeResponsesAPI, Message, Stall, Turn, Usage, text_turn
from tests.support import CODEX, agent_env, needs_codex

KEY = "sk-codex-never-shown-7731"

pytestmark = [pytest.mark.codex, pytest.mark.integration, needs_codex]


@pytest.fixture
def api() -> Iterator[FakeResponsesAPI]:
    with FakeResponsesAPI() as server:
        yield server


def make_agent(api: FakeResponsesAPI, tmp_path: Path, **settings: Any) -> CodexAgent:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return CodexAgent(
        executable=str(CODEX),
        base_env=agent_env(home),
        model="gpt-5",
        base_url=api.base_url,
        api_key=KEY,
        max_retries=0,
        **settings,
    )


def request(tmp_path: Path, prompt: str = "say hi", **fields: Any) -> AgentRequest:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": 1,
        "prompt": prompt,
        "workdir": str(work),
        "log_path": str(tmp_path / "logs" / "t1-1.log"),
        "timeout_s": 60.0,
    } | fields
    return AgentRequest(**values)


def quiet(_: object) -> str | None:
    return None


def test_a_session_is_resumed_with_what_it_said_before(api: FakeResponsesAPI, tmp_path: Path) -> None:
    agent = make_agent(api, tmp_path)
    api.play(text_turn("first answer"), text_turn("second answer"))
    first = agent.run(request(tmp_path, "remember the word pelican"), quiet)
    assert first.outcome is Outcome.SUCCEEDED, first
    assert first.agent_session_id
    second = agent.run(
        request(tmp_path, "which word?", attempt=2, resume_agent_session=first.agent_session_id), quiet
    )
    assert second.outcome is Outcome.SUCCEEDED, second
    assert second.final_text == "second answer"
    assert second.agent_session_id == first.agent_session_id
    sent = str(api.turns[-1].input_items)
    assert "pelican" in sent  # the earlier turn went back to the model
    assert "first answer" in sent


def test_a_stalled_model_is_cut_by_the_idle_watchdog(api: FakeResponsesAPI, tmp_path: Path) -> None:
    agent = make_agent(api, tmp_path, idle_timeout_s=2)
    api.play(Stall())
    result = agent.run(request(tmp_path), quiet)
    assert result.outcome is Outcome.TIMED_OUT, result
    assert result.reason == "no output for 2 s"


def test_the_sink_stops_the_run_on_its_priced_usage(api: FakeResponsesAPI, tmp_path: Path) -> None:
    agent = make_agent(api, tmp_path)
    api.play(Turn((), Usage(input_tokens=400_000, output_tokens=1000)), text_turn("never reached"))
    seen: list[UsageReport] = []

    def budget(event: object) -> str | None:
        if isinstance(event, UsageReport):
            seen.append(event)
            return "budget: the task's limit of $0.10 is reached" if (event.cost_usd or 0) >= 0.1 else None
        return None

    result = agent.run(request(tmp_path), budget)
    assert result.outcome is Outcome.STOPPED, result
    assert result.reason.startswith("budget:")
    assert seen[0].cost_usd is not None
    assert seen[0].cost_usd >= 0.5  # 400,000 in x $1.25 + 1,000 out x $10 per million


def test_the_api_key_reaches_the_cli_only(api: FakeResponsesAPI, tmp_path: Path) -> None:
    agent = make_agent(api, tmp_path)
    api.play(text_turn("ok"))
    req = request(tmp_path)
    events: list[object] = []
    result = agent.run(req, lambda e: events.append(e) if not isinstance(e, Tick) else None)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert api.turns[0].headers["authorization"] == f"Bearer {KEY}"  # it did reach the API
    assert KEY not in " ".join(agent.command(req))
    assert KEY not in repr(agent)
    assert KEY not in Path(req.log_path).read_text()
    assert KEY not in repr(events)
    assert any(isinstance(e, Finished) for e in events)


def test_check_passes_with_the_real_cli_and_a_key_and_says_what_is_missing_otherwise(
    api: FakeResponsesAPI, tmp_path: Path
) -> None:
    make_agent(api, tmp_path).check()
    no_key = CodexAgent(executable=str(CODEX), base_env=agent_env(tmp_path))
    with pytest.raises(AgentUnavailable, match="OPENAI_API_KEY"):
        no_key.check()
    with pytest.raises(AgentUnavailable, match=r"install-codex-cli\.sh"):
        CodexAgent(executable=str(tmp_path / "no-codex"), api_key=KEY).check()


def test_a_slow_model_is_waited_for_within_the_idle_limit(api: FakeResponsesAPI, tmp_path: Path) -> None:
    agent = make_agent(api, tmp_path, idle_timeout_s=20)
    api.play(Turn((Message("took a while"),), delay_s=3))
    ticks: list[object] = []
    result = agent.run(request(tmp_path), lambda e: ticks.append(e) if isinstance(e, Tick) else None)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.final_text == "took a while"
    assert len(ticks) >= 2  # the engine could look at its state while the model was silent
