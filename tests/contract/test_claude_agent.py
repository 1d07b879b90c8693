"""The Agent contract on ClaudeCodeAgent: the real CLI against the fake Anthropic API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.claude_code import ClaudeCodeAgent
from orchcore.ports.agent import Agent
from orchcore.testing.contracts import AgentContract, AgentFactory
from tests.fakes.anthropic_api import Fail, FakeAnthropicAPI, Stall, Step, text_turn, tool_turn
from tests.support import CLAUDE, needs_claude

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.claude,
    needs_claude,
]

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "succeed": (text_turn("done"),),
    "fail": (Fail(400, "bad request"),),
    "hang": (Stall(),),
    "chatty": (tool_turn("Bash", {"command": "echo one"}), text_turn("two"), text_turn("three")),
}


class TestClaudeCodeAgent(AgentContract):
    @pytest.fixture
    def make_agent(self, tmp_path: Path) -> Iterator[AgentFactory]:
        with contextlib.ExitStack() as servers:

            def make(scenario: str, workdir: str) -> Agent:
                api = servers.enter_context(FakeAnthropicAPI())
                api.play(*SCENARIOS[scenario])
                home = tmp_path / "home"
                home.mkdir(exist_ok=True)
                return ClaudeCodeAgent(
                    executable=str(CLAUDE),
                    base_env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
                    base_url=api.base_url,
                    api_key="sk-test",
                    config_dir=str(tmp_path / "claude-config"),
                    max_retries=0,
                )

            yield make
