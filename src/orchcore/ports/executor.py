"""The Executor port: *where* an agent's prepared command runs (this machine, an SSH host, a container).

An Agent says what runs and how its stream reads; it hands the command to an
Executor as an ExecSpec and reads back an ExecResult, so any agent runs on any
executor. The workspace moves with the hooks: ``prepare`` makes the user's
folder available where the command runs and ``finish`` brings the changes back
(both no-ops on this machine).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import attrs

from orchcore.records import AttemptProcess
from orchcore.sandbox import SandboxPolicy

SH_SHIMS_ENV = "ORCHCORE_SH_SHIMS"
"""In an ExecSpec's env: the guards' folder of plain-sh PATH shims (no Python needed), for an
executor whose command cannot run orch's Python ones (a container); its parent holds the git
hooks and the ``refusals`` folder the shims append to."""

AGENT_PATH_ENV = "ORCHCORE_AGENT_PATH"
"""The PATH the agent's command starts with (guards first), for a CLI whose shell tool rebuilds
PATH from the user's profile: its per-command prelude puts this one back. An executor that
composes PATH where the command runs exports it there under this name too."""

LineHandler = Callable[[str], str | None]
"""Receives each stdout line; returns a reason to stop the command, or None to go on."""
TickHandler = Callable[[], str | None]
"""Called at least every ``tick_s`` while the command runs; a reason to stop it, or None."""
StartHandler = Callable[[AttemptProcess], None]
"""Learns what identifies a local attempt's processes as soon as they run (to reap after a crash)."""


@attrs.frozen
class ExecFile:
    """A file the command reads, written by the executor where the command can see it.

    The executor sets ``env_var`` to the file's path there; ``name`` is the file's
    name suffix (``prompt.md``), so it sits beside the attempt's log.
    """

    env_var: str
    name: str
    text: str = attrs.field(repr=False)


def _tuple(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)


@attrs.frozen
class ExecSpec:
    """One prepared command: what to run, where, with what, and for how long.

    ``cwd`` is a path where the command runs (the one ``prepare`` returned).
    ``env`` is the whole environment (secrets in it never go on a command line);
    its ``PATH`` entries that are guard directories of this machine are carried
    to the host by an executor that runs elsewhere. ``log_path`` is on this
    machine: stdout and stderr (prefixed ``[stderr]``) are appended as they come.
    """

    argv: tuple[str, ...] = attrs.field(converter=_tuple)
    cwd: str
    env: Mapping[str, str] = attrs.field(repr=False)
    log_path: str
    timeout_s: float
    stdin_text: str | None = attrs.field(default=None, repr=False)
    idle_timeout_s: float | None = None
    tick_s: float = 1.0
    sandbox: SandboxPolicy | None = None
    """The OS boundary on this machine (local executor); one elsewhere says what it enforces."""
    files: tuple[ExecFile, ...] = ()


@attrs.frozen
class ExecResult:
    """How the command ended.

    ``exit_code`` is None when orch killed it (timed out, silent, stopped) or the
    connection to it was lost; ``lost`` then says why, and another attempt may succeed.
    """

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    stopped: str | None = None
    tail: tuple[str, ...] = ()
    stderr_tail: tuple[str, ...] = ()
    lost: str | None = None


class Executor(Protocol):
    """Runs an agent's prepared command somewhere, streaming its output, and kills all of it.

    ``run`` returns when the command has ended, been stopped (a handler returned
    a reason: ``stopped``), timed out, or its connection was lost; in every case
    no process of it is left running. It raises AgentUnavailable only when the
    command could not start (program missing, host unreachable or unknown).
    """

    def check(self, program: str, env: Mapping[str, str]) -> None:
        """Raise AgentUnavailable if ``program`` could not be started there."""
        ...

    def prepare(self, workdir: str) -> str:
        """Make ``workdir`` (on this machine) available where commands run; the path there."""
        ...

    def run(
        self,
        spec: ExecSpec,
        on_line: LineHandler,
        on_tick: TickHandler,
        on_start: StartHandler | None = None,
    ) -> ExecResult:
        """Run ``spec`` to its end; every stdout line to ``on_line``, in order."""
        ...

    def finish(self, workdir: str, prepared: str) -> None:
        """Bring the changes made in ``prepared`` back into ``workdir`` (after every attempt)."""
        ...
