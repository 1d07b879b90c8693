"""Budget policy: what a day, a session and a task may spend, when to warn, halt or stop an agent.

Money is Decimal USD. What tokens cost is the agent adapter's business (it knows its
vendor's prices): it reports each message's cost as it streams (``UsageReport``), and
its own total at the end, which wins.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

import attrs

_SHOWN = Decimal("0.0001")


def usd(amount: Decimal) -> str:
    """``$0.1500``: an amount for people, to 4 places; the ledger itself keeps every digit."""
    return f"${amount_text(amount)}"


def amount_text(amount: Decimal) -> str:
    """``0.1500``: ``usd`` without the sign, for tables with a ``(USD)`` header."""
    if not amount.is_finite() or amount.adjusted() > 20:
        return str(amount)  # nothing to round (and quantize would overflow the context)
    return str(amount.quantize(_SHOWN, rounding=ROUND_HALF_UP))


class Level(enum.StrEnum):
    """How much of the budget is used."""

    OK = "ok"
    WARN = "warn"
    EXCEEDED = "exceeded"


@attrs.frozen
class BudgetPolicy:
    """Limits from config (``budget:``) and the task file (``max_cost_usd``).

    ``daily_limit_usd`` caps all sessions of a day (in ``tz``); a task file's
    limit narrows it for that session; ``task_limit_usd`` caps each task.
    """

    daily_limit_usd: Decimal | None = None
    warn_ratio: Decimal = Decimal("0.75")
    task_limit_usd: Decimal | None = None
    tz: tzinfo = UTC

    def day_start(self, now: datetime) -> datetime:
        """Midnight of ``now``'s day in the policy's time zone, as UTC."""
        local = now.astimezone(self.tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)

    def next_day(self, now: datetime) -> datetime:
        """When the next day's budget begins."""
        return self.day_start(self.day_start(now) + timedelta(hours=36))


@attrs.frozen
class BudgetStatus:
    """Spend against the limit that binds now."""

    spent: Decimal
    limit: Decimal | None
    level: Level
    scope: str  # "day" or "session": which limit binds

    @property
    def remaining(self) -> Decimal | None:
        """What may still be spent (never below zero)."""
        return None if self.limit is None else max(Decimal(0), self.limit - self.spent)

    def describe(self) -> str:
        """One line for status and notifications."""
        if self.limit is None:
            return f"spent {usd(self.spent)} (no limit)"
        pct = (self.spent / self.limit * 100) if self.limit else Decimal(100)
        return f"{self.scope} budget: {usd(self.spent)} of ${self.limit} ({pct:.0f}%)"


def status(
    policy: BudgetPolicy, *, spent_today: Decimal, spent_session: Decimal, session_limit: Decimal | None
) -> BudgetStatus:
    """The binding limit (the one with least left) and how far it is used."""
    candidates: list[tuple[Decimal, Decimal, str]] = []  # (limit, spent, scope)
    if policy.daily_limit_usd is not None:
        candidates.append((policy.daily_limit_usd, spent_today, "day"))
    if session_limit is not None:
        candidates.append((session_limit, spent_session, "session"))
    if not candidates:
        return BudgetStatus(spent_today, None, Level.OK, "day")
    limit, spent, scope = min(candidates, key=lambda c: c[0] - c[1])
    if spent >= limit:
        level = Level.EXCEEDED
    elif limit > 0 and spent >= limit * policy.warn_ratio:
        level = Level.WARN
    else:
        level = Level.OK
    return BudgetStatus(spent, limit, level, scope)


def total(costs: Iterable[Decimal | None]) -> Decimal:
    """Sum of the known costs."""
    return sum((c for c in costs if c is not None), Decimal(0))


@attrs.define
class RunningCost:
    """An attempt's cost as its agent streams it: the latest cost reported for each message
    counts once (a message is reported again as it grows)."""

    by_message: dict[str, Decimal] = attrs.field(factory=dict)

    def add(self, message_id: str, cost_usd: Decimal) -> Decimal:
        """Record what ``message_id`` has cost so far; return the attempt's cost so far."""
        self.by_message[message_id] = cost_usd
        return self.so_far

    @property
    def so_far(self) -> Decimal:
        return sum(self.by_message.values(), Decimal(0))


@attrs.frozen
class SpendStop:
    """Why an agent must stop spending now; ``halts``: a day's or session's limit (the task runs
    again when budget allows), not the task's own (the task fails)."""

    reason: str
    halts: bool


def spend_stop(
    task_limit: Decimal | None, before: BudgetStatus, attempt_so_far: Decimal, beside: Decimal = Decimal(0)
) -> SpendStop | None:
    """Whether an attempt that has cost ``attempt_so_far`` must stop, given the budget ``before``
    it began and what attempts running beside it spent since (``beside``): its task's own limit
    first, then the binding day or session limit."""
    if task_limit is not None and attempt_so_far >= task_limit:
        return SpendStop(
            f"budget: the task's limit of ${task_limit} is reached (about {usd(attempt_so_far)} spent on it)",
            halts=False,
        )
    limit = before.limit
    spent = before.spent + attempt_so_far + beside
    if limit is not None and spent >= limit:
        return SpendStop(
            f"budget: the {before.scope}'s limit of ${limit} is reached (about {usd(spent)} spent)",
            halts=True,
        )
    return None


@attrs.define
class SharedSpend:
    """What attempts running side by side spend, for each one's budget check.

    An attempt's budget is read when it starts (``begin``); what the others spend after that,
    streamed so far or final once they end, counts against the same limit (``spend``). So N
    agents at once pass a limit by at most one report each, as one agent passes it by one, and
    never each by the whole limit. The caller serializes the calls (one lock for all attempts);
    ``end`` must be atomic with committing the attempt's result, so that a budget read from the
    store never counts an attempt both there and here, nor in neither.
    """

    _live: dict[tuple[str, int], Decimal] = attrs.field(factory=dict, init=False)
    _marks: dict[tuple[str, int], Decimal] = attrs.field(factory=dict, init=False)
    _ended: Decimal = attrs.field(default=Decimal(0), init=False)  # the final costs of those that ended

    def begin(self, task_id: str, attempt: int) -> None:
        """An attempt whose budget is read now starts spending."""
        self._live[task_id, attempt] = Decimal(0)
        self._marks[task_id, attempt] = self._ended

    def spend(self, task_id: str, attempt: int, so_far: Decimal) -> Decimal:
        """Record what the attempt has cost so far; what the others spent since it began."""
        key = (task_id, attempt)
        self._live[key] = so_far
        others = sum((cost for k, cost in self._live.items() if k != key), Decimal(0))
        return others + self._ended - self._marks.get(key, self._ended)

    def end(self, task_id: str, attempt: int, cost: Decimal) -> None:
        """The attempt ended at ``cost`` (its result is committed with this); again: no change."""
        key = (task_id, attempt)
        if self._live.pop(key, None) is not None:
            self._marks.pop(key, None)
            self._ended += cost

    @property
    def running(self) -> Decimal:
        """What the attempts still running have spent so far (not yet in the store)."""
        return sum(self._live.values(), Decimal(0))
