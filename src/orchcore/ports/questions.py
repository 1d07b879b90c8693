from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs


@attrs.frozen
class WrittenAnswer:
    """An answer a human left in the box themselves (``questions/TASK-answer.md``), and when."""

    text: str
    at: datetime


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

    def written_answer(self, task_id: str) -> WrittenAnswer | None:
        """The answer a human left in the box for ``task_id`` and when it was written, or None when
        there is none or it is blank (a file box also reads back what :meth:`answer` wrote). Whether it answers the question
        waiting now is the caller's to decide (:func:`orchcore.questions.answers_to_pick_up`)."""
        ...
