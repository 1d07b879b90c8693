"""The user's agent passes orchcore's shipped Agent contract."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from my_agent import MyToolAgent

from orchcore.ports.agent import Agent
from orchcore.testing.contracts import AgentContract, AgentFactory

# stand-ins for the real tool, one per scenario the contract asks for
TOOLS = {
    "succeed": "#!/bin/sh\nexit 0\n",
    "fail": "#!/bin/sh\necho 'no such model' >&2\nexit 2\n",
    "hang": "#!/bin/sh\nexec sleep 120\n",
    "chatty": "#!/bin/sh\necho reading\necho editing\necho done\n",
}


class TestMyToolAgent(AgentContract):
    @pytest.fixture
    def make_agent(self, tmp_path: Path) -> AgentFactory:
        def make(scenario: str, workdir: str) -> Agent:
            tool = tmp_path / "bin" / f"mytool-{scenario}"
            tool.parent.mkdir(exist_ok=True)
            tool.write_text(TOOLS[scenario])
            tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
            return MyToolAgent(str(tool), {"PATH": os.defpath})

        return make
