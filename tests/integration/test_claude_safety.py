"""The safety layers with the real Claude Code CLI against the fake Anthropic API.

Each test scripts a model that asks for one Bash (or Write) call in a real git
repository made under tmp_path, with the run's guards in force exactly as the
engine sets them up: ``request.safety`` (deny rules + PreToolUse hook through
``--settings``) and ``GitWorkspace.guard_env`` in ``request.env`` (PATH shims,
git hooks). A marker proves a forbidden command never ran: the commit count, the
refs, the bare remote's refs, a file the command would have written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.claude_code import ClaudeCodeAgent
from adapters.claude_code.permissions import deny_rules
from adapters.guards import GitWorkspace
from orchcore.ports.agent import AgentRequest, AgentResult
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_turn, tool_results, tool_turn
from tests.support import CLAUDE, agent_env, needs_claude
from tests.support import EventRecorder as Sink
from tests.support import git_in as git

ROOT = Path(__file__).resolve().parents[2]
PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [
    pytest.mark.claude,
    pytest.mark.integration,
    needs_claude,
]


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The agent's base environment: no user or system git config, an identity so a commit could work."""
    home = tmp_path / "home"
    home.mkdir()
    return agent_env(home, PATH)


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """One commit on main, pushed to a bare `origin`; app.py then has an uncommitted change."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, env, "init", "-q", "--bare", str(origin))
    git(tmp_path, env, "init", "-q", "-b", "main", str(work))
    (work / "app.py").write_text("one\n")
    git(work, env, "add", "app.py")
    git(work, env, "commit", "-q", "-m", "one")
    git(work, env, "remote", "add", "origin", str(origin))
    git(work, env, "push", "-q", "origin", "main")
    (work / "app.py").write_text("uncommitted work\n")
    return work


@attrs.frozen
class Snapshot:
    """What a forbidden command would change: commits, refs, the index, the remote, the work."""

    commits: str
    refs: Mapping[str, str]
    staged: str
    remote: str
    app: str


def snapshot(repo: Path, env: Mapping[str, str]) -> Snapshot:
    return Snapshot(
        commits=git(repo, env, "rev-list", "--count", "--all"),
        refs=GitWorkspace(str(repo), str(repo.parent / "unused")).refs(),
        staged=git(repo, env, "diff", "--cached", "--name-only"),
        remote=git(repo, env, "--git-dir", str(repo.parent / "origin.git"), "for-each-ref"),
        app=(repo / "app.py").read_text(),
    )


def make_agent(
    api: FakeAnthropicAPI, tmp_path: Path, env: Mapping[str, str], **settings: Any
) -> ClaudeCodeAgent:
    return ClaudeCodeAgent(
        executable=str(CLAUDE),
        base_env=env,
        base_url=api.base_url,
        api_key="sk-test",
        config_dir=str(tmp_path / "claude-config"),
        **settings,
    )


def guarded_request(repo: Path, tmp_path: Path, **fields: Any) -> AgentRequest:
    """A request as the engine makes it: the policy, and the guards' environment for this workspace."""
    workspace = GitWorkspace(str(repo), str(tmp_path / "guard"))
    values: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": 1,
        "prompt": "do the task",
        "workdir": str(repo),
        "log_path": str(tmp_path / "logs" / "t1-1.log"),
        "timeout_s": 60.0,
        "safety": DEFAULT_POLICY,
        "env": workspace.guard_env(DEFAULT_POLICY, PATH),
    } | fields
    return AgentRequest(**values)


def run_tool(
    api: FakeAnthropicAPI,
    agent: ClaudeCodeAgent,
    request: AgentRequest,
    tool: str,
    tool_input: dict[str, Any],
) -> tuple[AgentResult, Sink]:
    api.play(tool_turn(tool, tool_input), text_turn("done"))
    sink = Sink()
    return agent.run(request, sink), sink


def assert_denied_by_the_hook(api: FakeAnthropicAPI, result: AgentResult, sink: Sink, rule: str) -> None:
    assert result.outcome is Outcome.SUCCEEDED, result  # a denial is an answer to the model, not a failure
    answer = sink.first("tool_result")
    assert answer.data["is_error"] is True
    assert answer.text.startswith(f"orchcore: forbidden ({rule})")
    assert sink.first("result").data["permission_denials"]
    (sent_back,) = tool_results(api.main_turns[-1])
    assert sent_back["is_error"] is True


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("git commit -am x", "git-commit"),
        ("git -C . commit -m x", "git-commit"),  # escapes the prefix rule Bash(git commit:*)
        ("command git -C . commit -am x", "git-commit"),  # escapes every deny rule: the hook alone
    ],
    ids=["commit", "commit-with-global-option", "commit-behind-command"],
)
def test_a_commit_is_blocked_before_it_runs(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path, command: str, rule: str
) -> None:
    before = snapshot(repo, env)

    result, sink = run_tool(
        api, make_agent(api, tmp_path, env), guarded_request(repo, tmp_path), "Bash", {"command": command}
    )

    assert_denied_by_the_hook(api, result, sink, rule)
    assert snapshot(repo, env) == before


