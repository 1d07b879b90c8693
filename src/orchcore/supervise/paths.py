"""Matching changed paths against the globs of scope, forbidden files and breakpoint rules.

Globs are gitignore patterns (pathspec's ``gitignore`` flavour): ``**/migrations/**`` is
every migrations folder at any depth, ``src/**`` everything under ``src``, ``*.md`` any
Markdown file anywhere. The same syntax users write in ``.gitignore``, matched by a
well-kept library rather than a hand-written translator; pure string matching, no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec


@functools.lru_cache(maxsize=256)
def _spec(globs: tuple[str, ...]) -> pathspec.PathSpec[pathspec.Pattern]:
    import pathspec  # only when a glob is matched: a command that never supervises never pays for it

    return pathspec.PathSpec.from_lines("gitignore", globs)


def matches(path: str, globs: Sequence[str]) -> bool:
    """Whether workspace-relative ``path`` matches any of ``globs`` (none: False)."""
    return bool(globs) and _spec(tuple(globs)).match_file(path)


def matching(paths: Iterable[str], globs: Sequence[str]) -> list[str]:
    """The paths of ``paths`` that match any of ``globs``, in order."""
    return [p for p in paths if matches(p, globs)] if globs else []
