"""Writing the guard files (shims, hooks, policy), and a cheap check that they are still as written.

Writing them costs more than a task's own work in orch (the policy's JSON alone is ~10 ms), and
they change only with the policy. So ``GitWorkspace`` writes them once per session and before
every later attempt only compares each file's ``stat`` with what it recorded after writing: any
write, chmod, delete or replace changes the change time, size, mode or inode. Like git's "racy
clean" index entries, a file whose change time falls within ``RACY_NS`` of the recording could
still be changed unseen within the same filesystem clock tick, so its content is compared too,
until a check made later than that window has seen it unchanged.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import attrs

logger = logging.getLogger(__name__)

RACY_NS = 50_000_000
"""Longer than the coarsest filesystem time stamp tick (a 100 Hz jiffy is 10 ms)."""

Signature = tuple[int, int, int, int, int]


def write_if_changed(path: Path, text: str, mode: int) -> None:
    """Write ``text`` with ``mode`` unless it is already there; atomically, so a running shim never sees half."""
    try:
        if path.read_text(encoding="utf-8") == text and (path.stat().st_mode & 0o777) == mode:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    temporary.replace(path)


def remove_stale(directory: Path, keep: set[str], tag: str) -> None:
    """Remove files this adapter wrote earlier (they carry ``tag``) that the policy no longer wants."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name in keep or not path.is_file():
            continue
        try:
            ours = tag in path.read_text(encoding="utf-8", errors="replace")[:300]
        except OSError:
            continue
        if ours:
            logger.debug("removing a stale guard file", extra={"path": str(path)})
            path.unlink(missing_ok=True)


def _signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)  # noqa: PTH116 - runs for every guard file on every attempt: pathlib doubled it
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)


@attrs.define
class WrittenFiles:
    """The guard files one install wrote (path -> text, mode) and their ``stat`` once written."""

    wanted: dict[Path, tuple[str, int]] = attrs.field(factory=dict)
    folders: list[Path] = attrs.field(factory=list)
    signatures: dict[str, Signature | None] = attrs.field(factory=dict)
    checked_ns: int = 0

    def write(self, path: Path, text: str, mode: int) -> None:
        """Write one guard file (if it differs) and remember what it must hold."""
        write_if_changed(path, text, mode)
        self.wanted[path] = (text, mode)

    def seal(self, *folders: Path) -> None:
        """Record every written file's ``stat``, and the folders that must exist, as the state to keep."""
        self.folders = list(folders)
        self.checked_ns = time.time_ns()
        self.signatures = {str(path): _signature(str(path)) for path in self.wanted}

    def intact(self) -> bool:
        """True if every file is as written and every folder there; a few ``stat`` calls when so."""
        if not all(os.path.isdir(folder) for folder in self.folders):  # noqa: PTH112 - as in _signature
            return False
        racy = False
        for path, recorded in self.signatures.items():
            if recorded is None or _signature(path) != recorded:
                return False
            if self.checked_ns - recorded[4] < RACY_NS:
                racy = True
                text, _ = self.wanted[Path(path)]
                try:
                    if Path(path).read_text(encoding="utf-8") != text:
                        return False
                except OSError:
                    return False
        if racy:
            self.checked_ns = time.time_ns()  # seen unchanged now: later changes get a later ctime
        return True
