"""Claude's prices: the longest model prefix wins, an unknown model costs the most, money is exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.claude_code.agent import from_config
from adapters.claude_code.prices import DEFAULT_PRICES, Price, Usage, cost_of, price_for
from adapters.claude_code.stream import parse_line
from orchcore.errors import ConfigError
from orchcore.ports.agent import UsageReport

OPUS = "claude-opus-4-8"


def test_the_longest_model_prefix_sets_the_price() -> None:
    assert price_for("claude-opus-4-1-20250805", DEFAULT_PRICES).output == Decimal(75)
    assert price_for("claude-opus-4-8", DEFAULT_PRICES).output == Decimal(25)
    assert price_for("claude-sonnet-5-20261001", DEFAULT_PRICES).input == Decimal(2)
    assert price_for("claude-sonnet-4-5", DEFAULT_PRICES).input == Decimal(3)


def test_an_unknown_model_is_priced_as_the_dearest_so_spend_is_never_under_counted() -> None:
    dearest = max(p.output for p in DEFAULT_PRICES.values())
    assert price_for("some-new-model", DEFAULT_PRICES).output == dearest


def test_cost_of_usage_is_exact_decimal() -> None:
    usage = Usage(
        OPUS, input_tokens=1001, output_tokens=1, cache_creation_input_tokens=7, cache_read_input_tokens=3
    )
    expected = (1001 * Decimal(5) + 1 * Decimal(25) + 7 * Decimal("6.25") + 3 * Decimal("0.50")) / 1_000_000
    assert cost_of(usage) == expected == Decimal("0.00507525")


def test_the_stream_reports_each_message_priced_by_the_adapter() -> None:
    line = (
        '{"type":"assistant","message":{"id":"m1","model":"claude-opus-4-8","content":[],'
        '"usage":{"input_tokens":1001,"output_tokens":1,"cache_creation_input_tokens":7,'
        '"cache_read_input_tokens":3}}}'
    )
    (usage,) = parse_line(line)
    assert usage == UsageReport(
        "m1",
        OPUS,
        input_tokens=1001,
        output_tokens=1,
        cache_write_tokens=7,
        cache_read_tokens=3,
        cost_usd=Decimal("0.00507525"),
    )


def test_configured_prices_override_the_table_for_the_stream() -> None:
    agent = from_config(
        {"prices": {"claude-opus": {"input": "1", "output": "1", "cache_write": "1", "cache_read": "1"}}}, {}
    )
    assert price_for(OPUS, agent.prices) == Price(Decimal(1), Decimal(1), Decimal(1), Decimal(1))
    assert price_for("claude-haiku-4-5", agent.prices) == DEFAULT_PRICES["claude-haiku"]  # the rest stays


def test_every_wrong_price_is_named_in_one_config_error() -> None:
    wrong = {
        "claude-opus": {"input": 1},
        "claude-haiku": {"input": "x", "output": 1, "cache_write": 1, "cache_read": 1},
    }
    with pytest.raises(ConfigError) as raised:
        from_config({"prices": wrong}, {})
    assert "price of 'claude-opus' must give input, output, cache_write, cache_read" in str(raised.value)
    assert "price of 'claude-haiku' is not a number" in str(raised.value)
