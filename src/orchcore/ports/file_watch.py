"""The FileWatcher port: what an agent creates, changes and deletes in its workspace, as it happens."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import attrs


class ChangeKind(enum.StrEnum):
    """What happened to a file."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


@attrs.frozen
class SeenChange:
    """One file's latest state: ``path`` relative to the workspace (``/``-separated); the content's
    sha256 and size when it still exists and could be read (None for a deleted or unreadable file)."""

    kind: ChangeKind
    path: str
    sha256: str | None = None
    size: int | None = None

    def as_data(self) -> dict[str, str | int | None]:
        """As an event stores it."""
        return {"kind": self.kind.value, "path": self.path, "sha256": self.sha256, "size": self.size}


class Watching(Protocol):
    """A workspace being watched, until ``close``."""

    def take(self) -> Sequence[SeenChange]:
        """The changes seen since the last call (each path once, in its latest state), oldest first.

        Never blocks: what the watcher has not settled yet (its debounce) comes in a later call.
        """
        ...

    def settle(self, timeout_s: float = 1.0) -> None:
        """Return once the changes made before the call are in what ``take`` returns, or after
        ``timeout_s``: what an agent wrote as it exited is its attempt's, not the next one's. An
        adapter that can order a marker of its own after those changes (the watchfiles one
        writes a beacon on the same inotify queue) waits for exactly that; one that cannot
        waits a while, and may then miss a change whose event lags on a saturated machine."""
        ...

    def close(self) -> None:
        """Stop watching; later ``take`` calls return nothing new. Closing twice is harmless."""
        ...


class FileWatcher(Protocol):
    """Starts watching a workspace: files under ``.git``, caches and what the workspace's
    ``.gitignore`` ignores are not reported."""

    def watch(self, workdir: str) -> Watching:
        """Watch ``workdir`` (recursively) from now on."""
        ...
