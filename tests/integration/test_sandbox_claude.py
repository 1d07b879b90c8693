"""The OS sandbox with the real Claude Code CLI against the fake Anthropic API.

A scripted model asks for what pattern matching lets through: shell writes, moves,
copies and deletes outside the workspace, a symlink out of it, reading a private key
under HOME and orch's ``.env``, a detached ``setsid`` job, rewriting orch's guards.
The project has the README's layout (orch.yaml, ``.env`` and ``.orch/`` inside it)
and every layer is in force as ``orch run`` sets it up. Each escape runs through the
real ``orch run`` and asserts, besides the marker being absent, that the stop shows
as a ``sandbox`` refusal in ``orch status --json`` and ``orch report``. The harmless
task and the config-dir case drive the adapter directly. Everything lives under
/var/tmp, not /tmp: the sandbox's /tmp is private, which would hide a write there
for another reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.claude_code import ClaudeCodeAgent
from adapters.guards import GitWorkspace
from apps.bootstrap import agent_sandbox_for
from apps.settings import load_settings
from orchcore.ports.agent import AgentRequest
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from orchcore.sandbox import SandboxPolicy
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_turn, tool_results, tool_turn
from tests.support import (
    CLAUDE,
    ORCH,
    agent_env,
    assert_refusal_shown,
    needs_claude,
)
from tests.support import (
    EventRecorder as Sink,
)
from tests.support import (
    git_in as git,
)

PATH = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
KEY = "PRIVATE-KEY-3f9c1e"
WEBHOOK_SECRET = "webhook-secret-7d2a90"  # noqa: S105 - a marker, planted to prove it never leaks
VICTIM = "the user's file\n"

pytestmark = [
    pytest.mark.claude,
    pytest.mark.integration,
    needs_claude,
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
    ),
]


@attrs.frozen
class World:
    """A project in the README's layout, a HOME with a key, and a folder outside both."""

    root: Path
    home: Path
    project: Path
    outside: Path
    env: Mapping[str, str]
    sandbox: SandboxPolicy

    @property
    def state_dir(self) -> Path:
        return self.project / ".orch"

    @property
    def guard_dir(self) -> Path:
        return self.state_dir / "guards"

    @property
    def victim(self) -> Path:
        return self.outside / "victim.txt"


@pytest.fixture
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="orch-sandbox-", dir="/var/tmp"))
    home, project, outside = root / "home", root / "project", root / "outside"
    for folder in (home / ".ssh", project, outside):
        folder.mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY}\n")
    (outside / "victim.txt").write_text(VICTIM)
    env = agent_env(home, PATH)
    git(project, env, "init", "-q", "-b", "main")
    (project / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (project / "orch.yaml").write_text("agent:\n  name: claude\npaths:\n  state_dir: .orch\n")
    (project / ".env").write_text(f"ORCH_WEBHOOK_SECRET={WEBHOOK_SECRET}\n")
    (project / ".gitignore").write_text(".orch/\n.env\ntasks.md\n")
    git(project, env, "add", "app.py", "orch.yaml", ".gitignore")
    git(project, env, "commit", "-q", "-m", "one")
    settings = load_settings(cwd=project, environ={})
    sandbox, status = agent_sandbox_for(settings, env)
    assert sandbox is not None, status.describe()
    try:
        yield World(root, home, project, outside, env, sandbox)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


def make_agent(api: FakeAnthropicAPI, world: World) -> ClaudeCodeAgent:
    return ClaudeCodeAgent(
        executable=str(CLAUDE),
        base_env=world.env,
        base_url=api.base_url,
        api_key="sk-test",
        config_dir=str(world.root / "claude-config"),
    )


def request(world: World, **fields: Any) -> AgentRequest:
    """A request as the engine makes it: the policy, the guards' environment, the sandbox."""
    workspace = GitWorkspace(str(world.project), str(world.guard_dir))
    values: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": 1,
        "prompt": "do the task",
        "workdir": str(world.project),
        "log_path": str(world.state_dir / "logs" / "t1-1.log"),
        "timeout_s": 90.0,
        "safety": DEFAULT_POLICY,
        "env": workspace.guard_env(DEFAULT_POLICY, PATH),
        "sandbox": world.sandbox,
    } | fields
    return AgentRequest(**values)


