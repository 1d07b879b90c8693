"""What moved between two snapshots of a repository's refs (the after-the-task check)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping


def _short(value: str) -> str:
    if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value):
        return value[:7]
    return value.removeprefix("ref: ")


def ref_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What moved between two ``Workspace.refs()`` snapshots, one line each, HEAD first.

    ``["HEAD moved a1b2c3d -> d4e5f6a", "refs/heads/x created", "refs/tags/v1 deleted"]``;
    object ids are shortened to 7 characters and a symbolic HEAD (``"ref: refs/heads/main"``)
    shows as the ref it names. Empty when nothing changed: any line is a violation.
    """
    lines = []
    for name in sorted(set(before) | set(after), key=lambda n: (n != "HEAD", n)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{name} created")
        elif new is None:
            lines.append(f"{name} deleted")
        else:
            lines.append(f"{name} moved {_short(old)} -> {_short(new)}")
    return lines


def read_refs(git: Callable[..., str | None]) -> dict[str, str]:
    """A ``Workspace.refs()`` snapshot from a repository, given ``git(*args)`` that returns a git
    command's output (None when it fails: no repository, no HEAD yet).

    Every ref from ``for-each-ref`` and ``HEAD`` as ``"ref: refs/heads/x"`` or an object id."""
    listing = git("for-each-ref", "--format=%(objectname) %(refname)")
    if listing is None:
        return {}
    found = {}
    for line in listing.splitlines():
        object_id, _, name = line.partition(" ")
        if name:
            found[name] = object_id
    symbolic = git("symbolic-ref", "-q", "HEAD")
    head = f"ref: {symbolic.strip()}" if symbolic else git("rev-parse", "-q", "--verify", "HEAD")
    if head and head.strip():
        found["HEAD"] = head.strip()
    return found
