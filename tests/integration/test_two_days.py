"""Two days through the real CLI (command agent, real SQLite, real files): day 1 runs; the user's
feedback file rates one task badly and records a lesson for its type; day 2's `orch run` imports
the feedback by itself and the prompt of a task of the same type carries the lesson (and one of
another type does not); `orch lessons` lists it with its source and edits it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import GIT_ENV

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
# the agent keeps each prompt it gets as prompt-TASK.md in the workspace, and does the work
AGENT = (
    "#!/bin/sh\nprompt=$(cat)\n"
    'n=$(printf "%s" "$prompt" | sed -n "s/^# Task \\([0-9A-Za-z_-]*\\).*/\\1/p" | head -1)\n'
    'printf "%s\\n" "$prompt" > "prompt-$n.md"\necho done\n'
)
LESSON = "Run the real database in tests; never mock it."
FEEDBACK = f"""\
# Feedback 2026-12-01

- rating: api bad — it mocked the database
- rating: docs good
- didn't work (api): the tests passed against a mock
- lesson (backend): {LESSON}
"""


def day(tasks: str) -> str:
    return f"# Tasks\n\n{tasks}"


def task(task_id: str, task_type: str) -> str:
    return f"## Task {task_id}: Work on {task_id}\n**Type:** {task_type}\n**Description:** do {task_id}\n\n---\n\n"


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCH, *args, "-c", str(root / "orch.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=GIT_ENV, check=True)
    (repo / "README.md").write_text("app\n")
    subprocess.run(["git", "add", "README.md"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "first"], cwd=repo, env=GIT_ENV, check=True)
    (tmp_path / "agent.sh").write_text(AGENT)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "2026-12-01.md").write_text(
        day(task("api", "backend") + task("docs", "documentation"))
    )
    (tmp_path / "tasks" / "2026-12-02.md").write_text(
        day(task("api2", "Backend") + task("docs2", "documentation"))
    )
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
        "approval:\n  mode: auto\nsupervisor:\n  judge: off\n"
    )
    return tmp_path


def test_a_lesson_from_day_ones_feedback_is_in_day_twos_prompt_for_the_same_type(root: Path) -> None:
    project = root / "project"
    ok(orch(root, "run", "tasks/2026-12-01.md"))
    assert "Lessons from earlier work" not in (project / "prompt-api.md").read_text()

    (root / "feedback").mkdir()
    (root / "feedback" / "2026-12-01.md").write_text(FEEDBACK)
    second = ok(orch(root, "run", "tasks/2026-12-02.md"))
    assert "learnt 1 lesson from feedback/2026-12-01.md" in second.stderr

    backend = (project / "prompt-api2.md").read_text()
    assert "## Lessons from earlier work on backend tasks" in backend
    assert f"- {LESSON}" in backend
    assert LESSON not in (project / "prompt-docs2.md").read_text()  # another type is not told

    listed = json.loads(ok(orch(root, "lessons", "list", "--json")).stdout)
    assert [(x["type"], x["text"], x["source"], x["day"]) for x in listed] == [
        ("backend", LESSON, "feedback/2026-12-01.md:6", "2026-12-01")
    ]
    again = ok(orch(root, "feedback", "2026-12-01"))  # imported at the run's start already
    assert "imported before as it is: no new lessons" in again.stdout
    assert "rating: task api bad — it mocked the database" in again.stdout
    assert len(json.loads(ok(orch(root, "lessons", "list", "--json")).stdout)) == 1

    # the day's report was written by itself when each session ended, nobody ran `orch report`; both
    # sessions ran today (the real clock, in the machine's zone: budget.timezone local)
    today = datetime.now().astimezone().date()
    report = (root / "results" / f"{today:%Y-%m-%d}-report.md").read_text(encoding="utf-8")
    assert report.startswith(f"# Day report: {today:%Y-%m-%d}\n")
    assert "- **Sessions:** 2" in report
    for key in ("/api |", "/docs |", "/api2 |", "/docs2 |"):
        assert key in report
    page = (root / "results" / f"{today:%Y-%m-%d}-report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3


def test_an_edited_lesson_is_what_the_next_prompt_carries_and_a_removed_one_is_gone(root: Path) -> None:
    project = root / "project"
    (root / "feedback").mkdir()
    (root / "feedback" / "2026-12-01.md").write_text(FEEDBACK)
    ok(orch(root, "feedback", "2026-12-01"))
    lesson_id = json.loads(ok(orch(root, "lessons", "list", "--json")).stdout)[0]["id"]
    ok(orch(root, "lessons", "edit", str(lesson_id), "--text", "Use the test database in tests."))
    extra = ok(
        orch(root, "lessons", "add", "Write docs for every endpoint.", "--type", "documentation", "--json")
    )
    ok(orch(root, "run", "tasks/2026-12-01.md"))
    assert "- Use the test database in tests." in (project / "prompt-api.md").read_text()
    assert "- Write docs for every endpoint." in (project / "prompt-docs.md").read_text()

    ok(orch(root, "lessons", "rm", str(json.loads(extra.stdout)["id"])))
    ok(orch(root, "run", "tasks/2026-12-02.md"))
    assert "Write docs for every endpoint." not in (project / "prompt-docs2.md").read_text()
    missing = orch(root, "lessons", "rm", "999")
    assert missing.returncode == 6
    assert "no lesson 999" in missing.stderr


def test_a_feedback_file_with_problems_is_refused_whole_and_a_run_goes_on_without_it(root: Path) -> None:
    (root / "feedback").mkdir()
    (root / "feedback" / "2026-12-01.md").write_text(
        "rating: api meh\nlesson (backend):\nlesson (db): fine\n"
    )
    refused = orch(root, "feedback", "2026-12-01")
    assert refused.returncode == 2
    assert "feedback/2026-12-01.md:1: rating: task api: found 'meh', expected good or bad" in refused.stderr
    assert "feedback/2026-12-01.md:2: lesson: found no text after ':'" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert json.loads(ok(orch(root, "lessons", "list", "--json")).stdout) == []
    run = ok(orch(root, "run", "tasks/2026-12-01.md"))
    assert "orch: feedback skipped: feedback/2026-12-01.md:1:" in run.stderr