def sent_to_the_model(api: FakeAnthropicAPI) -> str:
    """Every byte the CLI sent the API, as text."""
    return "\n".join(json.dumps(r.body) for r in api.requests)


TASKS = "# Tasks - 2026-11-23\n\n## Task 1: Tidy the app\n**Claude Instruction:**\nTidy app.py.\n"


def orch_run(api: FakeAnthropicAPI, world: World, command: str) -> str:
    """`orch run` of a one-task file whose scripted model asks for one Bash ``command``.

    The real CLI as a user runs it, in the README's layout (orch.yaml, ``.env`` and the
    state dir ``.orch/`` inside the project); the task completes (a refusal fails nothing).
    Returns what the agent was told the command did (its tool result, as the model got it).
    """
    (world.project / "orch.yaml").write_text(
        "agent:\n"
        "  name: claude\n"
        f"  executable: {CLAUDE}\n"
        f"  base_url: {api.base_url}\n"
        f"  config_dir: {world.root / 'claude-config'}\n"
        "  timeout_s: 90\n"
        "paths:\n"
        "  state_dir: .orch\n"
    )
    (world.project / "tasks.md").write_text(TASKS)
    api.play(tool_turn("Bash", {"command": command}), text_turn("done"))
    run = orch(world, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    status = json.loads(orch(world, "status", "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["completed"], status
    (answer,) = tool_results(api.main_turns[-1])
    return json.dumps(answer)


def orch(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**world.env, "ANTHROPIC_API_KEY": "sk-test"}
    return subprocess.run(
        [str(ORCH), *args],
        cwd=world.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_sandbox_refusal_shown(world: World, *evidence: str) -> None:
    """The sandbox's refusal shows in `orch status --json` and the report, with one of ``evidence``."""
    assert_refusal_shown(world.state_dir, "1", "sandbox", cwd=world.project)
    status = json.loads(orch(world, "status", "--json").stdout)
    reasons = [r["reason"] for r in status["safety"] if r["layer"] == "sandbox"]
    assert any(word in reason for reason in reasons for word in evidence), reasons
    assert status["sandbox"] == "sandbox: on (bubblewrap, network open)"


READ_ONLY = ("Read-only file system",)


def test_a_redirection_outside_the_workspace_is_refused_by_the_hook_before_it_runs(
    api: FakeAnthropicAPI, world: World
) -> None:
    told = orch_run(api, world, f"echo pwned > {world.outside}/redirect.txt")
    assert not (world.outside / "redirect.txt").exists()
    assert "write outside the workspace" in told
    assert_refusal_shown(world.state_dir, "1", "hook", cwd=world.project)


def test_a_write_outside_the_workspace_that_the_command_does_not_show_is_refused_by_the_file_system(
    api: FakeAnthropicAPI, world: World
) -> None:
    target = world.outside / "written.txt"
    told = orch_run(api, world, f"python3 -c \"open('{target}', 'w').write('pwned')\"")
    assert not target.exists()
    assert "Read-only file system" in told
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_mv_of_a_file_outside_the_workspace_leaves_it_where_it_was(
    api: FakeAnthropicAPI, world: World
) -> None:
    orch_run(api, world, f"mv {world.victim} ./stolen.txt")
    assert world.victim.read_text() == VICTIM  # (mv may leave a copy: reading outside is allowed)
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_cp_out_of_the_workspace_writes_nothing(api: FakeAnthropicAPI, world: World) -> None:
    orch_run(api, world, f"cp app.py {world.outside}/copied.py")
    assert not (world.outside / "copied.py").exists()
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_tee_outside_the_workspace_writes_nothing(api: FakeAnthropicAPI, world: World) -> None:
    orch_run(api, world, f"echo pwned | tee {world.outside}/tee.txt")
    assert not (world.outside / "tee.txt").exists()
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_python_writing_outside_the_workspace_is_refused(api: FakeAnthropicAPI, world: World) -> None:
    orch_run(api, world, f"python3 -c \"open('{world.outside}/py.txt', 'w').write('pwned')\"")
    assert not (world.outside / "py.txt").exists()
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_a_delete_outside_the_workspace_the_hook_cannot_see_deletes_nothing(
    api: FakeAnthropicAPI, world: World
) -> None:
    orch_run(api, world, f"python3 -c \"import os; os.remove('{world.victim}')\"")
    assert world.victim.read_text() == VICTIM
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_a_symlink_out_of_the_workspace_does_not_carry_a_write_through(
    api: FakeAnthropicAPI, world: World
) -> None:
    orch_run(api, world, f"ln -s {world.victim} link.txt && echo pwned > link.txt")
    assert world.victim.read_text() == VICTIM
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_a_private_key_under_home_is_not_there_to_read(api: FakeAnthropicAPI, world: World) -> None:
    told = orch_run(api, world, "cat ~/.ssh/id_ed25519")
    assert "No such file or directory" in told
    assert KEY not in sent_to_the_model(api)
    assert_sandbox_refusal_shown(world, f"hidden by the sandbox: {world.home}/.ssh/id_ed25519")


def test_orchs_env_file_in_the_project_reads_as_empty(api: FakeAnthropicAPI, world: World) -> None:
    told = orch_run(api, world, "cat .env; grep -r ORCH_WEBHOOK_SECRET . ; echo end-of-search")
    assert "end-of-search" in told
    assert WEBHOOK_SECRET not in sent_to_the_model(api)
    assert (world.project / ".env").read_text() == f"ORCH_WEBHOOK_SECRET={WEBHOOK_SECRET}\n"
    assert_sandbox_refusal_shown(world, f"hidden by the sandbox: {world.project}/.env")


def test_orchs_state_dir_shows_nothing_but_the_guards(api: FakeAnthropicAPI, world: World) -> None:
    told = orch_run(api, world, "ls -AR .orch; echo ---; cat .orch/state.db")
    listing, _, read = told.partition("---")
    assert "state.db" not in listing
    assert "guards" in listing  # the shims and hooks still run: shown read-only
    assert "No such file or directory" in read
    assert "SQLite format" not in sent_to_the_model(api)
    assert_sandbox_refusal_shown(world, f"hidden by the sandbox: {world.state_dir}")


def test_the_agent_cannot_rewrite_orchs_guard_shims(api: FakeAnthropicAPI, world: World) -> None:
    shim = world.guard_dir / "bin" / "git"
    orch_run(api, world, f"echo 'exec /usr/bin/git \"$@\"' > {shim}; rm -rf {world.guard_dir}")
    shim_after = shim.read_text()
    assert "orchcore" in shim_after
    assert "exec /usr/bin/git" not in shim_after
    assert_sandbox_refusal_shown(world, *READ_ONLY)


def test_a_detached_setsid_job_does_not_outlive_the_task(api: FakeAnthropicAPI, world: World) -> None:
    told = orch_run(api, world, "setsid nohup sleep 3137 > /dev/null 2>&1 < /dev/null & echo started")
    assert "started" in told
    assert sleepers("3137") == []
    assert_sandbox_refusal_shown(world, "killed 1 process the attempt left running")


def sleepers(seconds: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", seconds.encode()]:
            found.append(int(cmdline.parent.name))
    return found


def test_a_harmless_task_edits_a_file_and_runs_its_tests_inside_the_sandbox(
    api: FakeAnthropicAPI, world: World
) -> None:
    (world.project / "test_app.py").write_text(
        "from app import add\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    )
    api.play(
        tool_turn("Read", {"file_path": str(world.project / "app.py")}),
        tool_turn(
            "Edit",
            {"file_path": str(world.project / "app.py"), "old_string": "a - b", "new_string": "a + b"},
        ),
        tool_turn("Bash", {"command": "python3 -m pytest -q -p no:cacheprovider test_app.py"}),
        text_turn("fixed add and the tests pass"),
    )
    sink = Sink()

    result = make_agent(api, world).run(request(world), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert "a + b" in (world.project / "app.py").read_text()
    answers = sink.tool_results()
    assert [a.data["is_error"] for a in answers] == [False, False, False], [a.text for a in answers]
    assert "1 passed" in answers[2].text


def test_without_a_config_dir_the_cli_keeps_its_state_under_home(api: FakeAnthropicAPI, world: World) -> None:
    agent = ClaudeCodeAgent(
        executable=str(CLAUDE), base_env=world.env, base_url=api.base_url, api_key="sk-test"
    )
    api.play(tool_turn("Bash", {"command": "echo hello > greeting.txt"}), text_turn("done"))
    sink = Sink()

    result = agent.run(request(world), sink)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert (world.project / "greeting.txt").read_text() == "hello\n"
    assert (world.home / ".claude").is_dir()
