"""The command agent: runs any configured program on a task.

The prompt arrives on stdin and in a file (path in ``ORCH_PROMPT_FILE``); the
program runs in the task's working directory; exit code 0 means success. Where
it runs is its Executor's business (this machine by default, an SSH host, ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

from adapters.process.executor import LocalExecutor
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, OutputLine, ProcessStarted, Tick
from orchcore.ports.executor import ExecFile, ExecResult, ExecSpec, Executor
from orchcore.records import AttemptProcess, Outcome


class CommandAgent:
    """Satisfies orchcore.ports.Agent for any program given as an argv list."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        base_env: Mapping[str, str],
        idle_timeout_s: float | None = None,
        executor: Executor | None = None,
    ) -> None:
        if not command:
            raise AgentUnavailable("no agent command configured: set agent.command in the config file")
        self._command = tuple(command)
        self._env = dict(base_env)
        self._idle_timeout_s = idle_timeout_s
        self._executor: Executor = executor if executor is not None else LocalExecutor()

    def check(self) -> None:
        self._executor.check(self._command[0], self._env)

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        env = {
            **self._env,
            **request.env,
            "ORCH_SESSION_ID": request.session_id,
            "ORCH_TASK_ID": request.task_id,
            "ORCH_ATTEMPT": str(request.attempt),
        }
        prepared = self._executor.prepare(request.workdir)
        spec = ExecSpec(
            argv=self._command,
            cwd=prepared,
            env=env,
            log_path=request.log_path,
            timeout_s=request.timeout_s,
            stdin_text=request.prompt,
            idle_timeout_s=self._idle_timeout_s,
            sandbox=request.sandbox,
            files=(ExecFile("ORCH_PROMPT_FILE", "prompt.md", request.prompt),),
        )
        try:
            result = self._executor.run(
                spec,
                on_line=lambda line: on_event(OutputLine(line)),
                on_tick=lambda: on_event(Tick()),
                on_start=lambda process: _started(on_event, process),
            )
        except BaseException:
            with contextlib.suppress(AgentUnavailable):
                self._executor.finish(request.workdir, prepared)
            raise
        try:
            self._executor.finish(request.workdir, prepared)
        except AgentUnavailable as exc:  # the work is on the host, not here: try again
            tail = "\n".join(result.tail[-10:])
            return AgentResult(Outcome.FAILED, reason=str(exc), output_tail=tail, retryable=True)
        return _result(result, request.timeout_s, self._idle_timeout_s)


def _started(on_event: EventSink, process: AttemptProcess) -> None:
    on_event(ProcessStarted.of(process))


def _result(proc: ExecResult, timeout_s: float, idle_s: float | None) -> AgentResult:
    tail = "\n".join(proc.tail[-10:])
    if proc.lost is not None:
        return AgentResult(Outcome.FAILED, reason=proc.lost, output_tail=tail, retryable=True)
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


def from_config(
    config: Mapping[str, object], base_env: Mapping[str, str], executor: Executor | None = None
) -> CommandAgent:
    """Build from the ``agent`` config section (the entry-point factory signature); where it runs
    is ``executor`` (this machine when None)."""
    command = config.get("command") or ()
    idle = config.get("idle_timeout_s")
    if isinstance(command, str) or not isinstance(command, Sequence):
        raise AgentUnavailable(f"agent.command must be a list of words, found {command!r}")
    return CommandAgent(
        [str(c) for c in command],
        base_env=base_env,
        idle_timeout_s=float(idle) if isinstance(idle, int | float) else None,
        executor=executor,
    )
