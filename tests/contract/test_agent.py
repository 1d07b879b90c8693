"""The Agent contract on every agent adapter."""

from __future__ import annotations

import sys

import pytest

from adapters.command.agent import CommandAgent
from orchcore.ports.agent import Agent, AgentRequest, AgentResult, EventSink, Said, Tick
from orchcore.records import Outcome
from orchcore.testing import ScriptedAgent
from orchcore.testing.contracts import AgentContract, AgentFactory

PY = sys.executable
COMMANDS = {
    "succeed": [PY, "-c", "import sys; sys.stdin.read()"],
    "fail": [PY, "-c", "import sys; sys.stdin.read(); print('it broke', file=sys.stderr); sys.exit(3)"],
    "hang": [PY, "-c", "import time; time.sleep(120)"],
    "chatty": [
        PY,
        "-c",
        "import sys, time\nfor i in range(3):\n    print('step', i, flush=True); time.sleep(0.05)",
    ],
}


class TestCommandAgent(AgentContract):
    @pytest.fixture
    def make_agent(self) -> AgentFactory:
        def make(scenario: str, workdir: str) -> Agent:
            return CommandAgent(COMMANDS[scenario], base_env={"PATH": "/usr/bin:/bin"})

        return make


def _fail(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="scripted failure")


def _hang(request: AgentRequest, sink: EventSink) -> AgentResult:
    for _ in range(int(request.timeout_s) + 1):  # one simulated second per tick
        reason = sink(Tick())
        if reason is not None:
            return AgentResult(Outcome.STOPPED, reason=reason)
    return AgentResult(Outcome.TIMED_OUT, reason="simulated timeout")


def _chatty(_: AgentRequest, sink: EventSink) -> AgentResult:
    for i in range(3):
        sink(Said(f"step {i}"))
    return AgentResult(Outcome.SUCCEEDED, exit_code=0)


class TestScriptedAgent(AgentContract):
    @pytest.fixture
    def make_agent(self) -> AgentFactory:
        steps = {"fail": [_fail], "hang": [_hang], "chatty": [_chatty]}

        def make(scenario: str, workdir: str) -> Agent:
            return ScriptedAgent(scripts={"t1": steps[scenario]} if scenario in steps else {})

        return make
