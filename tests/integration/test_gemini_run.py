"""`orch run` with ``agent: {name: gemini}``: the real Gemini CLI against the fake API, end to end.

The real ``orch`` a user runs, in a real git repository with orch's state outside it and
every layer in force as ``orch run`` sets it up (the hook in the CLI's settings, the
workspace guards, the OS sandbox where bubblewrap runs). Each test asserts what a user
sees: the task's state, the file the agent wrote, and a refusal in ``orch status --json``,
the report's Safety section and a notification.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini_api import (
    GEMINI,
    Fail,
    FakeGeminiAPI,
    Step,
    Usage,
    call_turn,
    needs_gemini,
    shell_turn,
    text_turn,
)
from tests.support import ORCH, assert_refusal_shown

pytestmark = [pytest.mark.gemini, pytest.mark.integration, needs_gemini]

KEY = "fake-gemini-key-5b1e"
TASKS = """# Tasks - 2026-12-02

## Task 1: Write the greeting
**Type:** backend
**Claude Instruction:**
Create hello.txt saying hello, then commit it.
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


@pytest.fixture
def api() -> Iterator[FakeGeminiAPI]:
    with FakeGeminiAPI() as server:
        yield server


def project(tmp_path: Path, api: FakeGeminiAPI, agent_extra: str = "") -> Path:
    """A git repository with one commit pushed to a bare origin and an uncommitted change; state outside."""
    work, origin = tmp_path / "project", tmp_path / "origin.git"
    work.mkdir()
    (tmp_path / "home").mkdir()
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.name", "t")  # the agent could commit, were it not stopped
    git(work, "config", "user.email", "t@example.com")
    (work / "app.py").write_text("one\n")
    git(work, "add", "app.py")
    git(work, "commit", "-q", "-m", "one")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    (work / "app.py").write_text("uncommitted work\n")
    (work / "tasks.md").write_text(TASKS)
    (work / ".git" / "info" / "exclude").write_text("tasks.md\norch.yaml\n")
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: gemini\n"
        f"  executable: {GEMINI}\n"
        f"  base_url: {api.base_url}\n"
        "  max_retries: 0\n"
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
        "GEMINI_API_KEY": KEY,
        "GIT_CONFIG_NOSYSTEM": "1",
        **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ},  # this checkout's orch
    }
    return subprocess.run(
        [str(ORCH), *args], cwd=work, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def run(tmp_path: Path, api: FakeGeminiAPI, *steps: Step, agent_extra: str = "") -> Path:
    work = project(tmp_path, api, agent_extra)
    api.play(*steps)
    done = orch(work, "run", "tasks.md", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    return work


def status(work: Path) -> dict[str, Any]:
    done = orch(work, "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def assert_shown_everywhere(tmp_path: Path, work: Path, layer: str) -> dict[str, Any]:
    assert [t["state"] for t in status(work)["tasks"]] == ["completed"]  # a refusal alone fails nothing
    row = assert_refusal_shown(tmp_path / "state", "1", layer, cwd=work)
    notes = (tmp_path / "notes.log").read_text()
    told = [line for line in notes.splitlines() if line.endswith(":safety_refusal]")]
    assert told, notes
    assert f"{layer} refused" in told[0]
    return row


def commits(work: Path) -> int:
    return int(git(work, "rev-list", "--count", "--all"))


def test_orch_run_with_gemini_completes_a_task_the_cli_did_with_its_file_tool(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    work = project(tmp_path, api)
    api.play(
        call_turn("write_file", {"file_path": str(work / "hello.txt"), "content": "hello\n"}),
        text_turn("Created hello.txt."),
    )

    done = orch(work, "run", "tasks.md", "--auto-approve")

    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "hello.txt").read_text() == "hello\n"
    shown = status(work)
    assert [t["state"] for t in shown["tasks"]] == ["completed"], shown
    report = orch(work, "report").stdout
    # two model turns of 1000 in / 50 out at gemini-2.5-flash's 0.30 / 2.50 USD per million
    assert "- Tokens: 2000 in, 100 out\n" in report
    assert "- Cost: $0.0009\n" in report
    assert KEY not in report + done.stdout + done.stderr
    for log in (tmp_path / "state").rglob("*.log"):
        assert KEY not in log.read_text(errors="replace"), log
    prompt = api.main_turns[0]
    assert any(
        "Create hello.txt saying hello" in p.get("text", "") for c in prompt.contents for p in c["parts"]
    )


def test_a_transient_5xx_fails_the_attempt_retryable_and_the_next_attempt_completes_the_task(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    work = run(
        tmp_path,
        api,
        Fail(503, "fake overloaded"),
        shell_turn("echo hello > hello.txt"),
        text_turn("done"),
        agent_extra="  retry_delay_s: 0.5\n",
    )

    assert (work / "hello.txt").read_text() == "hello\n"
    task = status(work)["tasks"][0]
    assert task["state"] == "completed", task
    assert task["attempts"] == 2, task


def test_a_commit_is_denied_by_the_hook_and_shown_as_a_safety_refusal(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    work = run(
        tmp_path,
        api,
        shell_turn("echo hello > hello.txt && git commit -am greeting"),
        text_turn("could not commit"),
    )

    assert commits(work) == 1
    assert (work / "app.py").read_text() == "uncommitted work\n"
    row = assert_shown_everywhere(tmp_path, work, "hook")
    assert row["reason"].startswith("orchcore: forbidden (git-commit)")
    assert row["command"] == "run_shell_command echo hello > hello.txt && git commit -am greeting"
    assert not (work / "hello.txt").exists()  # nothing of the compound command ran


def test_a_push_is_denied_by_the_hook_and_shown_as_a_safety_refusal(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    work = run(tmp_path, api, shell_turn("git push origin main"), text_turn("could not push"))

    assert git(work, "--git-dir", str(tmp_path / "origin.git"), "rev-list", "--count", "--all").strip() == "1"
    row = assert_shown_everywhere(tmp_path, work, "hook")
    assert row["reason"].startswith("orchcore: forbidden (git-push)")


def test_a_commit_the_matcher_cannot_see_is_refused_by_the_shim_and_shown(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    command = "python3 -c \"import subprocess; subprocess.run(['git', 'commit', '-am', 'x'])\""

    work = run(tmp_path, api, shell_turn(command), text_turn("done"))

    assert commits(work) == 1
    row = assert_shown_everywhere(tmp_path, work, "shim")
    assert row["command"] == "git commit -am x"


def test_a_shell_write_outside_the_workspace_is_refused_by_the_sandbox_and_shown(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    from adapters.sandbox import probe_bwrap

    found, why = probe_bwrap()
    if found is None:
        pytest.skip(f"the OS sandbox cannot run here: {why}")
    # not under /tmp: inside the sandbox /tmp is private, so a write there lands nowhere of the user's
    outside = Path(tempfile.mkdtemp(prefix="orch-outside-", dir="/var/tmp"))
    try:
        # a write the command's text does not show (a redirect would be refused by the hook first)
        target = outside / "marker"
        command = f"python3 -c \"open('{target}', 'w').write('leaked')\""
        run(tmp_path, api, shell_turn(command), text_turn("done"))

        assert not target.exists()
        row = assert_shown_everywhere(tmp_path, tmp_path / "project", "sandbox")
        assert "Read-only file system" in row["reason"]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_a_shell_redirect_outside_the_workspace_is_refused_by_the_hook_before_it_runs(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    outside = Path(tempfile.mkdtemp(prefix="orch-outside-", dir="/var/tmp"))
    try:
        run(tmp_path, api, shell_turn(f"echo leaked > {outside / 'marker'}"), text_turn("done"))

        assert not (outside / "marker").exists()
        row = assert_shown_everywhere(tmp_path, tmp_path / "project", "hook")
        assert "outside the workspace" in row["reason"]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_a_commit_by_the_real_gits_absolute_path_is_caught_by_the_refs_check_and_undone(
    tmp_path: Path, api: FakeGeminiAPI
) -> None:
    # the CLI resets core.hooksPath for every command it runs, so orch's git hooks do not
    # reach it; the commit happens, and the refs compared after the attempt catch it
    real_git = shutil.which("git", path="/usr/bin:/bin")
    assert real_git is not None
    command = f"python3 -c \"import subprocess; subprocess.run(['{real_git}', 'commit', '-am', 'x'])\""
    work = project(tmp_path, api)
    head = git(work, "rev-parse", "HEAD")
    api.play(shell_turn(command), text_turn("done"))

    orch(work, "run", "tasks.md", "--auto-approve")

    shown = status(work)
    assert git(work, "rev-parse", "HEAD") == head  # the branch is back where it was
    assert (work / "app.py").read_text() == "uncommitted work\n"  # and the user's change is kept
    layers = {row["layer"] for row in shown["safety"]}
    assert "refs" in layers, shown["safety"]
    assert [t["state"] for t in shown["tasks"]] != ["completed"], shown


def test_crossing_the_daily_budget_mid_run_stops_gemini_before_its_next_turn(
    api: FakeGeminiAPI, tmp_path: Path
) -> None:
    # the first response: 200,000 prompt tokens, $0.06025 at gemini-2.5-flash's $0.30/M in, $2.50/M out
    big = Usage(prompt_tokens=200_000, output_tokens=100)
    work = project(
        tmp_path, api, "budget:\n  max_daily_cost_usd: 0.05\n  timezone: UTC\n"
    )  # a top-level section
    api.play(shell_turn("sleep 60", big), text_turn("done", big))
    started = time.monotonic()
    done = orch(work, "run", "tasks.md", "--auto-approve")
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "budget reached" in done.stdout
    assert took < 45, "stopped while its tool ran: the response's usage reached the budget mid-run"
    assert len(api.main_turns) == 1, "the CLI never asked for a second turn"
    (task,) = status(work)["tasks"]
    assert task["state"] == "interrupted"
    assert "limit of $0.05 is reached" in task["reason"]
