"""The command agent: runs any configured program on a task.

The prompt arrives on stdin and in a file (path in ``ORCH_PROMPT_FILE``); the
program runs in the task's working directory; exit code 0 means success.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from adapters.process import ProcessResult, run_process
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, OutputLine, ProcessStarted, Tick
from orchcore.records import AttemptProcess, Outcome
from orchcore.sandbox import SandboxPolicy


class CommandAgent:
    """Satisfies orchcore.ports.Agent for any program given as an argv list."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        base_env: Mapping[str, str],
        idle_timeout_s: float | None = None,
    ) -> None:
        if not command:
            raise AgentUnavailable("no agent command configured: set agent.command in the config file")
        self._command = tuple(command)
        self._env = dict(base_env)
        self._idle_timeout_s = idle_timeout_s

    def check(self) -> None:
        program = self._command[0]
        found = shutil.which(program, path=self._env.get("PATH"))
        if found is None and not (Path(program).is_file() and "/" in program):
            raise AgentUnavailable(
                f"agent command not found: {program!r} (check agent.command in the config file, "
                "or that the program is installed and on PATH)"
            )

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        prompt_file = Path(request.log_path).with_suffix(".prompt.md")
        prompt_file.parent.mkdir(parents=True, exist_ok=True)
        prompt_file.write_text(request.prompt, encoding="utf-8")
        env = {
            **self._env,
            **request.env,
            "ORCH_PROMPT_FILE": str(prompt_file.resolve()),
            "ORCH_SESSION_ID": request.session_id,
            "ORCH_TASK_ID": request.task_id,
            "ORCH_ATTEMPT": str(request.attempt),
        }
        result = run_process(
            self._command,
            cwd=request.workdir,
            env=env,
            stdin_text=request.prompt,
            log_path=request.log_path,
            timeout_s=request.timeout_s,
            idle_timeout_s=self._idle_timeout_s,
            on_line=lambda line: on_event(OutputLine(line)),
            on_tick=lambda: on_event(Tick()),
            sandbox=_sandbox(request, prompt_file),
            on_start=lambda process: _started(on_event, process),
        )
        return _result(result, request.timeout_s, self._idle_timeout_s)


def _sandbox(request: AgentRequest, prompt_file: Path) -> SandboxPolicy | None:
    """The request's sandbox, with the prompt file readable (it lives in orch's hidden state dir)."""
    if request.sandbox is None:
        return None
    return request.sandbox.showing(str(prompt_file.resolve()))


def _started(on_event: EventSink, process: AttemptProcess) -> None:
    on_event(ProcessStarted(process.group, process.leader_start, process.marker))


def _result(proc: ProcessResult, timeout_s: float, idle_s: float | None) -> AgentResult:
    tail = "\n".join(proc.tail[-10:])
    if proc.timed_out:
        return AgentResult(
            Outcome.TIMED_OUT, reason=f"still running after {timeout_s:g}s: killed", output_tail=tail
        )
    if proc.idle_timed_out:
        return AgentResult(Outcome.TIMED_OUT, reason=f"no output for {idle_s:g}s: killed", output_tail=tail)
    if proc.stopped is not None:
        return AgentResult(Outcome.STOPPED, reason=proc.stopped, output_tail=tail)
    if proc.exit_code == 0:
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, output_tail=tail, final_text=tail)
    last = (proc.stderr_tail or proc.tail or ("",))[-1].strip()
    reason = f"exit code {proc.exit_code}" + (f": {last}" if last else "")
    return AgentResult(Outcome.FAILED, exit_code=proc.exit_code, reason=reason, output_tail=tail)


def from_config(config: Mapping[str, object], base_env: Mapping[str, str]) -> CommandAgent:
    """Build from the ``agent`` config section (the entry-point factory signature)."""
    command = config.get("command") or ()
    idle = config.get("idle_timeout_s")
    if isinstance(command, str) or not isinstance(command, Sequence):
        raise AgentUnavailable(f"agent.command must be a list of words, found {command!r}")
    return CommandAgent(
        [str(c) for c in command],
        base_env=base_env,
        idle_timeout_s=float(idle) if isinstance(idle, int | float) else None,
    )
