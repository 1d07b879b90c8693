"""Per-task status files: ``agent_status/TASK.json``, rewritten whenever the task's state changes
(``status_files.enabled``), for editors and scripts that would rather watch a file than run
``orch status --json``. Their shape is ``$defs/task_status`` of docs/status.schema.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from apps.views import task_rows

if TYPE_CHECKING:
    from apps.settings import Settings
    from orchcore.records import Snapshot

SCHEMA_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(task_id: str) -> str:
    """``TASK.json``, with anything a file name should not hold replaced by ``_``."""
    safe = _UNSAFE.sub("_", task_id).lstrip(".") or "_"
    return f"{safe}.json"


def task_status(snap: Snapshot, row: dict[str, Any]) -> dict[str, Any]:
    """One task's status document."""
    s = snap.session
    run = snap.runs[row["id"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "session": {
            "id": s.id,
            "state": s.state.value,
            "reason": s.reason,
            "source": s.source,
            "waiting_for": s.waiting_for,
            "gate": None if s.gate is None else s.gate.value,
            "updated_at": s.updated_at.isoformat(),
        },
        "task": row,
        "waiting_on_you": s.waiting_for == row["id"],
        "question": run.question or None,
        "answer": run.answer or None,
    }


@attrs.define
class StatusFiles:
    """Writes the status file of each task whose document changed since it last wrote it."""

    folder: Path
    _written: dict[tuple[str, str], str] = attrs.field(factory=dict, init=False)

    def update(self, snap: Snapshot) -> None:
        for row in task_rows(snap):
            text = json.dumps(task_status(snap, row), indent=2, ensure_ascii=False) + "\n"
            key = (snap.session.id, row["id"])
            if self._written.get(key) == text:
                continue
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / file_name(row["id"])
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)  # a reader never sees half a file
            self._written[key] = text


def status_files_for(settings: Settings) -> StatusFiles | None:
    """The writer when ``status_files.enabled``; None when off."""
    if not settings.status_files.enabled:
        return None
    return StatusFiles(settings.path(settings.status_files.dir))
