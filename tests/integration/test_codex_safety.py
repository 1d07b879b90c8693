"""The safety layers with the real Codex CLI against the fake Responses API.

Each test scripts a model that runs one forbidden command through ``exec_command`` in a real
git repository under tmp_path, with the run's guards in force exactly as the engine sets them
up: ``request.safety`` (compiled into the CLI's ``workspace-write`` sandbox) and
``GitWorkspace.guard_env`` in ``request.env`` (PATH shims, git hooks). A marker proves the
command had no effect (commits, refs, the bare remote, a file outside), and the refusal is
reported: as a ``Refused`` event of the CLI's sandbox or a record of orch's guards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.codex import CodexAgent
from adapters.guards import GitWorkspace
from orchcore.ports.agent import (
    AgentRequest,
    AgentResult,
    Refused,
    Tick,
    ToolAction,
    ToolCall,
    TypedAgentEvent,
)
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from orchcore.safety.events import SafetyEvent
from tests.fakes.openai_responses_api import FakeResponsesAPI, exec_turn, text_turn
from tests.support import CODEX, agent_env, needs_codex
from tests.support import git_in as git

PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [pytest.mark.codex, pytest.mark.integration, needs_codex]


@pytest.fixture
def api() -> Iterator[FakeResponsesAPI]:
    with FakeResponsesAPI() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
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


class Sink:
    """Keeps every event but ticks."""

    def __init__(self) -> None:
        self.events: list[TypedAgentEvent] = []

    def __call__(self, event: object) -> str | None:
        if not isinstance(event, Tick):
            self.events.append(event)  # type: ignore[arg-type]
        return None

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def run_command(
    api: FakeResponsesAPI, repo: Path, tmp_path: Path, env: Mapping[str, str], cmd: str
) -> tuple[AgentResult, Sink, list[SafetyEvent]]:
    workspace = GitWorkspace(str(repo), str(tmp_path / "guard"))
    request = AgentRequest(
        session_id="s1",
        task_id="t1",
        attempt=1,
        prompt="do the task",
        workdir=str(repo),
        log_path=str(tmp_path / "logs" / "t1-1.log"),
        timeout_s=60.0,
        safety=DEFAULT_POLICY,
        env=workspace.guard_env(DEFAULT_POLICY, PATH),
    )
    agent = CodexAgent(
        executable=str(CODEX), base_env=env, model="fake-model", base_url=api.base_url, api_key="sk-t"
    )
    api.play(exec_turn(cmd), text_turn("done"))
    sink = Sink()
    result = agent.run(request, sink)
    return result, sink, workspace.take_refusals()


def shell_calls(sink: Sink) -> list[str]:
    return [c.command for c in sink.of(ToolCall) if c.action is ToolAction.SHELL]


def refused_by(sink: Sink, guards: list[SafetyEvent]) -> set[str]:
    return {r.layer.value for r in sink.of(Refused)} | {g.layer.value for g in guards}


@pytest.mark.parametrize(
    ("cmd", "layer"),
    [
        ("git commit -am sneaky", "shim"),  # orch's PATH shim refuses it first
        ("/usr/bin/git commit --no-verify -am sneaky", "sandbox"),  # past the shim: .git is read-only
    ],
)
def test_a_forbidden_commit_is_stopped_and_reported(
    api: FakeResponsesAPI, repo: Path, tmp_path: Path, env: dict[str, str], cmd: str, layer: str
) -> None:
    before = git(repo, env, "rev-list", "--count", "--all")
    result, sink, guards = run_command(api, repo, tmp_path, env, cmd)
    assert result.outcome is Outcome.SUCCEEDED, result  # a refusal is an answer to the model
    assert git(repo, env, "rev-list", "--count", "--all") == before
    assert git(repo, env, "diff", "--cached", "--name-only") == ""
    assert (repo / "app.py").read_text() == "uncommitted work\n"
    assert shell_calls(sink) == [cmd]  # the stream guard sees it
    assert refused_by(sink, guards) == {layer}, (sink.events, guards)


def test_a_push_is_stopped_and_reported(
    api: FakeResponsesAPI, repo: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    remote = git(repo, env, "--git-dir", str(tmp_path / "origin.git"), "for-each-ref")
    result, sink, guards = run_command(
        api, repo, tmp_path, env, "git push --no-verify origin HEAD:refs/heads/evil"
    )
    assert result.outcome is Outcome.SUCCEEDED, result
    assert git(repo, env, "--git-dir", str(tmp_path / "origin.git"), "for-each-ref") == remote
    assert shell_calls(sink) == ["git push --no-verify origin HEAD:refs/heads/evil"]
    assert refused_by(sink, guards) == {"shim"}, (sink.events, guards)


def test_a_write_outside_the_workspace_is_stopped_by_the_clis_sandbox_and_reported(
    api: FakeResponsesAPI, repo: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    outside = tmp_path / "outside.txt"
    result, sink, _ = run_command(api, repo, tmp_path, env, f"echo pwned > {outside}")
    assert result.outcome is Outcome.SUCCEEDED, result
    assert not outside.exists()
    assert shell_calls(sink) == [f"echo pwned > {outside}"]
    (refused,) = sink.of(Refused)
    assert refused.layer.value == "sandbox"
    assert "Read-only file system" in refused.reason


def test_a_write_inside_the_workspace_goes_through(
    api: FakeResponsesAPI, repo: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    result, sink, guards = run_command(api, repo, tmp_path, env, "echo fine > notes.txt")
    assert result.outcome is Outcome.SUCCEEDED, result
    assert (repo / "notes.txt").read_text() == "fine\n"
    assert not sink.of(Refused)
    assert guards == []
