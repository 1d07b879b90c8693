"""The Worktrees port: one git worktree per (session, task), so tasks can run side by side.

Each task gets its own checkout on branch ``orch/<session>/<task>`` from the session's base
commit; orch (never the agent) records what the task changed as one commit on that branch,
which the user reviews (``diff``) and brings into their own tree (``apply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs


@attrs.frozen
class PortRange:
    """The TCP ports ``[base, base + size)`` a task's servers may bind, given as ``ORCH_PORT_BASE``."""

    base: int
    size: int

    @property
    def last(self) -> int:
        """The highest port of the range."""
        return self.base + self.size - 1


@attrs.frozen
class WorktreeSetup:
    """How a new worktree is made ready: files copied from the user's tree (paths relative to
    it, e.g. ``.env``), then shell commands run in the worktree, each within ``timeout_s``."""

    copy: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    timeout_s: float = 600.0


@attrs.frozen
class Worktree:
    """A task's worktree: where it is, its branch, the commit it started from, its ports."""

    session_id: str
    task_id: str
    path: str
    branch: str
    base: str
    ports: PortRange
    copied: tuple[str, ...] = ()


@attrs.frozen
class Applied:
    """What ``apply`` did: the files it changed in the user's tree, or the files that conflict
    (then it changed nothing)."""

    files: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the change is in the user's tree."""
        return not self.conflicts


class Worktrees(Protocol):
    """The worktrees of one user repository, kept under orch's state directory. The engine of N
    attempts calls it from several threads at once, each on its own task's worktree."""

    def base_commit(self) -> str:
        """The commit the user's HEAD names now: the base of a session's worktrees."""
        ...

    def create(
        self, session_id: str, task_id: str, base: str, ports: PortRange, setup: WorktreeSetup
    ) -> Worktree:
        """Check out ``base`` on a new branch ``orch/<session>/<task>`` and set it up; raises
        WorktreeError (and leaves no worktree) if it cannot, or if one exists for this task."""
        ...

    def combine(self, commits: Sequence[str], message: str) -> str:
        """A commit that holds every one of ``commits`` (the base of a task whose dependencies ran
        in their own worktrees): the commit itself when there is one, else a merge with
        ``message``, made without touching any working tree or ref; WorktreeError naming the
        files when they conflict."""
        ...

    def worktrees(self, session_id: str) -> Sequence[Worktree]:
        """The worktrees of ``session_id`` that exist, in task id order."""
        ...

    def find(self, session_id: str, task_id: str) -> Worktree | None:
        """The worktree of this task, if it exists."""
        ...

    def commit(self, worktree: Worktree, message: str) -> str | None:
        """Record everything the task changed (not the copied files) as the one commit on its
        branch, made by orch with hooks off; again after more changes, the same one commit
        amended. Its id, or None when the task changed nothing."""
        ...

    def diff(self, worktree: Worktree, *, stat: bool = False) -> str:
        """The task's commit against its base, as a unified diff (or diffstat); empty if none."""
        ...

    def files(self, worktree: Worktree) -> Sequence[str]:
        """The paths the task's commit adds, changes or deletes, sorted; empty if none."""
        ...

    def apply(self, worktree: Worktree) -> Applied:
        """Bring the task's commit into the user's working tree (not committed); on a conflict
        the user's tree is left exactly as it was and the conflicting files are named."""
        ...

    def remove(self, worktree: Worktree) -> None:
        """Delete the worktree and its branch; removing one already gone does nothing."""
        ...
