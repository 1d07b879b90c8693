"""The Agent contract on AiderAgent: the real Aider CLI against the fake Chat Completions API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.aider import AiderAgent
from orchcore.ports.agent import Agent
from orchcore.testing.contracts import AgentContract, AgentFactory
from tests.fakes.openai_chat_api import Fail, FakeChatAPI, Reply, Stall, Step, edit_reply
from tests.support import AIDER, needs_aider

pytestmark = [pytest.mark.aider, needs_aider]

SCENARIOS: dict[str, tuple[Step, ...]] = {
    "succeed": (Reply("done"),),
    "fail": (Fail(401, "bad key"),),
    "hang": (Stall(),),
    "chatty": (edit_reply("notes.txt", "", "one\ntwo"),),
}


class TestAiderAgent(AgentContract):
    @pytest.fixture
    def make_agent(self, tmp_path: Path) -> Iterator[AgentFactory]:
        with contextlib.ExitStack() as servers:

            def make(scenario: str, workdir: str) -> Agent:
                api = servers.enter_context(FakeChatAPI())
                api.play(*SCENARIOS[scenario])
                home = tmp_path / "home"
                home.mkdir(exist_ok=True)
                return AiderAgent(
                    executable=str(AIDER),
                    base_env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"},
                    model="openai/fake-model",
                    base_url=api.base_url,
                    api_key="sk-test",
                )

            yield make