def test_a_force_push_inside_a_compound_command_is_blocked_and_nothing_of_it_runs(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    before = snapshot(repo, env)
    command = "echo hi > note.txt && git push --force origin main"

    result, sink = run_tool(
        api, make_agent(api, tmp_path, env), guarded_request(repo, tmp_path), "Bash", {"command": command}
    )

    assert_denied_by_the_hook(api, result, sink, "git-push")
    assert not (repo / "note.txt").exists()
    assert snapshot(repo, env) == before


def test_a_commit_the_matcher_cannot_see_is_refused_by_the_git_shim(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    before = snapshot(repo, env)
    command = "python3 -c \"import subprocess; subprocess.run(['git', 'commit', '-am', 'x'])\""

    result, sink = run_tool(
        api, make_agent(api, tmp_path, env), guarded_request(repo, tmp_path), "Bash", {"command": command}
    )

    assert result.outcome is Outcome.SUCCEEDED, result
    assert "orchcore: forbidden (git-commit)" in sink.first("tool_result").text
    assert snapshot(repo, env) == before


def test_a_harmless_command_and_a_workspace_write_run_without_a_human(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    command = "python3 -c \"open('ok.txt', 'w').write('ok')\" && git status --short && echo ran"
    api.play(
        tool_turn("Bash", {"command": command}),
        tool_turn("Write", {"file_path": str(repo / "new.py"), "content": "x = 1\n"}),
        text_turn("done"),
    )
    sink = Sink()

    result = make_agent(api, tmp_path, env).run(guarded_request(repo, tmp_path), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert (repo / "ok.txt").read_text() == "ok"
    assert (repo / "new.py").read_text() == "x = 1\n"
    answers = [e for e in sink.events if e.kind == "tool_result"]
    assert [a.data["is_error"] for a in answers] == [False, False]
    assert answers[0].text.endswith("ran")
    assert sink.first("result").data["permission_denials"] == []


def test_a_write_outside_the_workspace_is_denied(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    outside = tmp_path / "outside.txt"

    result, sink = run_tool(
        api,
        make_agent(api, tmp_path, env, permission_mode="bypassPermissions"),
        guarded_request(repo, tmp_path),
        "Write",
        {"file_path": str(outside), "content": "x"},
    )

    assert_denied_by_the_hook(api, result, sink, "write-outside-workspace")
    assert not outside.exists()


def test_the_deny_rules_alone_are_valid_settings_and_catch_the_global_option_form(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    settings = tmp_path / "deny-only.json"
    settings.write_text(json.dumps({"permissions": {"deny": deny_rules(DEFAULT_POLICY)}}))
    agent = make_agent(api, tmp_path, env, extra_args=[f"--settings={settings}"])
    request = guarded_request(repo, tmp_path, safety=None, env={})
    before = snapshot(repo, env)

    result, sink = run_tool(api, agent, request, "Bash", {"command": "git -C . commit -am x"})

    assert result.outcome is Outcome.SUCCEEDED, result
    assert (
        sink.first("tool_result").text
        == "Permission to use Bash with command git -C . commit -am x has been denied."
    )
    assert snapshot(repo, env) == before


def test_a_flag_that_drops_hooks_is_refused_before_the_cli_starts(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    agent = make_agent(api, tmp_path, env, extra_args=["--bare"])

    result = agent.run(guarded_request(repo, tmp_path), Sink())

    assert result.outcome is Outcome.FAILED
    assert "--bare" in result.reason
    assert api.requests == []


def test_the_run_passes_its_settings_file_and_keeps_the_policy_beside_the_log(
    tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    agent = ClaudeCodeAgent(executable=str(CLAUDE), base_env=env)
    request = guarded_request(repo, tmp_path)

    argv = agent.command(request)

    assert f"--settings={request.log_path}.claude-settings.json" in argv
    assert not any(
        a.startswith("--settings") for a in agent.command(guarded_request(repo, tmp_path, safety=None))
    )
