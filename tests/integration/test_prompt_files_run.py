"""Prompt files through `orch run`: a command agent dumps ``$ORCH_PROMPT_FILE`` into the workspace,
so the test reads what the agent really got: the house rules `orch init` wrote, the contents of
the task's context files, and a project template that replaces the shipped one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
AGENT = '#!/bin/sh\ncat "$ORCH_PROMPT_FILE" > "prompt-$ORCH_TASK_ID.txt"\necho done\n'
TASKS = """# Tasks

## Task 1: Signup
**Type:** backend
**Description:** add POST /signup
**Acceptance Criteria:**
- email is unique
**Context Files:** docs/api.md
"""


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], cwd=root, capture_output=True, text=True, timeout=120, check=False)


def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "api.md").write_text("POST /signup answers 201 with the new user's id.\n")
    (root / "agent.sh").write_text(AGENT)
    (root / "tasks.md").write_text(TASKS)
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}]\n  timeout_s: 60\n"
        f"paths:\n  state_dir: {tmp_path / 'state'}\napproval:\n  mode: auto\nsafety:\n  enabled: false\n"
        "sandbox: off\n"
    )
    return root


def test_the_agent_gets_the_house_rules_the_context_file_and_the_project_template(tmp_path: Path) -> None:
    root = project(tmp_path)
    init = orch(root, "init")
    assert init.returncode == 0, init.stderr
    rules = root / ".orch-rules" / "code_quality_standards.md"
    rules.write_text("# Code quality standards\n\n- Type hints on every function (house rule 42).\n")
    exported = orch(root, "templates", "export")
    assert exported.returncode == 0, exported.stderr
    task_template = root / ".orch-rules" / "templates" / "task.md.j2"
    task_template.write_text(task_template.read_text().replace("# Task {{", "# Project task {{"))
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    (prompt_file,) = root.glob("prompt-*.txt")
    prompt = prompt_file.read_text()
    assert prompt.startswith("# Project task 1: Signup\n")
    assert "email is unique" in prompt
    assert "Type hints on every function (house rule 42)." in prompt
    assert "## Agent instructions (agent_instructions.md)" in prompt  # the starter orch init wrote
    assert "POST /signup answers 201 with the new user's id." in prompt


def test_a_broken_project_template_stops_the_run_before_any_task_naming_file_and_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    folder = root / ".orch-rules" / "templates"
    folder.mkdir(parents=True)
    (folder / "task.md.j2").write_text("# {{ task.title }}\n{{ task.titel }}\n")
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 2
    assert f"{folder / 'task.md.j2'}:2:" in run.stderr
    assert "titel" in run.stderr
    assert not any(root.glob("prompt-*.txt"))
    assert "no session yet" in orch(root, "status").stderr  # nothing was started: fix it and run again


def test_a_missing_context_file_is_a_validate_and_run_error_at_its_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "docs" / "api.md").unlink()
    for command in (("validate", "tasks.md"), ("run", "tasks.md")):
        done = orch(root, *command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "tasks.md:8: Context Files: task 1: docs/api.md does not exist in the workspace" in done.stderr
    assert not any(root.glob("prompt-*.txt"))
