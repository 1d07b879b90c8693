"""The Agent contract on CodexAgent: the real Codex CLI against the fake Responses API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.codex import CodexAgent
from orchcore.ports.agent import Agent
from orchcore.testing.contracts import AgentContract, AgentFactory
from tests.fakes.openai_responses_api import Fail, FakeResponsesAPI, Stall, Step, exec_turn, text_turn
from tests.support import CODEX, needs_codex

pytestmark = [pytest.mark.codex, needs_codex]

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "succeed": (text_turn("done"),),
    "fail": (Fail(401, "bad key"), Fail(401, "bad key")),
    "hang": (Stall(),),
    "chatty": (exec_turn("echo one"), text_turn("two")),
}


class TestCodexAgent(AgentContract):
    @pytest.fixture
    def make_agent(self, tmp_path: Path) -> Iterator[AgentFactory]:
        with contextlib.ExitStack() as servers:

            def make(scenario: str, workdir: str) -> Agent:
                api = servers.enter_context(FakeResponsesAPI())
                api.play(*SCENARIOS[scenario])
                home = tmp_path / "home"
                home.mkdir(exist_ok=True)
                return CodexAgent(
                    executable=str(CODEX),
                    base_env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
                    model="fake-model",
                    base_url=api.base_url,
                    api_key="sk-test",
                    max_retries=0,
                )

            yield make
