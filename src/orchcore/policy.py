"""Approval policy: when a human must say yes before, or look after, a task."""

from __future__ import annotations

import enum

import attrs

from orchcore.tasks import Task


class ApprovalMode(enum.StrEnum):
    """How approvals are asked for.

    ``required``: tasks marked *Requires Approval* wait for a human, unless their
    type is in ``auto_approve``. ``manual``: every task waits. ``auto``: none do.
    """

    REQUIRED = "required"
    AUTO = "auto"
    MANUAL = "manual"


def _types(values: frozenset[str] | list[str] | tuple[str, ...] | set[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values)


@attrs.frozen
class ApprovalPolicy:
    """Decides approval gates from config, the task and ``--auto-approve``.

    ``checkpoint_after`` types always stop for a review after the task is done,
    whatever the mode: that is what a checkpoint is for.
    """

    mode: ApprovalMode = ApprovalMode.REQUIRED
    checkpoint_after: frozenset[str] = attrs.field(default=frozenset(), converter=_types)
    auto_approve: frozenset[str] = attrs.field(default=frozenset(), converter=_types)

    def before(self, task: Task, *, auto_approve_run: bool) -> bool:
        """Whether ``task`` needs a human's approval before it starts."""
        if auto_approve_run or self.mode is ApprovalMode.AUTO:
            return False
        if self.mode is ApprovalMode.MANUAL:
            return True
        if task.type.lower() in self.auto_approve:
            return False
        return task.requires_approval

    def after(self, task: Task) -> bool:
        """Whether the session stops for a review once ``task`` has completed."""
        return task.type.lower() in self.checkpoint_after


@attrs.frozen
class RetryPolicy:
    """Transient failures (rate limits, overload, 5xx, network) get more attempts,
    with exponential backoff; a usage limit with a known reset waits for it."""

    max_attempts: int = 3
    base_delay_s: float = 30.0
    max_delay_s: float = 600.0

    def delay_s(self, attempt: int) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempt - 1)))
