"""The Codex agent's configuration: the safety policy compiled into the CLI's sandbox, its argv, its settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from adapters.codex import CodexAgent, from_config, sandbox_mode
from adapters.codex.prices import parse_price, price_for
from orchcore.errors import ConfigError
from orchcore.ports.agent import AgentRequest
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY, SafetyPolicy


def request(tmp_path: Path, **fields: object) -> AgentRequest:
    values: dict[str, object] = {
        "session_id": "s",
        "task_id": "t",
        "attempt": 1,
        "prompt": "p",
        "workdir": str(tmp_path),
        "log_path": str(tmp_path / "t.log"),
        "timeout_s": 5.0,
    } | fields
    return AgentRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "configured", "mode"),
    [
        (DEFAULT_POLICY, None, "workspace-write"),
        (DEFAULT_POLICY, "read-only", "read-only"),
        (SafetyPolicy(workspace_only_writes=False, workspace_only_deletes=False), None, "workspace-write"),
        (SafetyPolicy(enabled=False), None, "danger-full-access"),
        (None, None, "danger-full-access"),
        (None, "workspace-write", "workspace-write"),
    ],
)
def test_the_safety_policy_picks_the_clis_sandbox(
    policy: SafetyPolicy | None, configured: str | None, mode: str
) -> None:
    assert sandbox_mode(policy, configured) == (mode, None)


def test_full_access_is_refused_while_the_safety_policy_is_on(tmp_path: Path) -> None:
    _, refused = sandbox_mode(DEFAULT_POLICY, "danger-full-access")
    assert refused is not None
    assert "forbids" in refused
    agent = CodexAgent(sandbox="danger-full-access")
    result = agent.run(request(tmp_path, safety=DEFAULT_POLICY), lambda _: None)
    assert result.outcome is Outcome.FAILED
    assert "danger-full-access" in result.reason
    assert not (tmp_path / "t.log").exists()  # nothing started


def test_the_argv_compiles_the_policy_and_never_carries_the_key(tmp_path: Path) -> None:
    policy = SafetyPolicy(writable_outside=("/srv/cache",))
    agent = CodexAgent(api_key="sk-secret", base_url="http://127.0.0.1:9/v1", model="gpt-5")
    argv = agent.command(request(tmp_path, safety=policy))
    joined = " ".join(argv)
    assert "sk-secret" not in joined
    assert argv[:2] == ["codex", "exec"]
    assert argv[-1] == "-"  # the prompt comes on stdin
    assert 'sandbox_mode="workspace-write"' in argv
    assert 'approval_policy="never"' in argv
    assert 'sandbox_workspace_write.writable_roots=["/srv/cache"]' in argv
    assert "sandbox_workspace_write.network_access=false" in argv
    assert 'model_providers.orch.base_url="http://127.0.0.1:9/v1"' in argv
    assert 'model_providers.orch.env_key="OPENAI_API_KEY"' in argv
    assert agent.environment(tmp_path)["OPENAI_API_KEY"] == "sk-secret"


def test_a_resumed_run_puts_the_session_id_before_the_prompt(tmp_path: Path) -> None:
    argv = CodexAgent().command(request(tmp_path, resume_agent_session="thread-1"))
    assert argv[:3] == ["codex", "exec", "resume"]
    assert argv[-2:] == ["thread-1", "-"]


def test_every_config_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(
            {"model": 5, "sandbox": "yolo", "max_retries": True, "price": {"input": "x"}, "extra_args": [1]},
            {},
        )
    message = str(caught.value)
    for part in (
        "agent.model",
        "agent.sandbox",
        "agent.max_retries",
        "agent.price.input",
        "agent.price.output",
        "agent.extra_args",
    ):
        assert part in message


def test_the_config_price_overrides_the_table() -> None:
    agent = from_config({"model": "gpt-5", "price": {"input": "3", "output": 12}}, {})
    assert agent.model_price() == parse_price({"input": "3", "output": "12", "cached_input": "3"})
    assert from_config({"model": "gpt-5"}, {}).model_price() == price_for("gpt-5")


def test_an_unknown_model_is_priced_as_the_dearest_known() -> None:
    dearest = price_for("some-future-model")
    assert dearest.output == Decimal(120)
    assert price_for("gpt-5-mini-2026").input == Decimal("0.25")  # the longest prefix wins
