"""Questions both ways through the real CLI (command agent, real SQLite, real files, the watchfiles
watcher): the prompt tells the agent where to ask; an answer the user writes to
``questions/TASK-answer.md`` is picked up by `orch resume`, and by a waiting `orch run --wait`,
which then continues by itself; an answer file older than the question is not taken for its answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import GIT_ENV, wait_until

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
# asks in the question file the prompt names, unless the prompt carries the human's answer: then
# writes it to ids.txt
AGENT = r"""#!/bin/sh
prompt=$(cat)
printf '%s\n' "$prompt" > last-prompt.md
if printf '%s' "$prompt" | grep -q "^## The human's answer"; then
  printf '%s\n' "$prompt" | sed -n "/^## The human's answer/{n;p;}" > ids.txt
  echo "done: ids are $(cat ids.txt)"
else
  file=$(printf '%s' "$prompt" | sed -n 's/^`\(questions\/[^`]*\.md\)`.*/\1/p' | head -1)
  mkdir -p questions
  echo "UUIDs or integers for the ids?" > "$file"
  echo "I need a decision first."
fi
"""
TASKS = "# Tasks\n\n## Task 1: Ids\n**Type:** backend\n**Description:** pick the id type\n"


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCH, *args, "-c", str(root / "orch.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def state(root: Path) -> str:
    done = orch(root, "status", "--json")
    if done.returncode == 6:  # no session yet
        return ""
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["session"]["state"])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=GIT_ENV, check=True)
    (repo / "README.md").write_text("app\n")
    subprocess.run(["git", "add", "README.md"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "first"], cwd=repo, env=GIT_ENV, check=True)
    (tmp_path / "agent.sh").write_text(AGENT)
    (tmp_path / "tasks.md").write_text(TASKS)
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
        "approval:\n  mode: auto\nsupervisor:\n  judge: off\n"
    )
    return tmp_path


def test_the_prompt_says_where_to_ask_and_resume_reads_the_answer_file(root: Path) -> None:
    project = root / "project"
    first = orch(root, "run", "tasks.md")
    assert first.returncode == 0, first.stdout + first.stderr
    prompt = (project / "last-prompt.md").read_text()
    assert "## If you need a human's answer" in prompt
    assert "`questions/1.md`" in prompt
    assert state(root) == "waiting_answer"
    (project / "questions" / "1-answer.md").write_text("UUIDs, version 7.\n")
    resumed = orch(root, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "task 1: your answer was read from questions/1-answer.md" in resumed.stderr
    assert (project / "ids.txt").read_text() == "UUIDs, version 7.\n"
    assert state(root) == "completed"


def test_an_answer_file_older_than_the_question_is_not_its_answer(root: Path) -> None:
    project = root / "project"
    (project / "questions").mkdir()
    stale = project / "questions" / "1-answer.md"
    stale.write_text("integers\n")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert orch(root, "run", "tasks.md").returncode == 0
    assert state(root) == "waiting_answer"
    resumed = orch(root, "resume")
    assert "your answer was read" not in resumed.stderr
    assert state(root) == "waiting_answer"
    assert not (project / "ids.txt").exists()


def test_a_waiting_run_continues_by_itself_when_the_answer_file_is_written(root: Path) -> None:
    project = root / "project"
    with subprocess.Popen(
        [ORCH, "run", "tasks.md", "--wait", "-c", str(root / "orch.yaml")],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as running:
        try:
            wait_until(lambda: (project / "questions" / "1.md").exists(), "the agent to ask", timeout=60)
            wait_until(lambda: state(root) == "waiting_answer", "the session to wait", timeout=60)
            time.sleep(0.5)  # the run is now waiting; the answer comes later, as a human's would
            (project / "questions" / "1-answer.md").write_text("UUIDs\n")
            out, err = running.communicate(timeout=60)
        finally:
            if running.poll() is None:
                running.kill()
    assert running.returncode == 0, out + err
    assert "waiting for you (--wait)" in err
    assert "task 1: your answer was read from questions/1-answer.md" in err
    assert (project / "ids.txt").read_text() == "UUIDs\n"
    assert state(root) == "completed"


def test_a_waiting_run_continues_when_the_answer_comes_from_another_shell(root: Path) -> None:
    project = root / "project"
    with subprocess.Popen(
        [ORCH, "run", "tasks.md", "--wait", "-c", str(root / "orch.yaml")],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as running:
        try:
            wait_until(lambda: state(root) == "waiting_answer", "the session to wait", timeout=60)
            answered = orch(root, "answer", "integers")
            assert answered.returncode == 0, answered.stderr
            out, err = running.communicate(timeout=60)
        finally:
            if running.poll() is None:
                running.kill()
    assert running.returncode == 0, out + err
    assert (project / "ids.txt").read_text() == "integers\n"
