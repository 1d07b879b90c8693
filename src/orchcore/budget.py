"""Budget policy: what tokens cost, what a day may spend, when to warn and halt.

Money is Decimal USD. An agent's own reported cost wins; otherwise usage is
priced with the table here (per million tokens, longest model-name prefix wins).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

import attrs

MILLION = Decimal(1_000_000)
_SHOWN = Decimal("0.0001")


def usd(amount: Decimal) -> str:
    """``$0.1500``: an amount for people, to 4 places; the ledger itself keeps every digit."""
    return f"${amount_text(amount)}"


def amount_text(amount: Decimal) -> str:
    """``0.1500``: ``usd`` without the sign, for tables with a ``(USD)`` header."""
    if not amount.is_finite() or amount.adjusted() > 20:
        return str(amount)  # nothing to round (and quantize would overflow the context)
    return str(amount.quantize(_SHOWN, rounding=ROUND_HALF_UP))


@attrs.frozen
class Price:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


def _p(i: str, o: str, w: str, r: str) -> Price:
    return Price(Decimal(i), Decimal(o), Decimal(w), Decimal(r))


# Anthropic's published prices (platform.claude.com/docs/en/about-claude/pricing, 5-minute
# cache writes), keyed by model-id prefix. Override or extend in config: budget.prices.
DEFAULT_PRICES: Mapping[str, Price] = {
    "claude-opus-4-0": _p("15", "75", "18.75", "1.50"),
    "claude-opus-4-1": _p("15", "75", "18.75", "1.50"),
    "claude-opus-4-2025": _p("15", "75", "18.75", "1.50"),
    "claude-opus": _p("5", "25", "6.25", "0.50"),
    "claude-sonnet-5": _p("2", "10", "2.50", "0.20"),
    "claude-sonnet": _p("3", "15", "3.75", "0.30"),
    "claude-haiku": _p("1", "5", "1.25", "0.10"),
    "claude-fable": _p("10", "50", "12.50", "1"),
}


@attrs.frozen
class Usage:
    """Tokens one model call used."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


def price_for(model: str, prices: Mapping[str, Price]) -> Price:
    """The price of ``model``: the longest matching prefix; an unknown model is
    priced as the dearest one known, so a budget never under-counts."""
    matches = [key for key in prices if model.startswith(key)]
    if matches:
        return prices[max(matches, key=len)]
    return max(prices.values(), key=lambda p: (p.output, p.input))


def cost_of(usage: Usage, prices: Mapping[str, Price] = DEFAULT_PRICES) -> Decimal:
    """What ``usage`` costs in USD."""
    p = price_for(usage.model, prices)
    total = (
        usage.input_tokens * p.input
        + usage.output_tokens * p.output
        + usage.cache_creation_input_tokens * p.cache_write
        + usage.cache_read_input_tokens * p.cache_read
    )
    return total / MILLION


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
    prices: Mapping[str, Price] = attrs.field(factory=lambda: dict(DEFAULT_PRICES))

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
    """Prices an agent's stream as it arrives: the latest usage of each message
    counts once (a message is reported again as it grows)."""

    prices: Mapping[str, Price]
    by_message: dict[str, Decimal] = attrs.field(factory=dict)

    def add(self, message_id: str, usage: Usage) -> Decimal:
        """Record ``usage`` for ``message_id``; return the attempt's cost so far."""
        self.by_message[message_id] = cost_of(usage, self.prices)
        return self.so_far

    @property
    def so_far(self) -> Decimal:
        return sum(self.by_message.values(), Decimal(0))
