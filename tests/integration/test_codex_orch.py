"""`orch run` with `agent: {name: codex}`: the real orch CLI driving the real Codex CLI against the
fake Responses API on loopback, in the OS sandbox where bubblewrap works (as a user runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_responses_api import Fail, FakeResponsesAPI, exec_turn, text_turn
from tests.support import CODEX, assert_refusal_shown, needs_codex

ORCH = str(Path(sys.executable).with_name("orch"))
KEY = "sk-codex-secret-4242"

pytestmark = [pytest.mark.codex, pytest.mark.integration, needs_codex]

TASKS = """# Tasks - 2026-12-02

## Task 1: Say hello
**Deliverables:**
- hello.txt
**Claude Instruction:**
Create hello.txt saying hello.

---

## Task 2: Then something else
**Depends On:** 1
**Claude Instruction:**
Anything.
"""


def project(tmp_path: Path, api: FakeResponsesAPI, extra: str = "") -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "tasks.md").write_text(TASKS)
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: codex\n"
        f"  executable: {CODEX}\n"
        "  model: fake-model\n"
        f"  base_url: {api.base_url}\n"
        "  price: {input: '2', output: '8', cached_input: '0.5'}\n"
        "  timeout_s: 120\n"
        f"{extra}"
    )
    return work


def orch(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = work.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "OPENAI_API_KEY": KEY,
        "ORCH_STATE_DIR": str(work.parent / "state"),
    }
    return subprocess.run(
        [ORCH, *args], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_orch_runs_codex_to_the_end_with_the_file_its_command_wrote_and_the_cost_it_priced(
    tmp_path: Path,
) -> None:
    with FakeResponsesAPI() as api:
        work = project(tmp_path, api)
        api.play(exec_turn("echo hello > hello.txt && env"), text_turn("done"), text_turn("nothing to do"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
        turns = api.turns
    assert run.returncode == 0, run.stdout + run.stderr
    sent_back = turns[1].function_outputs()
    assert (work / "hello.txt").read_text() == "hello\n"
    status = json.loads(orch(work, "status", "--json").stdout)
    # task 1: two model responses of 1000 in / 50 out at $2 / $8 per million; task 2: one
    assert [(t["state"], t["cost_usd"]) for t in status["tasks"]] == [
        ("completed", "0.0048"),
        ("completed", "0.0024"),
    ]
    assert sent_back
    assert "Process exited with code 0" in sent_back[0]
    assert KEY not in sent_back[0]  # the commands Codex runs never see its key
    logs = orch(work, "logs", "-n", "500", "--json").stdout
    assert "hello.txt" in logs
    assert KEY not in logs
    for stored in (work.parent / "state").rglob("*"):  # the database, the task logs
        assert not stored.is_file() or KEY.encode() not in stored.read_bytes(), stored


def test_a_5xx_past_the_clis_own_retries_is_retried_by_orch_after_a_backoff(tmp_path: Path) -> None:
    with FakeResponsesAPI() as api:
        work = project(tmp_path, api, extra="  max_retries: 0\n  retry_delay_s: 1\n")
        api.play(Fail(500, "fake internal error"), text_turn("done"), text_turn("done too"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == [("completed", 2), ("completed", 1)]
    events = json.loads(orch(work, "logs", "-n", "500", "--json").stdout)
    first = next(e for e in events if e["kind"] == "task_finished")
    assert first["data"]["state"] == "interrupted"
    assert "retry 2 of 3" in first["data"]["reason"]


def test_a_forbidden_commit_in_an_orch_run_changes_nothing_and_shows_as_a_safety_event(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    git_env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    with FakeResponsesAPI() as api:
        work = project(tmp_path, api)
        for args in (
            ("init", "-q", "-b", "main"),
            ("add", "tasks.md"),
            ("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one"),
        ):
            subprocess.run(["git", *args], cwd=work, env=git_env, check=True, timeout=30)
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=work, env=git_env, capture_output=True, text=True, check=True
        ).stdout
        api.play(
            exec_turn("echo hello > hello.txt && git commit -qam sneaky"), text_turn("done"), text_turn("ok")
        )
        orch(work, "run", "tasks.md", "--auto-approve")
    after = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, env=git_env, capture_output=True, text=True, check=True
    ).stdout
    assert after == head
    # the shim refuses it below the agent; orch's stream guard, which reads each command as a
    # typed ToolCall, may see it first and stop the agent: either way it is a safety event
    status = json.loads(orch(work, "status", "--json").stdout)
    rows = [r for r in status["safety"] if r["task"] == "1" and "git commit" in r["command"]]
    assert {r["layer"] for r in rows} & {"shim", "stream-guard"}, status["safety"]
    report = orch(work, "report").stdout
    assert "git commit" in report.split("\n## Safety\n", 1)[1]


def test_orch_run_without_a_key_says_what_to_set_and_starts_nothing(tmp_path: Path) -> None:
    with FakeResponsesAPI() as api:
        work = project(tmp_path, api)
        home = tmp_path / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "ORCH_STATE_DIR": str(tmp_path / "state"),
        }
        run = subprocess.run(
            [ORCH, "run", "tasks.md", "--auto-approve"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert api.requests == []
    assert run.returncode != 0
    assert "OPENAI_API_KEY" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_a_write_outside_the_workspace_in_an_orch_run_is_refused_by_the_sandbox_and_shown(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.txt"
    with FakeResponsesAPI() as api:
        work = project(tmp_path, api)
        api.play(exec_turn(f"echo pwned > {outside}"), text_turn("done"), text_turn("ok"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr  # refused, told to the model: the task goes on
    assert not outside.exists()
    assert_refusal_shown(tmp_path / "state", "1", "sandbox", cwd=work)
