"""`orch run` with the real Claude Code CLI and no credentials: refused before a session exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import AGENT_UNAVAILABLE, app
from orchcore.errors import AgentUnavailable
from tests.support import CLAUDE, needs_claude

LOGINS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
TASKS = "# Tasks\n\n## Task 1: One\n**Claude Instruction:**\nsay hi\n"


@needs_claude
def test_run_without_credentials_exits_4_and_creates_no_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*LOGINS, "CLAUDE_CONFIG_DIR", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  name: claude\n  executable: {CLAUDE}\napproval:\n  mode: auto\n"
    )
    (tmp_path / "tasks.md").write_text(TASKS)
    runner = CliRunner()

    result = runner.invoke(app, ["run", "tasks.md"])

    assert result.exit_code == AGENT_UNAVAILABLE, result.output
    assert "Claude Code is not logged in" in result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert ".credentials.json" in result.stderr
    listed = runner.invoke(app, ["sessions", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []


@needs_claude
def test_a_credentials_file_in_the_config_dir_counts_as_logged_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.claude_code.agent import ClaudeCodeAgent

    config = tmp_path / "claude-config"
    config.mkdir()
    agent = ClaudeCodeAgent(
        executable=str(CLAUDE), base_env={"PATH": "/usr/bin:/bin"}, config_dir=str(config)
    )
    with pytest.raises(AgentUnavailable, match="not logged in"):
        agent.check()
    (config / ".credentials.json").write_text("{}")
    agent.check()


def test_what_counts_as_logged_in(tmp_path: Path) -> None:
    from adapters.claude_code.agent import credentials_missing

    config = tmp_path / "cfg"
    config.mkdir()
    env = {"CLAUDE_CONFIG_DIR": str(config), "HOME": str(tmp_path)}
    said = credentials_missing(env, platform="linux")
    assert said is not None
    assert str(config / ".credentials.json") in said
    assert credentials_missing({**env, "ANTHROPIC_AUTH_TOKEN": "t"}, platform="linux") is None
    assert credentials_missing({**env, "CLAUDE_CODE_USE_BEDROCK": "1"}, platform="linux") is None
    assert credentials_missing(env, platform="darwin") is None  # the Keychain: not visible
    (config / "settings.json").write_text('{"apiKeyHelper": "~/bin/key"}')
    assert credentials_missing(env, platform="linux") is None
