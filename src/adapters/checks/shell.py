"""Runs a task's ``checks:`` commands with ``sh -c`` in the workspace (the CheckRunner port).

Through :func:`adapters.process.run_process`, as agents are: a session and process
group of its own, bubblewrap when the session has a sandbox, the whole tree killed on
timeout and anything that left the group swept by its marker. Output goes to one log
file per runner (the attempt's checks log) and its tail into the result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from adapters.process import run_process
from orchcore.errors import AgentUnavailable
from orchcore.sandbox import SandboxPolicy
from orchcore.supervise.evidence import CheckResult

_TAIL_LINES = 40
_SHELL = "/bin/sh"


class ShellCheckRunner:
    """Satisfies orchcore.ports.CheckRunner for one workspace; ``env`` is what checks get
    (the agent's filtered environment: no orchestrator secret reaches a check)."""

    def __init__(self, workdir: str, *, env: Mapping[str, str], log_path: str) -> None:
        self._workdir = str(Path(workdir).resolve())
        self._env = dict(env)
        self._log_path = log_path

    def run(self, command: str, *, timeout_s: float, sandbox: SandboxPolicy | None = None) -> CheckResult:
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            del lines[:-_TAIL_LINES]

        try:
            result = run_process(
                [_SHELL, "-c", command],
                cwd=self._workdir,
                env=self._env,
                stdin_text=None,
                log_path=self._log_path,
                timeout_s=timeout_s,
                on_line=lambda line: keep(line),
                on_tick=lambda: None,
                sandbox=sandbox,
            )
        except AgentUnavailable as exc:  # no shell at all: the check cannot pass
            return CheckResult(command, 127, output_tail=str(exc))
        tail = "\n".join([*lines, *(f"[stderr] {e}" for e in result.stderr_tail[-10:])][-_TAIL_LINES:])
        if result.timed_out:
            tail += f"\n[orch] killed after {timeout_s:g}s (the check's timeout)"
        return CheckResult(
            command,
            None if result.timed_out else result.exit_code,
            timed_out=result.timed_out,
            output_tail=tail.strip("\n"),
            duration_s=round(result.duration_s, 3),
        )

    def read_text(self, path: str) -> str | None:
        full = Path(os.path.normpath(Path(self._workdir) / path))
        if not (str(full) + "/").startswith(self._workdir.rstrip("/") + "/") or not full.is_file():
            return None
        try:
            return full.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None
