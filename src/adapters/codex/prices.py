"""What OpenAI's models cost per million tokens, and the price of one Codex turn's usage.

Vendor vocabulary stays here: the core only sees ``UsageReport.cost_usd``. Prices are
OpenAI's published list prices (USD per million tokens, standard tier) keyed by model-id
prefix; the longest prefix wins, and an unknown model is priced as the dearest one known,
so a budget never under-counts. ``agent.price`` in the config overrides the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from orchcore.errors import ConfigError

_MILLION = Decimal(1_000_000)


@attrs.frozen
class ModelPrice:
    """USD per million tokens: fresh input, cached input (a subset of input), output (reasoning included)."""

    input: Decimal
    cached_input: Decimal
    output: Decimal


DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "gpt-5": ModelPrice(Decimal("1.25"), Decimal("0.125"), Decimal(10)),
    "gpt-5-codex": ModelPrice(Decimal("1.25"), Decimal("0.125"), Decimal(10)),
    "gpt-5-mini": ModelPrice(Decimal("0.25"), Decimal("0.025"), Decimal(2)),
    "gpt-5-nano": ModelPrice(Decimal("0.05"), Decimal("0.005"), Decimal("0.40")),
    "gpt-5-pro": ModelPrice(Decimal(15), Decimal(15), Decimal(120)),
    "gpt-4.1": ModelPrice(Decimal(2), Decimal("0.50"), Decimal(8)),
    "gpt-4.1-mini": ModelPrice(Decimal("0.40"), Decimal("0.10"), Decimal("1.60")),
    "o3": ModelPrice(Decimal(2), Decimal("0.50"), Decimal(8)),
    "o4-mini": ModelPrice(Decimal("1.10"), Decimal("0.275"), Decimal("4.40")),
    "codex-mini-latest": ModelPrice(Decimal("1.50"), Decimal("0.375"), Decimal(6)),
}


def price_for(model: str, prices: Mapping[str, ModelPrice] = DEFAULT_PRICES) -> ModelPrice:
    """The price of ``model``: the longest matching prefix, else the dearest one known."""
    matches = [key for key in prices if model.startswith(key)]
    if matches:
        return prices[max(matches, key=len)]
    return max(prices.values(), key=lambda p: (p.output, p.input))


def turn_cost(price: ModelPrice, input_tokens: int, cached_input_tokens: int, output_tokens: int) -> Decimal:
    """What one turn's usage costs; cached tokens are part of ``input_tokens`` (OpenAI's counting)."""
    cached = min(max(cached_input_tokens, 0), max(input_tokens, 0))
    fresh = max(input_tokens, 0) - cached
    total = fresh * price.input + cached * price.cached_input + max(output_tokens, 0) * price.output
    return total / _MILLION


def _amount(raw: object) -> Decimal | None:
    """``raw`` as a non-negative finite Decimal read from its text, or None."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        amount = Decimal(str(raw))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def parse_price(value: object) -> ModelPrice:
    """``agent.price`` (``{input, output, cached_input?}`` in USD per million tokens) as a ModelPrice.

    Raises ConfigError naming every bad key at once; numbers are read from their text
    (``"1.25"`` or ``1.25``), never via float arithmetic.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(f"agent.price must be a mapping {{input, output, cached_input}}, found {value!r}")
    problems: list[str] = []
    amounts: dict[str, Decimal] = {}
    for key in ("input", "output", "cached_input"):
        raw = value.get(key)
        if raw is None:
            if key != "cached_input":
                problems.append(f"agent.price.{key} is missing (USD per million tokens)")
            continue
        amount = _amount(raw)
        if amount is None:
            problems.append(f"agent.price.{key} must be a non-negative number, found {raw!r}")
            continue
        amounts[key] = amount
    unknown = sorted(set(map(str, value)) - {"input", "output", "cached_input"})
    if unknown:
        problems.append(
            f"agent.price has unknown keys {', '.join(unknown)} (expected input, output, cached_input)"
        )
    if problems:
        raise ConfigError("; ".join(problems))
    return ModelPrice(amounts["input"], amounts.get("cached_input", amounts["input"]), amounts["output"])
