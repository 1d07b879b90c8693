"""``budget.prices`` in orch.yaml reaches the agent that prices its usage (the Claude adapter)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from adapters.claude_code.agent import ClaudeCodeAgent
from adapters.claude_code.prices import DEFAULT_PRICES, Price, price_for
from apps.bootstrap import build_runtime
from apps.settings import load_settings

CONFIG = """
agent:
  name: claude
budget:
  prices:
    claude-opus: {input: 1, output: 2, cache_write: 3, cache_read: "0.5"}
    my-proxy-model: {input: 0, output: 0, cache_write: 0, cache_read: 0}
"""


def test_configured_prices_are_the_claude_agents_over_its_defaults(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text(CONFIG)
    settings = load_settings(str(tmp_path / "orch.yaml"), environ={"HOME": str(tmp_path)})
    agent = build_runtime(settings, read_only=True).agents("claude")
    assert isinstance(agent, ClaudeCodeAgent)
    assert price_for("claude-opus-4-8", agent.prices) == Price(
        Decimal(1), Decimal(2), Decimal(3), Decimal("0.5")
    )
    assert price_for("my-proxy-model-7b", agent.prices).output == 0
    assert price_for("claude-haiku-4-5", agent.prices) == DEFAULT_PRICES["claude-haiku"]


def test_without_configured_prices_the_claude_agent_uses_anthropics(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text("agent:\n  name: claude\n")
    settings = load_settings(str(tmp_path / "orch.yaml"), environ={"HOME": str(tmp_path)})
    agent = build_runtime(settings, read_only=True).agents("claude")
    assert isinstance(agent, ClaudeCodeAgent)
    assert agent.prices == DEFAULT_PRICES


def test_prices_in_the_agents_own_section_win_over_the_budgets(tmp_path: Path) -> None:
    own = "agent:\n  name: claude\n  prices:\n    claude-opus: {input: 9, output: 9, cache_write: 9, cache_read: 9}\n"
    (tmp_path / "orch.yaml").write_text(own + CONFIG.split("\n", 3)[3])
    settings = load_settings(str(tmp_path / "orch.yaml"), environ={"HOME": str(tmp_path)})
    agent = build_runtime(settings, read_only=True).agents("claude")
    assert isinstance(agent, ClaudeCodeAgent)
    assert price_for("claude-opus-4-8", agent.prices).input == 9
