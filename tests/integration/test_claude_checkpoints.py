"""Checkpoints with the real Claude Code CLI (against the fake Anthropic API) driven by the
engine: the model asks for one Bash call that breaks a ref or throws away the user's
uncommitted edits; the engine's after-attempt check puts it back and says so.

Real parts throughout: a git repository under tmp_path, a SQLite state file, the guards
(``GitWorkspace``) and the shadow-git checkpoints, exactly as ``apps.bootstrap`` wires them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from adapters.claude_code import ClaudeCodeAgent
from adapters.files.logs import FileLogs
from adapters.guards import GitWorkspace
from adapters.sqlite.store import SqliteStore
from adapters.system.clock import RandomIds, SystemClock
from orchcore.engine import Engine
from orchcore.records import EventKind
from orchcore.safety import DEFAULT_POLICY
from orchcore.service import create_session, send_command
from orchcore.state import Command, TaskState
from orchcore.tasks import Plan, Task
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_turn, tool_turn
from tests.support import CLAUDE, agent_env, needs_claude
from tests.support import git_in as git

PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [pytest.mark.claude, pytest.mark.integration, needs_claude]


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return agent_env(home, PATH)


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """Two commits on main; app.py then has an uncommitted edit, notes.txt is untracked."""
    work = tmp_path / "work"
    git(tmp_path, env, "init", "-q", "-b", "main", str(work))
    (work / "app.py").write_text("one\n")
    git(work, env, "add", "app.py")
    git(work, env, "commit", "-q", "-m", "one")
    (work / "app.py").write_text("two\n")
    git(work, env, "commit", "-q", "-am", "two")
    (work / "app.py").write_text("uncommitted work\n")
    (work / "notes.txt").write_text("untracked\n")
    return work


def trace(repo: Path, env: Mapping[str, str]) -> tuple[str, str, bytes]:
    return (
        git(repo, env, "for-each-ref"),
        git(repo, env, "stash", "list"),
        (repo / ".git/config").read_bytes(),
    )


def run_engine(
    api: FakeAnthropicAPI, tmp_path: Path, env: Mapping[str, str], repo: Path, command: str
) -> str:
    """Run one task whose model asks for ``command`` in Bash; return the session id."""
    api.play(tool_turn("Bash", {"command": command}), text_turn("done"))
    state = tmp_path / "state"
    store = SqliteStore(str(state / "state.db"))
    clock, ids = SystemClock(), RandomIds()
    plan = Plan("today.md", (Task("t1", "Task t1", instruction="do it"),))
    sid = create_session(store, plan, ids, clock).session.id
    send_command(store, sid, Command.START, clock)
    agent = ClaudeCodeAgent(
        executable=str(CLAUDE),
        base_env=env,
        base_url=api.base_url,
        api_key="sk-test",
        config_dir=str(tmp_path / "claude-config"),
    )
    engine = Engine(
        store,
        agent,
        clock,
        ids,
        FileLogs(str(state / "logs")),
        safety=DEFAULT_POLICY,
        workspace=GitWorkspace(str(repo), str(state / "guards")),
        checkpoints=ShadowGitCheckpoints(str(repo), shadow_dir(str(state), str(repo)), path=PATH),
        agent_path=PATH,
        workdir=str(repo),
        timeout_s=120.0,
    )
    try:
        engine.run(sid)
        run = store.load(sid).run("t1")
        assert run.state is TaskState.FAILED, run
        safety = [e for e in store.events(sid) if e.kind is EventKind.SAFETY]
        assert len(safety) == 1
        return str(safety[0].data["text"])
    finally:
        store.close()


def test_a_ref_file_written_directly_by_claude_is_restored(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    first = git(repo, env, "rev-parse", "HEAD~1").strip()
    second = git(repo, env, "rev-parse", "HEAD").strip()
    before = trace(repo, env)

    # spelled so that no command-text rule sees ".git": only the after-attempt check can catch it
    text = run_engine(api, tmp_path, env, repo, f"d=.gi; echo {first} > ${{d}}t/refs/heads/main")

    assert git(repo, env, "rev-parse", "main").strip() == second
    assert trace(repo, env) == before
    assert "violation caught by refs: refs/heads/main moved" in text
    assert "restored from the checkpoint: refs/heads/main back to" in text
    assert "restored from the checkpoint: refs/heads/main back to" in text
    assert (repo / "app.py").read_text() == "uncommitted work\n"


def test_uncommitted_edits_discarded_by_git_checkout_are_a_violation_and_come_back(
    api: FakeAnthropicAPI, tmp_path: Path, env: dict[str, str], repo: Path
) -> None:
    before = trace(repo, env)

    text = run_engine(api, tmp_path, env, repo, "git checkout -- app.py")

    assert (repo / "app.py").read_text() == "uncommitted work\n"
    assert "uncommitted edits discarded: app.py" in text
    assert "app.py (uncommitted edits)" in text
    assert trace(repo, env) == before
