"""The Agent contract: how every agent must behave, whatever it runs.

Your factory makes an agent for a named scenario::

    class TestMyAgent(AgentContract):
        @pytest.fixture
        def make_agent(self) -> AgentFactory:
            def make(scenario: str, workdir: str) -> Agent:
                ...  # an agent that, run on any task, behaves as the scenario says
            return make

Scenarios: ``succeed`` (ends well), ``fail`` (ends badly), ``hang`` (runs
silently until stopped), ``chatty`` (reports at least three events, then succeeds).

Every event an agent reports must be one of the typed events of
``orchcore.ports.agent_events`` (the engine dispatches on their type), stored as plain
JSON, and a silent agent must send a ``Tick`` at least once a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.ports.agent import TYPED_AGENT_EVENTS, Agent, AgentEvent, AgentRequest, Tick
from orchcore.records import Outcome

AgentFactory = Callable[[str, str], Agent]
SCENARIOS = ("succeed", "fail", "hang", "chatty")
GRACE_S = 6.0


class Recorder:
    """A sink that records events and can ask the agent to stop."""

    def __init__(self, stop_after_ticks: int | None = None) -> None:
        self.events: list[AgentEvent] = []
        self.untyped: list[object] = []
        self.ticks = 0
        self.stop_after_ticks = stop_after_ticks

    def __call__(self, event: AgentEvent) -> str | None:
        if not isinstance(event, TYPED_AGENT_EVENTS):  # what a typo'd adapter sends slips past mypy
            self.untyped.append(event)
            return None
        if isinstance(event, Tick):
            self.ticks += 1
            if self.stop_after_ticks is not None and self.ticks >= self.stop_after_ticks:
                return "stopped by the contract"
            return None
        self.events.append(event)
        return None


class AgentContract:
    """Subclass as ``TestMyAgent(AgentContract)`` and override ``make_agent``."""

    @pytest.fixture
    def make_agent(self) -> AgentFactory:
        msg = "override make_agent to return a factory (scenario, workdir) -> Agent"
        raise NotImplementedError(msg)

    @staticmethod
    def request(workdir: Path, *, timeout_s: float = 30.0) -> AgentRequest:
        return AgentRequest(
            session_id="contract",
            task_id="t1",
            attempt=1,
            prompt="# Task t1: contract\n\nDo the thing.\n",
            workdir=str(workdir),
            log_path=str(workdir / "logs" / "t1.1.log"),
            timeout_s=timeout_s,
        )

    def test_an_available_agent_passes_its_check(self, make_agent: AgentFactory, tmp_path: Path) -> None:
        make_agent("succeed", str(tmp_path)).check()

    def test_success_is_reported_as_succeeded(self, make_agent: AgentFactory, tmp_path: Path) -> None:
        result = make_agent("succeed", str(tmp_path)).run(self.request(tmp_path), Recorder())
        assert result.outcome is Outcome.SUCCEEDED

    def test_failure_is_an_outcome_with_a_reason_not_an_exception(
        self, make_agent: AgentFactory, tmp_path: Path
    ) -> None:
        result = make_agent("fail", str(tmp_path)).run(self.request(tmp_path), Recorder())
        assert result.outcome in (Outcome.FAILED, Outcome.ERROR)
        assert result.reason

    def test_events_reach_the_sink(self, make_agent: AgentFactory, tmp_path: Path) -> None:
        sink = Recorder()
        result = make_agent("chatty", str(tmp_path)).run(self.request(tmp_path), sink)
        assert result.outcome is Outcome.SUCCEEDED
        assert len(sink.events) >= 3
        assert sink.untyped == []

    def test_every_event_is_typed_and_stored_as_plain_json(
        self, make_agent: AgentFactory, tmp_path: Path
    ) -> None:
        sink = Recorder()
        make_agent("chatty", str(tmp_path)).run(self.request(tmp_path), sink)
        assert sink.untyped == [], "events must be the typed events of orchcore.ports.agent_events"
        for event in sink.events:
            stored = event.record()
            row = {"kind": stored.kind, "text": stored.text, **stored.data}
            assert json.loads(json.dumps(row, allow_nan=False)) == row, f"{event!r} is not stored as JSON"

    def test_a_hanging_agent_is_stopped_at_its_timeout(
        self, make_agent: AgentFactory, tmp_path: Path
    ) -> None:
        start = time.monotonic()
        result = make_agent("hang", str(tmp_path)).run(self.request(tmp_path, timeout_s=1.0), Recorder())
        assert result.outcome is Outcome.TIMED_OUT
        assert time.monotonic() - start < 1.0 + GRACE_S

    def test_the_sink_can_stop_a_silent_agent(self, make_agent: AgentFactory, tmp_path: Path) -> None:
        sink = Recorder(stop_after_ticks=2)
        start = time.monotonic()
        result = make_agent("hang", str(tmp_path)).run(self.request(tmp_path, timeout_s=60.0), sink)
        assert result.outcome is Outcome.STOPPED
        assert sink.ticks >= 2  # a silent agent still lets the engine look, at least once a second
        assert time.monotonic() - start < 2.0 + GRACE_S
