"""The CheckRunner port: run one gate command (a task's ``checks:``) in the workspace after an attempt.

A port of its own: checks are the user's commands (``python -m pytest -q``), run by a shell
in the workspace, inside the session's sandbox when it has one, each with its own timeout,
and nothing of a check may outlive it (its whole process tree is killed on timeout). The
supervisor reads the results; it never starts a process itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # orchcore.supervise loads when a run checks attempts, not with every port
    from orchcore.sandbox import SandboxPolicy
    from orchcore.supervise.evidence import CheckResult


class CheckRunner(Protocol):
    """Runs gate commands in one workspace and reads the files the task names there."""

    def run(self, command: str, *, timeout_s: float, sandbox: SandboxPolicy | None = None) -> CheckResult:
        """Run ``command`` with ``sh -c`` in the workspace to its end or ``timeout_s``.

        Never raises for a failing or missing command: a command that cannot start is an
        exit code 127 with the shell's message in ``output_tail``; a timed-out one has
        ``exit_code`` None and ``timed_out`` set, and none of its processes are left.
        """
        ...

    def read_text(self, path: str) -> str | None:
        """The text of ``path`` (relative to the workspace) now; None if it is absent or
        outside the workspace. Invalid UTF-8 is replaced, not raised."""
        ...
