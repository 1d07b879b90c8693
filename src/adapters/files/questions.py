"""The question file protocol: ``questions/TASK.md`` from the agent, ``questions/TASK-answer.md`` back.

TASK is :func:`orchcore.tasks.file_stem` of the id: the id itself for plain lowercase ids
(``1``, ``auth-api``), a slug and a hash otherwise, so no two tasks share a question file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchcore.ports.questions import WrittenAnswer
from orchcore.tasks import file_stem


class FileQuestions:
    """Satisfies orchcore.ports.QuestionBox with files under ``<workdir>/questions``."""

    def __init__(self, workdir: str, folder: str = "questions") -> None:
        self._root = Path(workdir) / folder

    def _paths(self, task_id: str) -> tuple[Path, Path]:
        name = file_stem(task_id)
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

    def written_answer(self, task_id: str) -> WrittenAnswer | None:
        _, answered = self._paths(task_id)
        try:
            text = answered.read_text(encoding="utf-8", errors="replace").strip()
            written = answered.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        if not text:
            return None
        return WrittenAnswer(text, datetime.fromtimestamp(written / 1e9, UTC))
