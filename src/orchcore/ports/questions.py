from __future__ import annotations

from typing import Protocol


class QuestionBox(Protocol):
    """Where an agent leaves a question for a human, and finds the answer.

    The file protocol users already use: the agent writes ``questions/TASK.md``
    in its workspace; the answer goes to ``questions/TASK-answer.md``.
    """

    def question(self, task_id: str) -> str | None:
        """The question the agent left for ``task_id`` and has not had answered, or None."""
        ...

    def answer(self, task_id: str, text: str) -> None:
        """Give the agent the answer (and mark the question answered)."""
        ...
