"""Claude Code through the SSH executor: the pinned CLI runs on the host (a real sshd on loopback)
against the fake Anthropic API; the workspace goes there and back, the safety hook and the git
guards refuse a commit there, a cancel leaves no process there, and a dropped connection fails
the attempt as retryable so the next one completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.claude_code import ClaudeCodeAgent
from adapters.guards import GitWorkspace
from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from orchcore.ports.agent import AgentEvent, AgentRequest, Tick, ToolCall
from orchcore.records import Outcome
from orchcore.safety import DEFAULT_POLICY
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_turn, tool_results, tool_turn
from tests.sshd import Sshd
from tests.support import CLAUDE, agent_env, needs_claude
from tests.support import EventRecorder as Sink
from tests.support import git_in as git

pytestmark = [pytest.mark.integration, pytest.mark.claude, needs_claude]

PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


def executor(sshd: Sshd, tmp_path: Path, **options: Any) -> SshExecutor:
    target = SshTarget(
        host="127.0.0.1",
        port=sshd.port,
        user=sshd.user,
        key_file=sshd.key_file,
        known_hosts=sshd.known_hosts,
        backoff_s=0.2,
    )
    return SshExecutor(target, remote_dir=str(tmp_path / "remote"), **options)


def agent(api: FakeAnthropicAPI, tmp_path: Path, on: SshExecutor) -> ClaudeCodeAgent:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return ClaudeCodeAgent(
        executable=str(CLAUDE),
        base_env=agent_env(home, PATH),
        base_url=api.base_url,
        api_key="sk-test",
        config_dir=str(tmp_path / "claude-config"),
        executor=on,
    )


def request(work: Path, tmp_path: Path, attempt: int = 1, **fields: Any) -> AgentRequest:
    values: dict[str, Any] = {
        "session_id": "s1",
        "task_id": "t1",
        "attempt": attempt,
        "prompt": "do the task",
        "workdir": str(work),
        "log_path": str(tmp_path / "logs" / f"t1-{attempt}.log"),
        "timeout_s": 90.0,
    } | fields
    return AgentRequest(**values)


def running(sshd: Sshd, token: str) -> list[str]:
    return [
        line
        for line in sshd.run("ps -eo stat=,args=").splitlines()
        if token in line and "ps -eo" not in line and not line.startswith("Z")
    ]


def gone(sshd: Sshd, token: str, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while running(sshd, token) and time.monotonic() < deadline:
        time.sleep(0.2)
    return running(sshd, token) == []


def test_claude_completes_a_task_on_the_host_and_its_files_come_back(
    api: FakeAnthropicAPI, sshd: Sshd, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.txt").write_text("from here\n")
    api.play(
        tool_turn("Bash", {"command": "cat in.txt > out.txt && pwd > where.txt"}),
        text_turn("done"),
    )
    sink = Sink()
    on = executor(sshd, tmp_path)
    try:
        result = agent(api, tmp_path, on).run(request(work, tmp_path), sink)
    finally:
        on.close()
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.cost_usd is not None
    assert result.cost_usd > 0
    assert (work / "out.txt").read_text() == "from here\n"
    assert (work / "where.txt").read_text().startswith(str(tmp_path / "remote")), "it ran in the host's copy"
    assert [e.kind for e in sink.events if e.kind in ("init", "tool_use", "tool_result", "result")] == [
        "init",
        "tool_use",
        "tool_result",
        "result",
    ]
    log = (tmp_path / "logs" / "t1-1.log").read_text().splitlines()
    assert log[-1].startswith('{"type":"result"'), "the stream came back line by line into the log"


def test_a_commit_on_the_host_is_refused_by_the_hook_and_by_the_git_shim_there(
    api: FakeAnthropicAPI, sshd: Sshd, tmp_path: Path
) -> None:
    env = agent_env(tmp_path / "home", PATH)
    (tmp_path / "home").mkdir()
    work = tmp_path / "work"
    git(tmp_path, env, "init", "-q", "-b", "main", str(work))
    (work / "app.py").write_text("one\n")
    git(work, env, "add", "app.py")
    git(work, env, "commit", "-q", "-m", "one")
    (work / "app.py").write_text("changed\n")
    guard_dir = tmp_path / "guard"
    workspace = GitWorkspace(str(work), str(guard_dir))
    hidden = "python3 -c \"import subprocess; subprocess.run(['git', 'commit', '-qam', 'x'])\""
    api.play(
        tool_turn("Bash", {"command": "git commit -qam sneaky"}),  # the hook sees this one
        tool_turn("Bash", {"command": hidden}),  # only the git shim on the host sees this one
        text_turn("done"),
    )
    on = executor(sshd, tmp_path, guard_dir=str(guard_dir), guard_python=sys.executable)
    guarded = request(work, tmp_path, safety=DEFAULT_POLICY, env=workspace.guard_env(DEFAULT_POLICY, PATH))
    sink = Sink()
    try:
        result = agent(api, tmp_path, on).run(guarded, sink)
    finally:
        on.close()
    assert result.outcome is Outcome.SUCCEEDED, result  # a refusal is an answer to the model
    hook, shim = sink.tool_results()
    assert hook.text.startswith("orchcore: forbidden (git-commit)"), hook.text
    # the shim, though the CLI's Bash rebuilds PATH from the host account's profile (its shell
    # snapshot, or a login shell): CLAUDE_ENV_FILE puts the run's PATH back before each command
    assert shim.text.startswith("orchcore: forbidden (git-commit)"), shim.text
    (sent_back,) = tool_results(api.main_turns[1])
    assert sent_back["is_error"] is True
    assert git(work, env, "rev-list", "--count", "--all").strip() == "1", "no commit was made on the host"
    assert (work / "app.py").read_text() == "changed\n"


def test_a_cancel_kills_the_cli_and_its_tool_on_the_host(
    api: FakeAnthropicAPI, sshd: Sshd, tmp_path: Path
) -> None:
    token = f"{time.time_ns() % 10**9}"
    work = tmp_path / "work"
    work.mkdir()
    api.play(tool_turn("Bash", {"command": f"sleep 3600.{token}"}), text_turn("never"))
    seen_tool: list[float] = []

    def cancel_once_the_tool_runs(event: AgentEvent) -> str | None:
        if isinstance(event, ToolCall):
            seen_tool.append(time.monotonic())
        if isinstance(event, Tick) and seen_tool and running(sshd, token):
            return "cancelled by the user"
        return None

    on = executor(sshd, tmp_path)
    try:
        result = agent(api, tmp_path, on).run(request(work, tmp_path), cancel_once_the_tool_runs)
    finally:
        on.close()
    assert result.outcome is Outcome.STOPPED, result
    assert result.reason == "cancelled by the user"
    assert gone(sshd, token), running(sshd, token)
    assert gone(sshd, str(CLAUDE.parent.parent)), "the CLI itself is gone from the host"


def test_a_dropped_connection_fails_retryable_kills_the_remote_run_and_the_next_attempt_completes(
    api: FakeAnthropicAPI, sshd: Sshd, tmp_path: Path
) -> None:
    token = f"{time.time_ns() % 10**9}"
    work = tmp_path / "work"
    work.mkdir()
    api.play(tool_turn("Bash", {"command": f"sleep 3600.{token}"}))
    dropped: list[bool] = []

    def drop_once_the_tool_runs(event: AgentEvent) -> str | None:
        if isinstance(event, Tick) and not dropped and running(sshd, token):
            dropped.append(True)
            sshd.drop_connections()
        return None

    on = executor(sshd, tmp_path)
    claude = agent(api, tmp_path, on)
    try:
        first = claude.run(request(work, tmp_path, 1), drop_once_the_tool_runs)
        assert first.outcome is Outcome.FAILED, first
        assert first.retryable
        assert "lost" in first.reason
        assert gone(sshd, token), running(sshd, token)
        api.play(tool_turn("Bash", {"command": "echo again > again.txt"}), text_turn("done"))
        second = claude.run(request(work, tmp_path, 2), Sink())
    finally:
        on.close()
    assert second.outcome is Outcome.SUCCEEDED, second
    assert (work / "again.txt").read_text() == "again\n"


def test_orch_run_with_claude_on_an_ssh_host_completes_the_task_with_its_guards_there(
    api: FakeAnthropicAPI, sshd: Sshd, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "tasks.md").write_text(
        "# Tasks - 2026-12-02\n\n## Task 1: Write\n**Claude Instruction:**\nwrite hello.txt\n"
    )
    executor_section = {
        "kind": "ssh",
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key_file": sshd.key_file,
        "known_hosts": sshd.known_hosts,
        "remote_dir": str(tmp_path / "remote"),
        "guard_python": sys.executable,
    }
    config = {
        "agent": {
            "name": "claude",
            "executable": str(CLAUDE),
            "base_url": api.base_url,
            "config_dir": str(tmp_path / "claude-config"),
            "timeout_s": 120,
            "max_attempts": 1,
            "executor": executor_section,
        },
        "paths": {"state_dir": ".orch"},
    }
    (project / "orch.yaml").write_text(json.dumps(config))  # JSON is YAML
    api.play(
        tool_turn("Bash", {"command": "git commit -qam sneaky"}),
        tool_turn("Bash", {"command": "echo hello > hello.txt"}),
        text_turn("done"),
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "ANTHROPIC_API_KEY": "sk-test"}
    orch = str(Path(sys.executable).with_name("orch"))
    run = subprocess.run(
        [orch, "run", "tasks.md", "--auto-approve"], cwd=project, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "completed" in run.stdout
    assert (project / "hello.txt").read_text() == "hello\n"
    (first, _) = [tool_results(turn) for turn in api.main_turns[1:3]]
    assert first[0]["is_error"] is True, "the hook refused the commit on the host"
