"""Every refusal is a safety event: `orch run` with the real Claude Code CLI against the fake API.

Each test scripts a model that tries one thing a layer below orch refuses (a PATH
shim, the PreToolUse hook, the CLI's own permission rules) in a real git
repository. The task still completes (a refusal alone fails nothing), the
forbidden thing did not happen, and the refusal shows in `orch status --json`, the
report's Safety section and a notification (the console channel, into a file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_api import FakeAnthropicAPI, text_turn, tool_turn
from tests.support import CLAUDE, ORCH, assert_refusal_shown, needs_claude

pytestmark = [pytest.mark.claude, pytest.mark.integration, needs_claude]

TASKS = """# Tasks - 2026-11-23

## Task 1: Tidy the app
**Type:** backend
**Claude Instruction:**
Tidy app.py and commit it.
"""
IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(repo.parent / "home"), "GIT_CONFIG_NOSYSTEM": "1", **IDENTITY}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def project(tmp_path: Path, api: FakeAnthropicAPI, agent_extra: str = "", executable: Path = CLAUDE) -> Path:
    """A git repository with one commit and an uncommitted change; orch's state and notes outside it."""
    work = tmp_path / "project"
    work.mkdir()
    (tmp_path / "home").mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.name", "t")  # the agent's environment has no identity: a commit would work
    git(work, "config", "user.email", "t@example.com")
    (work / "app.py").write_text("one\n")
    git(work, "add", "app.py")
    git(work, "commit", "-q", "-m", "one")
    (work / "app.py").write_text("uncommitted work\n")
    (work / "tasks.md").write_text(TASKS)
    (work / ".git" / "info" / "exclude").write_text("tasks.md\norch.yaml\n")
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: claude\n"
        f"  executable: {executable}\n"
        f"  base_url: {api.base_url}\n"
        f"  config_dir: {tmp_path / 'claude-config'}\n"
        "  timeout_s: 120\n"
        f"{agent_extra}"
        "paths:\n"
        f"  state_dir: {tmp_path / 'state'}\n"
        "notifications:\n"
        "  channels: [console]\n"
        f"  console_file: {tmp_path / 'notes.log'}\n"
    )
    return work


def orch(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work.parent / "home"),
        "ANTHROPIC_API_KEY": "sk-test",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        [str(ORCH), *args], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def run_one_tool(
    tmp_path: Path, tool: str, tool_input: dict[str, Any], agent_extra: str = "", executable: Path = CLAUDE
) -> Path:
    with FakeAnthropicAPI() as api:
        work = project(tmp_path, api, agent_extra, executable)
        api.play(tool_turn(tool, tool_input), text_turn("I could not do all of it; app.py is tidy."))
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    return work


def assert_shown_everywhere(tmp_path: Path, work: Path, layer: str) -> dict[str, Any]:
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["completed"]  # a refusal alone fails nothing
    row = assert_refusal_shown(tmp_path / "state", "1", layer, cwd=work)
    notes = (tmp_path / "notes.log").read_text()
    told = [line for line in notes.splitlines() if line.endswith(":safety_refusal]")]
    assert len(told) == 1, notes
    assert f"{layer} refused" in told[0]
    assert ":task_completed]" in notes
    return row


def test_a_git_commit_inside_a_compound_command_the_matcher_cannot_see_is_refused_by_the_shim(
    tmp_path: Path,
) -> None:
    command = "echo start && python3 -c \"import subprocess; subprocess.run(['git', 'commit', '-am', 'x'])\""

    work = run_one_tool(tmp_path, "Bash", {"command": command})

    assert git(work, "rev-list", "--count", "--all").strip() == "1"
    row = assert_shown_everywhere(tmp_path, work, "shim")
    assert row["command"] == "git commit -am x"
    assert row["reason"].startswith("forbidden (git-commit)")


def test_a_commit_past_every_deny_rule_is_denied_by_the_hook(tmp_path: Path) -> None:
    work = run_one_tool(tmp_path, "Bash", {"command": "command git -C . commit -am x"})

    assert git(work, "rev-list", "--count", "--all").strip() == "1"
    row = assert_shown_everywhere(tmp_path, work, "hook")
    assert row["command"] == "Bash command git -C . commit -am x"
    assert row["reason"].startswith("orchcore: forbidden (git-commit)")


def test_a_write_the_cli_permission_mode_does_not_grant_is_a_cli_permissions_refusal(
    tmp_path: Path,
) -> None:
    work = run_one_tool(
        tmp_path,
        "Write",
        {"file_path": str(tmp_path / "project" / "new.py"), "content": "x = 1\n"},
        agent_extra="  permission_mode: default\n",
    )

    assert not (work / "new.py").exists()
    row = assert_shown_everywhere(tmp_path, work, "cli-permissions")
    assert row["command"].startswith("Write ")
    assert "haven't granted it yet" in row["reason"]


def test_a_write_the_sandbox_refuses_is_a_sandbox_refusal(tmp_path: Path) -> None:
    from adapters.sandbox import probe_bwrap

    found, why = probe_bwrap()
    if found is None:
        pytest.skip(f"the OS sandbox cannot run here: {why}")
    # not under /tmp: inside the sandbox /tmp is private, so a write there lands nowhere of the user's
    outside = Path(tempfile.mkdtemp(prefix="orch-outside-", dir="/var/tmp"))
    try:
        # a write the command's text does not show: a redirect is refused by the hook first (below)
        target = outside / "marker"
        command = f"python3 -c \"open('{target}', 'w').write('leaked')\""
        work = run_one_tool(tmp_path, "Bash", {"command": command})

        assert not target.exists()
        row = assert_shown_everywhere(tmp_path, work, "sandbox")
        assert "Read-only file system" in row["reason"]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_a_redirect_outside_the_workspace_is_refused_by_the_hook(tmp_path: Path) -> None:
    outside = Path(tempfile.mkdtemp(prefix="orch-outside-", dir="/var/tmp"))
    try:
        work = run_one_tool(tmp_path, "Bash", {"command": f"echo leaked > {outside / 'marker'}"})

        assert not (outside / "marker").exists()
        row = assert_shown_everywhere(tmp_path, work, "hook")
        assert "outside the workspace" in row["reason"]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_a_commit_by_the_real_gits_absolute_path_is_refused_by_the_git_hook(tmp_path: Path) -> None:
    real_git = shutil.which("git", path="/usr/bin:/bin")
    assert real_git is not None
    command = f"python3 -c \"import subprocess; subprocess.run(['{real_git}', 'commit', '-am', 'x'])\""

    work = run_one_tool(tmp_path, "Bash", {"command": command})

    assert git(work, "rev-list", "--count", "--all").strip() == "1"
    assert (work / "app.py").read_text() == "uncommitted work\n"
    row = assert_shown_everywhere(tmp_path, work, "git-hook")
    assert row["command"] == "git commit"


def test_a_call_to_a_tool_the_settings_disallow_is_a_cli_permissions_refusal(tmp_path: Path) -> None:
    work = run_one_tool(
        tmp_path,
        "Bash",
        {"command": f"echo leaked > {tmp_path / 'marker'}"},
        agent_extra="  disallowed_tools: [Bash]\n",
    )

    assert not (tmp_path / "marker").exists()
    row = assert_shown_everywhere(tmp_path, work, "cli-permissions")
    assert row["command"].startswith("Bash echo leaked")
    assert "No such tool available: Bash" in row["reason"]
