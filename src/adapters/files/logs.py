"""Per-attempt log files: ``<root>/<session>/task-<stem>.<attempt>.log``.

The stem is :func:`orchcore.tasks.file_stem` of the task id: short, safe and different for
every id, so no id is too long for a file name and no two ids share a log.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from orchcore.tasks import file_stem

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_CHUNK = 8192


def _safe(part: str) -> str:
    return _SAFE.sub("_", part) or "_"


class FileLogs:
    """Satisfies orchcore.ports.TaskLogs with files under ``root``."""

    def __init__(self, root: str) -> None:
        self._root = Path(root)

    def path(self, session_id: str, task_id: str, attempt: int) -> str:
        folder = self._root / _safe(session_id)
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"task-{file_stem(task_id)}.{attempt}.log")

    def tail(self, session_id: str, task_id: str, attempt: int, lines: int) -> list[str]:
        if lines <= 0:
            return []
        file = self._root / _safe(session_id) / f"task-{file_stem(task_id)}.{attempt}.log"
        try:
            with file.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                end = handle.tell()
                data = b""
                while end > 0 and data.count(b"\n") <= lines:
                    step = min(_CHUNK, end)
                    end -= step
                    handle.seek(end)
                    data = handle.read(step) + data
        except FileNotFoundError:
            return []
        return data.decode("utf-8", errors="replace").splitlines()[-lines:]
