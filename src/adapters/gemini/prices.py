"""What Gemini tokens cost: the adapter's price table (USD per million tokens, Decimal).

Google's paid-tier list prices for prompts up to 200k tokens (the CLI's usual
case), as published on ai.google.dev/gemini-api/docs/pricing; thinking tokens are
billed as output. A model is priced by the longest matching prefix; an unknown
one at the dearest price known, so a budget never under-counts. Config may
override the table (``agent.price`` for every model, ``agent.prices`` by prefix).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from adapters.gemini.stream import Tokens

MILLION = Decimal(1_000_000)


@attrs.frozen
class Price:
    """USD per million input, output and cached-input tokens."""

    input: Decimal
    output: Decimal
    cached: Decimal


def _p(input_usd: str, output_usd: str, cached_usd: str) -> Price:
    return Price(Decimal(input_usd), Decimal(output_usd), Decimal(cached_usd))


PRICES: Mapping[str, Price] = {
    "gemini-3-pro": _p("2", "12", "0.20"),
    "gemini-3": _p("2", "12", "0.20"),
    "gemini-2.5-pro": _p("1.25", "10", "0.125"),
    "gemini-2.5-flash-lite": _p("0.10", "0.40", "0.01"),
    "gemini-2.5-flash": _p("0.30", "2.50", "0.03"),
    "gemini-2.0-flash-lite": _p("0.075", "0.30", "0.01875"),
    "gemini-2.0-flash": _p("0.10", "0.40", "0.025"),
}


def price_for(model: str, prices: Mapping[str, Price] = PRICES) -> Price:
    """The price of ``model``: the longest matching prefix, else the dearest one known."""
    matches = [key for key in prices if model.startswith(key)]
    if matches:
        return prices[max(matches, key=len)]
    return max(prices.values(), key=lambda p: (p.output, p.input))


def cost_of(model: str, tokens: Tokens, prices: Mapping[str, Price] = PRICES) -> Decimal:
    """What ``tokens`` of ``model`` cost in USD (cached input at the cached price)."""
    price = price_for(model, prices)
    cached = min(tokens.cached, tokens.input)
    total = (
        (tokens.input - cached) * price.input + cached * price.cached + tokens.billed_output * price.output
    )
    return total / MILLION


def run_cost(
    by_model: Mapping[str, Tokens], fallback_model: str, tokens: Tokens, prices: Mapping[str, Price]
) -> Decimal:
    """A run's cost: summed per model when the result lists them, else all of it at ``fallback_model``."""
    if by_model:
        return sum((cost_of(m, t, prices) for m, t in by_model.items()), Decimal(0))
    return cost_of(fallback_model, tokens, prices)
