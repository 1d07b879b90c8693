"""The local executor: an agent's command runs on this machine through ``run_process``.

Nothing moves: the workspace is already here, so ``prepare`` and ``finish`` do
nothing; the sandbox policy (bubblewrap), the process group kill and the marker
sweep are ``run_process``'s own.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from adapters.process import run_process
from orchcore.errors import AgentUnavailable
from orchcore.ports.executor import ExecResult, ExecSpec, LineHandler, StartHandler, TickHandler


class LocalExecutor:
    """Satisfies orchcore.ports.Executor on this machine."""

    def check(self, program: str, env: Mapping[str, str]) -> None:
        """Raise AgentUnavailable unless ``program`` is on ``env``'s PATH or an executable file."""
        if "/" in program:
            if Path(program).is_file():
                return
        elif shutil.which(program, path=env.get("PATH")) is not None:
            return
        raise AgentUnavailable(
            f"agent command not found: {program!r} (check agent.command in the config file, "
            "or that the program is installed and on PATH)"
        )

    def prepare(self, workdir: str) -> str:
        """The workspace is here already."""
        return workdir

    def run(
        self,
        spec: ExecSpec,
        on_line: LineHandler,
        on_tick: TickHandler,
        on_start: StartHandler | None = None,
    ) -> ExecResult:
        """Run ``spec`` here; its files are written beside the log and shown to the sandbox."""
        env = dict(spec.env)
        sandbox = spec.sandbox
        for file in spec.files:
            path = Path(spec.log_path).with_suffix(f".{file.name}").resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(file.text, encoding="utf-8")
            env[file.env_var] = str(path)
            if sandbox is not None:  # it lives in orch's hidden state dir
                sandbox = sandbox.showing(str(path))
        result = run_process(
            spec.argv,
            cwd=spec.cwd,
            env=env,
            stdin_text=spec.stdin_text,
            log_path=spec.log_path,
            timeout_s=spec.timeout_s,
            on_line=on_line,
            on_tick=on_tick,
            idle_timeout_s=spec.idle_timeout_s,
            tick_s=spec.tick_s,
            sandbox=sandbox,
            on_start=on_start,
        )
        return ExecResult(
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            timed_out=result.timed_out,
            idle_timed_out=result.idle_timed_out,
            stopped=result.stopped,
            tail=result.tail,
            stderr_tail=result.stderr_tail,
        )

    def finish(self, workdir: str, prepared: str) -> None:
        """Nothing to bring back: the command changed ``workdir`` itself."""


def from_config(config: Mapping[str, object]) -> LocalExecutor:
    """Build from the ``agent.executor`` config section (the entry-point factory signature)."""
    return LocalExecutor()
