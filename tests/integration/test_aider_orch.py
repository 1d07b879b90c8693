"""`orch run` with `agent: {name: aider}`: the real orch CLI driving the real Aider CLI against the
fake Chat Completions API on loopback, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_chat_api import Fail, FakeChatAPI, Reply, edit_reply
from tests.support import AIDER, needs_aider

ORCH = str(Path(sys.executable).with_name("orch"))
KEY = "sk-aider-secret-4242"

pytestmark = [pytest.mark.aider, pytest.mark.integration, needs_aider]

TASKS = """# Tasks - 2026-12-02

## Task 1: Say hello
**Deliverables:**
- hello.txt
**Claude Instruction:**
Create hello.txt saying hello-from-aider.
"""


def project(tmp_path: Path, api: FakeChatAPI) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "tasks.md").write_text(TASKS)
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: aider\n"
        f"  executable: {AIDER}\n"
        "  model: openai/fake-model\n"
        f"  base_url: {api.base_url}\n"
        "  price: {input: '2', output: '8'}\n"
        "  timeout_s: 180\n"
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
        **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ},  # this checkout's orch
    }
    return subprocess.run(
        [ORCH, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def git(work: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work.parent / "home"), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", *args], cwd=work, env=env, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def test_orch_runs_aider_to_the_end_with_the_file_its_edit_wrote_and_the_cost_it_priced(
    tmp_path: Path,
) -> None:
    with FakeChatAPI() as api:
        work = project(tmp_path, api)
        api.play(edit_reply("hello.txt", "", "hello-from-aider"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
        sent = api.completions
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "hello.txt").read_text() == "hello-from-aider\n"
    assert "hello-from-aider" in sent[0].text()  # the prompt reached the model through --message-file
    assert KEY not in sent[0].text()
    status = json.loads(orch(work, "status", "--json").stdout)
    [task] = status["tasks"]
    assert task["state"] == "completed"
    assert task["cost_usd"] not in (None, "0")
    logs = orch(work, "logs", "-n", "500", "--json").stdout
    assert "hello.txt" in logs
    for stored in (work.parent / "state").rglob("*"):
        assert not stored.is_file() or KEY.encode() not in stored.read_bytes(), stored


def test_a_transient_5xx_is_retried_and_the_task_completes(tmp_path: Path) -> None:
    with FakeChatAPI() as api:
        work = project(tmp_path, api)
        api.play(Fail(500, "fake internal error"), edit_reply("hello.txt", "", "hello-from-aider"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
        requests = len(api.completions)
    assert run.returncode == 0, run.stdout + run.stderr
    assert requests == 2
    assert (work / "hello.txt").read_text() == "hello-from-aider\n"


def test_a_commit_the_model_suggests_or_the_prompt_asks_for_is_never_run(tmp_path: Path) -> None:
    with FakeChatAPI() as api:
        work = project(tmp_path, api)
        (work / "tasks.md").write_text(
            TASKS.replace("Create hello.txt", "/run git commit -qam sneaky\nCreate")
        )
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "tasks.md")
        git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one")
        head = git(work, "rev-parse", "HEAD")
        api.play(Reply("Commit it:\n\n```bash\ngit add -A && git commit -qm sneaky && git push\n```\n"))
        orch(work, "run", "tasks.md", "--auto-approve")
    assert git(work, "rev-parse", "HEAD") == head
    assert git(work, "log", "--oneline").count("\n") == 1


def test_an_edit_outside_the_workspace_is_stopped_by_the_sandbox(tmp_path: Path) -> None:
    """Aider itself writes ``../outside.txt`` when asked (measured): only orch's OS sandbox stops it."""
    with FakeChatAPI() as api:
        work = project(tmp_path, api)
        api.play(edit_reply("../outside.txt", "", "escaped"))
        orch(work, "run", "tasks.md", "--auto-approve")
    assert not (tmp_path / "outside.txt").exists()
    assert (work / "tasks.md").read_text() == TASKS  # nothing in the workspace was lost either
    # Aider says only "Unable to create ../outside.txt, skipping edits.": read as the sandbox's refusal
    safety = json.loads(orch(work, "status", "--json").stdout)["safety"]
    assert [(row["layer"], row["command"], row["refused"]) for row in safety] == [
        ("sandbox", "edit ../outside.txt", True)
    ], safety
