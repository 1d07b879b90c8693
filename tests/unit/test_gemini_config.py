"""GeminiAgent's configuration, command line, environment and the settings it writes (no CLI needed)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.gemini import GeminiAgent, from_config
from adapters.gemini.agent import has_session
from adapters.gemini.controls import RunFiles, workspace_turns_hooks_off
from adapters.gemini.hook import decide
from adapters.gemini.prices import PRICES, Price, price_for
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.ports.agent import AgentRequest
from orchcore.safety import DEFAULT_POLICY


def request(tmp_path: Path, **fields: object) -> AgentRequest:
    values: dict[str, object] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": 1,
        "prompt": "do it",
        "workdir": str(tmp_path / "work"),
        "log_path": str(tmp_path / "logs" / "t1-1.log"),
        "timeout_s": 60.0,
    } | fields
    return AgentRequest(**values)  # type: ignore[arg-type]


def test_the_command_line_carries_mode_model_and_resume_but_never_the_prompt_or_key(tmp_path: Path) -> None:
    agent = GeminiAgent(
        executable="gemini", model="gemini-2.5-pro", approval_mode="auto_edit", api_key="k-secret"
    )

    argv = agent.command(request(tmp_path, resume_agent_session="abc-123"))

    assert argv == [
        "gemini",
        "-p",
        "",
        "--output-format",
        "stream-json",
        "--skip-trust",
        "--approval-mode=auto_edit",
        "--model=gemini-2.5-pro",
        "--resume=abc-123",
    ]
    assert "k-secret" not in repr(agent)


def test_the_environment_adds_only_what_the_cli_needs_and_the_request_wins(tmp_path: Path) -> None:
    agent = GeminiAgent(
        base_env={"PATH": "/bin"}, base_url="http://127.0.0.1:9", api_key="k", home_dir=str(tmp_path / "h")
    )

    env = agent.environment(request(tmp_path, env={"EXTRA": "1", "PATH": "/shims:/bin"}))

    assert env == {
        "PATH": "/shims:/bin",
        "GEMINI_CLI_HOME": str((tmp_path / "h").resolve()),
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_COLOR": "1",
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
        "GEMINI_API_KEY": "k",
        "EXTRA": "1",
    }


def test_from_config_reads_its_keys_and_ignores_the_rest() -> None:
    agent = from_config(
        {
            "name": "gemini",
            "command": [],
            "timeout_s": 60.0,
            "executable": "/opt/gemini",
            "model": "gemini-2.5-pro",
            "approval_mode": "yolo",
            "max_turns": 30,
            "excluded_tools": "web_fetch,google_web_search",
            "idle_timeout_s": None,
            "max_retries": 4,
            "prices": {"gemini-2.5-pro": {"input": "1", "output": 8, "cached": 0.5}},
        },
        {"PATH": "/bin"},
    )

    assert agent.executable == "/opt/gemini"
    assert (agent.model, agent.max_turns, agent.max_retries) == ("gemini-2.5-pro", 30, 4)
    assert agent.excluded_tools == ("web_fetch", "google_web_search")
    assert agent.idle_timeout_s == 900.0
    assert price_for("gemini-2.5-pro", agent.prices) == Price(Decimal(1), Decimal(8), Decimal("0.5"))
    assert price_for("gemini-2.5-flash", agent.prices) == PRICES["gemini-2.5-flash"]


def test_one_price_overrides_every_model() -> None:
    agent = from_config({"price": {"input": "0.5", "output": "1.5"}}, {})

    assert price_for("gemini-9-ultra", agent.prices) == Price(Decimal("0.5"), Decimal("1.5"), Decimal("0.5"))


def test_every_bad_key_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        from_config({"max_turns": "many", "excluded_tools": [1], "price": {"input": -1, "out": 2}}, {})

    lines = str(caught.value).splitlines()
    assert lines == [
        "agent.max_turns has the wrong type: 'many'",
        "agent.excluded_tools must be a list of strings, found [1]",
        "agent.price: unknown key 'out', missing 'output' (expected input, output and optionally cached)",
    ]


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(
        ConfigError, match="approval_mode 'auto' is not one of auto_edit, default, plan, yolo"
    ):
        GeminiAgent(approval_mode="auto")
    with pytest.raises(ConfigError, match="max_turns must be at least 1"):
        GeminiAgent(max_turns=0)
    with pytest.raises(ConfigError, match="max_retries must be 0 to 9"):
        GeminiAgent(max_retries=10)
    with pytest.raises(ConfigError, match=r"agent.price.input must be a number"):
        from_config({"price": {"input": "cheap", "output": 1}}, {})


def test_check_names_the_install_script_when_the_executable_is_missing(tmp_path: Path) -> None:
    with pytest.raises(AgentUnavailable, match=r"install-gemini-cli\.sh"):
        GeminiAgent(executable=str(tmp_path / "no-gemini"), base_env={"PATH": "/bin"}).check()


def test_check_refuses_a_cli_older_than_0_61(tmp_path: Path) -> None:
    old = tmp_path / "gemini"
    old.write_text("#!/bin/sh\necho 0.40.1\n")
    old.chmod(0o755)

    with pytest.raises(AgentUnavailable, match=r"0\.40\.1 .* older than 0\.61\.0"):
        GeminiAgent(executable=str(old), base_env={"PATH": "/bin"}, api_key="k").check()


def test_check_without_an_api_key_says_which_variable_to_set(tmp_path: Path) -> None:
    cli = tmp_path / "gemini"
    cli.write_text("#!/bin/sh\necho 0.61.0\n")
    cli.chmod(0o755)

    with pytest.raises(AgentUnavailable, match="GEMINI_API_KEY"):
        GeminiAgent(executable=str(cli), base_env={"PATH": "/bin"}).check()
    GeminiAgent(executable=str(cli), base_env={"PATH": "/bin", "GOOGLE_API_KEY": "k"}).check()


def test_the_settings_hold_the_auth_type_the_hook_and_the_limits(tmp_path: Path) -> None:
    files = RunFiles.for_run(tmp_path / "home", str(tmp_path / "logs" / "t1-1.log"))

    files.write(DEFAULT_POLICY, max_attempts=3, excluded_tools=["web_fetch"], max_turns=20, python="/py")

    settings = json.loads(Path(files.settings).read_text())
    assert settings["security"]["auth"] == {"selectedType": "gemini-api-key"}
    assert settings["security"]["environmentVariableRedaction"]["blocked"] == [
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
    ]
    assert settings["general"]["maxAttempts"] == 3
    assert settings["tools"] == {"sandbox": False, "exclude": ["web_fetch"]}
    assert settings["model"] == {"maxSessionTurns": 20}
    (group,) = settings["hooks"]["BeforeTool"]
    assert group["matcher"] == "run_shell_command|write_file|replace"
    assert group["hooks"][0]["command"] == f"/py -I -m adapters.gemini.hook {files.policy}"
    assert Path(files.policy).parent == (tmp_path / "logs").resolve()  # not in the home the agent may write


def test_no_policy_means_no_hook(tmp_path: Path) -> None:
    files = RunFiles.for_run(tmp_path / "home", str(tmp_path / "t.log"))

    files.write(None, max_attempts=1)

    assert "hooks" not in json.loads(Path(files.settings).read_text())
    assert not Path(files.policy).exists()


def test_the_hook_denies_what_the_policy_forbids_and_fails_closed(tmp_path: Path) -> None:
    files = RunFiles.for_run(tmp_path / "home", str(tmp_path / "t.log"))
    files.write(DEFAULT_POLICY, max_attempts=1)
    work = str(tmp_path / "work")

    def hook(tool: str, args: dict[str, object], cwd: str = work) -> str | None:
        return decide([files.policy], json.dumps({"tool_name": tool, "tool_input": args, "cwd": cwd}))

    assert hook("run_shell_command", {"command": "git status"}) is None
    assert hook("write_file", {"file_path": f"{work}/a.py", "content": ""}) is None
    commit = hook("run_shell_command", {"command": "git -C . commit -m x"})
    assert commit is not None
    assert json.loads(commit)["decision"] == "deny"
    assert json.loads(commit)["reason"].startswith("orchcore: forbidden (git-commit)")
    outside = hook("replace", {"file_path": "/etc/passwd", "old_string": "a", "new_string": "b"})
    assert outside is not None
    assert "write-outside-workspace" in outside
    assert "could not read" in str(decide([files.policy], "not json"))
    assert "cannot read the safety policy" in str(
        decide([str(tmp_path / "none.json")], json.dumps({"tool_name": "x", "cwd": work}))
    )
    assert "working directory" in str(decide([files.policy], json.dumps({"tool_name": "x"})))


def test_a_workspace_settings_file_with_hooks_config_is_named(tmp_path: Path) -> None:
    (tmp_path / ".gemini").mkdir()
    assert workspace_turns_hooks_off(str(tmp_path)) is None
    (tmp_path / ".gemini" / "settings.json").write_text('{"ui": {}}')
    assert workspace_turns_hooks_off(str(tmp_path)) is None
    (tmp_path / ".gemini" / "settings.json").write_text('{"hooksConfig": {"enabled": false}}')
    assert "hooksConfig" in str(workspace_turns_hooks_off(str(tmp_path)))


def test_a_session_is_resumable_only_once_the_model_answered(tmp_path: Path) -> None:
    chats = tmp_path / ".gemini" / "tmp" / "work" / "chats"
    chats.mkdir(parents=True)
    session = "c1b5cd53-f789-4239-98f7-939b263676c4"
    chat = chats / f"session-2026-12-02T05-15-{session[:8]}.jsonl"
    chat.write_text(json.dumps({"sessionId": session}) + "\n" + json.dumps({"type": "user"}) + "\n")
    assert not has_session(tmp_path, session)
    chat.write_text(chat.read_text() + '{"id":"x","type":"gemini","content":"hi"}\n')
    assert has_session(tmp_path, session)
    assert not has_session(tmp_path, "../../etc")
