"""The price of an Aider model's usage: the config's override, else what Aider printed.

Aider prints ``Cost: $x message`` only for models litellm knows; for any other (a local model,
a proxy) the budget needs ``agent.price`` ({input, output} USD per million tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from orchcore.errors import ConfigError

_MILLION = Decimal(1_000_000)


@attrs.frozen
class ModelPrice:
    """USD per million tokens of input and of output."""

    input: Decimal
    output: Decimal

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """What one message's usage costs."""
        return (max(input_tokens, 0) * self.input + max(output_tokens, 0) * self.output) / _MILLION


def _amount(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        amount = Decimal(str(raw))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def parse_price(value: object) -> ModelPrice:
    """``agent.price`` as a ModelPrice; raises ConfigError naming every bad key at once."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"agent.price must be a mapping {{input, output}}, found {value!r}")
    problems: list[str] = []
    amounts: dict[str, Decimal] = {}
    for key in ("input", "output"):
        raw = value.get(key)
        amount = None if raw is None else _amount(raw)
        if raw is None:
            problems.append(f"agent.price.{key} is missing (USD per million tokens)")
        elif amount is None:
            problems.append(f"agent.price.{key} must be a non-negative number, found {raw!r}")
        else:
            amounts[key] = amount
    unknown = sorted(set(map(str, value)) - {"input", "output"})
    if unknown:
        problems.append(f"agent.price has unknown keys {', '.join(unknown)} (expected input, output)")
    if problems:
        raise ConfigError("; ".join(problems))
    return ModelPrice(amounts["input"], amounts["output"])
