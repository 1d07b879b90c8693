"""The QuestionBox contract on the file protocol and the in-memory box."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.files.questions import FileQuestions
from orchcore.ports.questions import QuestionBox
from orchcore.testing import MemoryQuestions
from orchcore.testing.contracts import QuestionBoxContract, QuestionBoxFactory
from orchcore.testing.contracts.questions import Asker, Replier


class TestFileQuestions(QuestionBoxContract):
    @pytest.fixture
    def make_box(self, tmp_path: Path) -> QuestionBoxFactory:
        return lambda: FileQuestions(str(tmp_path))

    @pytest.fixture
    def ask(self, tmp_path: Path) -> Asker:
        def write(_: QuestionBox, task_id: str, text: str) -> None:
            path = tmp_path / "questions" / f"{task_id}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(text + "\n")
            answered = path.with_name(f"{task_id}-answer.md")
            if answered.exists():  # as an agent writing later would: its question is newer
                newer = answered.stat().st_mtime_ns + 1_000_000
                os.utime(path, ns=(newer, newer))

        return write

    @pytest.fixture
    def reply(self, tmp_path: Path) -> Replier:
        def write(_: QuestionBox, task_id: str, text: str) -> None:
            path = tmp_path / "questions" / f"{task_id}-answer.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)

        return write


class TestMemoryQuestions(QuestionBoxContract):
    @pytest.fixture
    def make_box(self) -> QuestionBoxFactory:
        return MemoryQuestions

    @pytest.fixture
    def ask(self) -> Asker:
        def leave(box: QuestionBox, task_id: str, text: str) -> None:
            assert isinstance(box, MemoryQuestions)
            box.ask(task_id, text)

        return leave

    @pytest.fixture
    def reply(self) -> Replier:
        def leave(box: QuestionBox, task_id: str, text: str) -> None:
            assert isinstance(box, MemoryQuestions)
            box.reply(task_id, text, datetime(2026, 12, 1, tzinfo=UTC))

        return leave
