"""The Checkpoints port: snapshots of the workspace the agent cannot see, to compare and restore.

A port of its own rather than more methods on Workspace: Workspace exists only
while safety is on and speaks of guards; checkpoints are taken before every
attempt whatever the policy, outlive the run (``orch diff``, ``orch rollback``)
and are storage with an identity (session, task, attempt, moment).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs


class Moment(enum.StrEnum):
    """When in an attempt a checkpoint was taken."""

    BEFORE = "before"
    AFTER = "after"


@attrs.frozen
class Checkpoint:
    """One snapshot: the files (tracked, and untracked but not ignored), every ref and HEAD.

    ``id`` names it in the adapter's storage; ``seq`` orders a session's checkpoints;
    ``refs`` is ``Workspace.refs()``-shaped (``"HEAD"`` -> ``"ref: refs/heads/x"`` or an id).
    """

    id: str
    seq: int
    session_id: str
    task_id: str
    attempt: int
    moment: Moment
    refs: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class FileChange:
    """A path that differs between two snapshots; ``before``/``after`` are content ids, None = absent."""

    path: str
    before: str | None
    after: str | None


class Checkpoints(Protocol):
    """Snapshots of one workspace, kept outside it and outside the user's repository."""

    def take(self, session_id: str, task_id: str, attempt: int, moment: Moment) -> Checkpoint:
        """Snapshot the workspace now; raises CheckpointError if it cannot."""
        ...

    def checkpoints(self, session_id: str) -> Sequence[Checkpoint]:
        """Every checkpoint of ``session_id``, in the order taken."""
        ...

    def changes(self, old: Checkpoint, new: Checkpoint | None) -> Sequence[FileChange]:
        """What differs from ``old`` to ``new`` (None: the workspace as it is now), by path."""
        ...

    def diff(self, old: Checkpoint, new: Checkpoint | None, *, stat: bool = False) -> str:
        """A unified diff (or a diffstat) from ``old`` to ``new`` (None: the workspace now)."""
        ...

    def committed(self, checkpoint: Checkpoint, paths: Sequence[str]) -> Mapping[str, str | None]:
        """The content id of each path in the commit HEAD named when ``checkpoint`` was taken."""
        ...

    def restore_files(self, source: Checkpoint, paths: Sequence[str]) -> None:
        """Put each of ``paths`` back as it was in ``source``; one absent there is removed."""
        ...

    def refs(self) -> Mapping[str, str]:
        """The user's refs and HEAD now, shaped as ``Checkpoint.refs``; empty outside a repository."""
        ...

    def restore_refs(self, source: Checkpoint, names: Sequence[str] | None = None) -> Sequence[str]:
        """Set the refs ``names`` (None: every ref, and HEAD) back as in ``source.refs``; one line
        per ref put back. A ref absent from ``source`` is deleted."""
        ...
