"""The question file protocol: ``questions/TASK.md`` from the agent, ``questions/TASK-answer.md`` back."""

from __future__ import annotations

import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileQuestions:
    """Satisfies orchcore.ports.QuestionBox with files under ``<workdir>/questions``."""

    def __init__(self, workdir: str, folder: str = "questions") -> None:
        self._root = Path(workdir) / folder

    def _paths(self, task_id: str) -> tuple[Path, Path]:
        name = _SAFE.sub("_", task_id) or "_"
        return self._root / f"{name}.md", self._root / f"{name}-answer.md"

    def question(self, task_id: str) -> str | None:
        asked, answered = self._paths(task_id)
        try:
            text = asked.read_text(encoding="utf-8").strip()
            asked_at = asked.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not text:
            return None
        try:
            if answered.stat().st_mtime_ns >= asked_at:
                return None  # answered already; a new question rewrites the file
        except FileNotFoundError:
            pass
        return text

    def answer(self, task_id: str, text: str) -> None:
        _, answered = self._paths(task_id)
        answered.parent.mkdir(parents=True, exist_ok=True)
        answered.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
