"""``orchcore.safety.ref_files.GitFiles`` on this machine's filesystem: the refs read twice per attempt.

Plain ``os`` calls rather than ``pathlib``: this runs on every attempt, and pathlib's object
building doubled its cost.
"""

from __future__ import annotations

import os
import stat


class LocalFiles:
    """Reads files, directories and devices for ``refs_from_files``."""

    def read(self, path: str) -> str | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # missing or unreadable: not a file git could read either
            return None
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except OSError:  # a directory (EISDIR) or an I/O error
            return None
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8", "surrogateescape")

    def is_dir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)  # noqa: PTH116 - see the module docstring
        except OSError:
            return False

    def device(self, path: str) -> int | None:
        try:
            return os.stat(path).st_dev  # noqa: PTH116 - see the module docstring
        except OSError:
            return None

    def files_under(self, directory: str) -> list[str]:
        found: list[str] = []
        _collect(directory, "", found)
        return found


def _collect(folder: str, prefix: str, found: list[str]) -> None:
    """Append the files under ``folder`` (not following links to directories), as git lists loose refs."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            _collect(entry.path, f"{prefix}{entry.name}/", found)
        elif entry.is_file() and not entry.name.endswith(".lock"):
            found.append(prefix + entry.name)


LOCAL_FILES = LocalFiles()
