"""Questions and answers: telling a question in an agent's last message, and which answers the user
wrote in the question box answer the questions waiting now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from orchcore.ports.questions import WrittenAnswer
from orchcore.records import Snapshot
from orchcore.state import SessionState, TaskState

_MAX_QUESTION = 2000


def question_in(text: str) -> str | None:
    """The question an agent's final message ends with, or None.

    Conservative on purpose: only a last paragraph that ends with a question mark
    counts ("Should the email be unique per tenant?"), so a report that merely
    mentions a question does not stop the session.
    """
    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    last = paragraphs[-1]
    if not last.rstrip("*_` )").endswith("?"):
        return None
    return last[:_MAX_QUESTION]


def waiting_for_answer(snap: Snapshot) -> dict[str, datetime]:
    """The tasks of ``snap`` waiting for a human's answer, each with when its question came (the
    asking attempt's end): an answer written before that answers an earlier question."""
    waiting = {}
    for task_id, run in snap.runs.items():
        if run.state is TaskState.WAITING_ANSWER and run.attempts:
            last = run.attempts[-1]
            waiting[task_id] = last.finished_at or last.started_at
    return waiting


def answers_to_pick_up(
    waiting: Mapping[str, datetime], written: Mapping[str, WrittenAnswer]
) -> dict[str, str]:
    """The answers the user wrote themselves (``questions/TASK-answer.md``) that answer the question
    each task waits on: written at or after it was asked, not blank; by task id."""
    return {
        task_id: found.text
        for task_id, asked in waiting.items()
        if (found := written.get(task_id)) is not None and found.text.strip() and found.at >= asked
    }


def waits_for_human(state: SessionState) -> bool:
    """Whether a session in ``state`` goes on by itself once a human answers or approves
    (``orch run --wait`` keeps waiting for that)."""
    return state in (SessionState.WAITING_ANSWER, SessionState.WAITING_APPROVAL)
