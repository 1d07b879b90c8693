"""Reading a unified diff (``git diff`` shaped) as the lines each file gained and lost.

The gates read what an attempt wrote (a secret, a ``DROP COLUMN``, a skip marker, a
deleted test) from the added and removed lines, never from the files themselves; a
diff cut to its budget still reads line by line up to the cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

_GIT_HEADER = re.compile(r"^diff --git (?:\"?a/(.*?)\"?) (?:\"?b/(.*?)\"?)$")
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@attrs.frozen
class FileDiff:
    """One file's part of a diff: the path after (before, when deleted) and its changed lines;
    ``added_at`` is the line number of each added line in the new file."""

    path: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    added_at: tuple[int, ...] = ()


def _path(header: str) -> str | None:
    name = header[4:].split("\t")[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


@attrs.define
class _Building:
    path: str
    old_path: str | None = None
    added: list[str] = attrs.field(factory=list)
    removed: list[str] = attrs.field(factory=list)
    added_at: list[int] = attrs.field(factory=list)
    old_left: int = 0  # lines of the current hunk still to come, by the hunk header's counts
    new_left: int = 0
    new_line: int = 0  # the new file's number of the next line

    def done(self) -> FileDiff:
        return FileDiff(self.path, tuple(self.added), tuple(self.removed), tuple(self.added_at))

    def read_hunk_line(self, line: str) -> None:
        if line.startswith("+"):
            self.added.append(line[1:])
            self.added_at.append(self.new_line)
            self.new_line += 1
            self.new_left -= 1
        elif line.startswith("-"):
            self.removed.append(line[1:])
            self.old_left -= 1
        elif not line.startswith("\\"):  # "\ No newline at end of file" counts for neither side
            self.old_left -= 1
            self.new_left -= 1
            self.new_line += 1

    @property
    def in_hunk(self) -> bool:
        return self.old_left > 0 or self.new_left > 0


def file_diffs(diff: str) -> list[FileDiff]:
    """Each file of ``diff`` in order, with its added and removed lines (without the ``+``/``-``).

    Hunks are read by their header's line counts, so a removed ``-- comment`` is a line, not a
    header. Never raises: text that is not a diff gives no files.
    """
    return list(_file_diffs(diff))


def _file_diffs(diff: str) -> Iterator[FileDiff]:
    current: _Building | None = None
    for line in diff.splitlines():
        if current is not None and current.in_hunk:
            current.read_hunk_line(line)
            continue
        header = _GIT_HEADER.match(line)
        plain_start = line.startswith("--- ") and (current is None or current.added or current.removed)
        if header is not None or plain_start:
            if current is not None:
                yield current.done()
            old = header.group(1) if header else _path(line)
            current = _Building(header.group(2) if header else old or "", old)
            continue
        if current is None:
            continue
        hunk = _HUNK.match(line)
        if line.startswith("--- "):
            current.old_path = _path(line)
        elif line.startswith("+++ "):
            current.path = _path(line) or current.old_path or current.path
        elif hunk is not None:
            current.old_left = int(hunk.group(1) or 1)
            current.new_line = int(hunk.group(2))
            current.new_left = int(hunk.group(3) or 1)
    if current is not None:
        yield current.done()


def diff_stats(diff: str) -> dict[str, tuple[int, int]]:
    """Lines added and removed per path, for :func:`orchcore.supervise.evidence.changed_file`."""
    stats: dict[str, tuple[int, int]] = {}
    for part in file_diffs(diff):
        added, removed = stats.get(part.path, (0, 0))
        stats[part.path] = (added + len(part.added), removed + len(part.removed))
    return stats
