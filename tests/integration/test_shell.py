"""`orch shell` driven through a pty (pexpect), as a user types: approve a task, answer a
question, complete with Tab, see the status line change while the engine runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sqlite import SqliteStore

pexpect = pytest.importorskip("pexpect", reason="pexpect (the dev extra) drives the shell through a pty")

pytestmark = pytest.mark.integration

TASKS = """\
# Tasks

## Task 1: Schema
**Requires Approval:** true
**Claude Instruction:**
write the schema

## Task 2: Database
**Depends On:** 1
**Claude Instruction:**
pick the database
"""
# the stand-in agent: task 2 asks until its prompt carries the answer (a final message ending in a question)
AGENT = (
    'if [ "$ORCH_TASK_ID" != 2 ]; then cat >/dev/null; echo Done.; '
    "elif grep -q Postgres; then echo Done with Postgres.; "
    'else echo "Which database: Postgres or SQLite?"; fi'
)
TIMEOUT_S = 60


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "today.md").write_text(TASKS)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, -c, '{AGENT}']\n"
        f"paths:\n  state_dir: {tmp_path / 'state'}\n"
        "supervisor:\n  judge: off\n"
    )
    (tmp_path / "home").mkdir()
    return tmp_path


def spawn(project: Path) -> pexpect.spawn:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "HOME": str(project / "home"),
        "TERM": "dumb",
        "ORCH_CONFIG": str(project / "orch.yaml"),
    }
    child = pexpect.spawn(
        sys.executable,
        ["-c", "from apps.cli.main import main; main()", "shell"],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT_S,
        dimensions=(40, 200),
    )
    child.expect_exact("orch (no session) > ")
    return child


@pytest.fixture
def shell(project: Path) -> Iterator[pexpect.spawn]:
    child = spawn(project)
    yield child
    if child.isalive():
        child.sendeof()
        child.expect(pexpect.EOF)
    child.close()


def test_approve_a_task_and_answer_a_question_in_the_shell(shell: pexpect.spawn, project: Path) -> None:
    shell.sendline("start today.md")
    shell.expect(r"session (\w+) started: 2 tasks from today.md")
    sid = shell.match.group(1)
    # the status line changes by itself once the engine stops for the approval
    shell.expect_exact(f"orch {sid[:8]} waiting_approval task 1 > ")

    shell.sendline("approve 1")
    shell.expect_exact("approved task 1")
    shell.expect_exact(f"orch {sid[:8]} waiting_answer task 2 > ")

    shell.sendline("status")
    shell.expect_exact("Task 2 waits for an answer.")
    shell.expect_exact('next: answer "..."')

    shell.sendline("answer Postgres, version 16")
    shell.expect_exact("answered task 2")
    shell.expect_exact(f"orch {sid[:8]} completed > ")

    shell.sendline("logs 2")
    shell.expect_exact("Done with Postgres.")
    shell.sendline("budget")
    shell.expect_exact("spent; no daily limit")
    shell.sendline("quit")
    shell.expect(pexpect.EOF)

    store = SqliteStore(project / "state" / "state.db")
    try:
        snap = store.load(sid)
        assert snap.session.state.value == "completed"
        assert snap.run("2").answer == "Postgres, version 16"
        assert any(e.data.get("source") == "shell" for e in store.events(sid)), store.events(sid)
    finally:
        store.close()


def test_tab_completes_commands_and_task_ids_and_refusals_change_nothing(shell: pexpect.spawn) -> None:
    shell.send("sta\t")  # start, status
    shell.send("rt today.md\r")
    shell.expect(r"session (\w+) started")
    sid = shell.match.group(1)
    shell.expect_exact(f"orch {sid[:8]} waiting_approval task 1 > ")

    shell.send("skip 2\r")
    shell.expect_exact("skipped task 2")
    shell.send("retr\t1\r")  # completes to `retry `
    shell.expect_exact("refused: ")
    shell.expect_exact("nothing was changed")
    shell.send("use \t")  # the only session's id
    shell.expect_exact(f"use {sid}")
    shell.send("\r")
    shell.expect_exact(f"using session {sid}")
    shell.sendline("frobnicate")
    shell.expect_exact("unknown command 'frobnicate'")


def test_history_is_kept_between_shells(project: Path) -> None:
    first = spawn(project)
    first.sendline("sessions")
    first.expect_exact("no sessions yet")
    first.sendeof()
    first.expect(pexpect.EOF)
    first.close()
    assert "sessions" in (project / "state" / "shell_history").read_text()

    second = spawn(project)
    second.send("\x1b[A")  # arrow up: the last line of the previous shell
    second.send("\r")
    second.expect_exact("no sessions yet")
    second.sendeof()
    second.expect(pexpect.EOF)
    second.close()
