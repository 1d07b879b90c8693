"""What Claude models cost: Anthropic's per-million-token prices, and a message's usage priced with them.

Pure. The adapter prices each streamed message as it grows (``UsageReport.cost_usd``), so the
budget in orchcore sums costs without knowing any vendor's prices. Money is Decimal USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import attrs

from orchcore.errors import ConfigError

MILLION = Decimal(1_000_000)


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
    """Tokens one model call used, under the names of Claude's ``usage`` object."""

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


def with_overrides(overrides: Mapping[str, Price]) -> dict[str, Price]:
    """The default table with the configured prices over it (a new prefix extends it)."""
    return {**DEFAULT_PRICES, **overrides}


_PRICE_FIELDS = ("input", "output", "cache_write", "cache_read")


def prices_from_config(value: object) -> dict[str, Price]:
    """``{prefix: {input, output, cache_write, cache_read}}`` (numbers, strings or Price values) from
    the agent's config as prices; one ConfigError naming every prefix that is wrong, and why."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"agent prices must be a mapping of model prefix to prices, found {value!r}")
    found: dict[str, Price] = {}
    problems: list[str] = []
    for prefix, price in value.items():
        if isinstance(price, Price):
            found[str(prefix)] = price
            continue
        fields = attrs.asdict(price) if attrs.has(type(price)) else price
        if not isinstance(fields, Mapping) or any(fields.get(k) is None for k in _PRICE_FIELDS):
            problems.append(f"price of {prefix!r} must give {', '.join(_PRICE_FIELDS)}, found {price!r}")
            continue
        try:
            found[str(prefix)] = Price(*(Decimal(str(fields[k])) for k in _PRICE_FIELDS))
        except InvalidOperation:
            problems.append(f"price of {prefix!r} is not a number: {price!r}")
    if problems:
        raise ConfigError("; ".join(problems))
    return found
