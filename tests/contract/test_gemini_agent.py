"""The Agent contract on GeminiAgent: the real Gemini CLI against the fake Gemini API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.gemini import GeminiAgent
from orchcore.ports.agent import Agent
from orchcore.testing.contracts import AgentContract, AgentFactory
from tests.fakes.gemini_api import (
    GEMINI,
    Fail,
    FakeGeminiAPI,
    Stall,
    Step,
    needs_gemini,
    shell_turn,
    text_turn,
)

pytestmark = [pytest.mark.gemini, needs_gemini]

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "succeed": (text_turn("done"),),
    "fail": (Fail(400, "bad request"),),
    "hang": (Stall(),),
    "chatty": (shell_turn("echo one"), text_turn("two")),
}


class TestGeminiAgent(AgentContract):
    @pytest.fixture
    def make_agent(self, tmp_path: Path) -> Iterator[AgentFactory]:
        with contextlib.ExitStack() as servers:

            def make(scenario: str, workdir: str) -> Agent:
                api = servers.enter_context(FakeGeminiAPI())
                api.play(*SCENARIOS[scenario])
                home = tmp_path / "home"
                home.mkdir(exist_ok=True)
                return GeminiAgent(
                    executable=str(GEMINI),
                    base_env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
                    base_url=api.base_url,
                    api_key="fake-key",
                    home_dir=str(tmp_path / "gemini-home"),
                    max_retries=0,
                )

            yield make
