from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

import attrs

from orchcore.records import JsonObject


class NotificationKind(enum.StrEnum):
    """What a notification tells a human."""

    SESSION_STARTED = "session_started"
    SESSION_COMPLETED = "session_completed"
    SESSION_FAILED = "session_failed"
    SESSION_HALTED = "session_halted"
    TASK_STARTED = "task_started"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    APPROVAL_NEEDED = "approval_needed"
    QUESTION_ASKED = "question_asked"
    BUDGET_WARNING = "budget_warning"
    BUDGET_HALT = "budget_halt"
    SAFETY_VIOLATION = "safety_violation"
    SAFETY_REFUSAL = "safety_refusal"  # a layer refused an operation; the task goes on


@attrs.frozen
class Notification:
    """One message for the humans watching a session.

    ``key`` is unique and stable: a notifier passes it on (an idempotency key) so
    a message delivered twice after a retry is shown once. ``title`` is one plain
    line; ``text`` plain text (adapters escape for their medium); ``actions`` are
    commands the human can send next, without a front end's prefix ("approve 3").
    """

    key: str
    session_id: str
    kind: NotificationKind
    title: str
    text: str
    created_at: datetime
    task_id: str | None = None
    actions: tuple[str, ...] = ()
    data: JsonObject = attrs.field(factory=dict)


class Notifier(Protocol):
    """Delivers a notification to people (n8n, Telegram, a console...).

    ``send`` returns when the receiver has accepted the message, or raises
    NotifyError: ``retryable`` says whether trying again later may help (down,
    timeout, 5xx, 429) or not (rejected: bad token, bad chat). It must never block
    longer than its own timeout. Sending the same ``key`` twice must not show the
    message twice where the receiver supports idempotency.
    """

    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` or raise NotifyError."""
        ...
