"""A user's own agent for orchcore: drives a CLI that takes the prompt as an argument.

It depends only on orchcore's public ports, not on orchcore's adapters. Register it
in your package's pyproject.toml and select it with `agent: {name: mytool}`:

    [project.entry-points."orchcore.adapters"]
    "agent.mytool" = "my_agent:from_config"
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, OutputLine, Tick
from orchcore.records import Outcome


class MyToolAgent:
    """Runs `<executable> --message PROMPT` in the task's folder."""

    def __init__(self, executable: str, base_env: Mapping[str, str]) -> None:
        self.executable = executable
        self.env = dict(base_env)

    def check(self) -> None:
        if shutil.which(self.executable, path=self.env.get("PATH")) is None:
            raise AgentUnavailable(f"{self.executable} is not installed")

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        Path(request.log_path).parent.mkdir(parents=True, exist_ok=True)
        with Path(request.log_path).open("w") as log:
            proc = subprocess.Popen(
                [self.executable, "--message", request.prompt],
                cwd=request.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + request.timeout_s
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return AgentResult(Outcome.TIMED_OUT, reason=f"killed after {request.timeout_s}s")
                stop = on_event(Tick())
                if stop is not None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return AgentResult(Outcome.STOPPED, reason=stop)
                time.sleep(0.1)
        for line in Path(request.log_path).read_text().splitlines():
            on_event(OutputLine(line))
        if proc.returncode == 0:
            return AgentResult(Outcome.SUCCEEDED, exit_code=0)
        return AgentResult(
            Outcome.FAILED, exit_code=proc.returncode, reason=f"mytool exited {proc.returncode}"
        )


def from_config(config: Mapping[str, object], base_env: Mapping[str, str]) -> MyToolAgent:
    """The entry-point factory: orchcore passes the `agent` config section and the agent's environment."""
    return MyToolAgent(str(config.get("executable") or "mytool"), base_env)
