"""Where orch keeps its own files: outside the workspace by default, and a warning when they are inside."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from apps.own_files import own_files_in_workspace, workspace_warnings
from apps.settings import load_settings
from apps.settings_lookup import default_state_dir


@pytest.fixture
def project(tmp_path: Path) -> Path:
    work = tmp_path / "my project"
    work.mkdir()
    return work


def test_by_default_state_lives_under_the_users_state_dir_one_folder_per_project(
    project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere" / "my project"
    other.mkdir(parents=True)

    here = load_settings(cwd=project, environ={}).state_dir
    there = load_settings(cwd=other, environ={}).state_dir

    state_home = Path(os.environ["XDG_STATE_HOME"])
    assert here.parent == state_home / "orchcore" / "projects"
    assert here.name.startswith("my project-")
    assert len(here.name) == len("my project-") + 12
    assert here != there  # same name, other path: another folder
    assert here == default_state_dir(project) == load_settings(cwd=project, environ={}).state_dir
    assert not here.is_relative_to(project)
    assert own_files_in_workspace(load_settings(cwd=project, environ={})) == []


def test_paths_state_dir_and_orch_state_dir_still_choose_the_folder(project: Path, tmp_path: Path) -> None:
    (project / "orch.yaml").write_text(f"paths:\n  state_dir: {tmp_path / 'mine'}\n")
    assert load_settings(cwd=project, environ={}).state_dir == tmp_path / "mine"
    chosen = load_settings(cwd=project, environ={"ORCH_STATE_DIR": str(tmp_path / "env")}).state_dir
    assert chosen == tmp_path / "env"


def test_an_old_orch_folder_with_sessions_keeps_being_used_and_the_run_says_so(project: Path) -> None:
    legacy = project / ".orch"
    legacy.mkdir()
    sqlite3.connect(legacy / "state.db").close()

    settings = load_settings(cwd=project, environ={})

    assert settings.state_dir == legacy
    warnings = workspace_warnings(settings)
    assert any(line.startswith(f"note: using the existing state in {legacy}") for line in warnings)
    assert any(str(legacy) in line and line.startswith("warning: orch's own files") for line in warnings)


def test_an_empty_old_orch_folder_is_not_used(project: Path) -> None:
    (project / ".orch").mkdir()
    assert load_settings(cwd=project, environ={}).state_dir == default_state_dir(project)


def test_the_state_dir_config_and_env_file_inside_the_workspace_are_listed(project: Path) -> None:
    (project / "orch.yaml").write_text("paths:\n  state_dir: .state\n")
    (project / ".env").write_text("ORCH_WEBHOOK_SECRET=s3cret\n")

    settings = load_settings(cwd=project, environ={})
    inside = own_files_in_workspace(settings)

    assert inside == [project / ".state", project / "orch.yaml", project / ".env"]
    (warning,) = workspace_warnings(settings)
    assert warning.startswith("warning: orch's own files lie inside the workspace")
    assert "s3cret" not in warning


def test_a_workspace_elsewhere_makes_nothing_inside(project: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (project / "orch.yaml").write_text(f"paths:\n  state_dir: .state\n  workdir: {work}\n")
    (project / ".env").write_text("X=1\n")
    assert own_files_in_workspace(load_settings(cwd=project, environ={})) == []


def test_orch_run_warns_once_on_stderr_and_keeps_the_warning_as_a_session_event(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "orch.yaml").write_text(
        "paths:\n  state_dir: .state\nagent:\n  command: ['true']\n  timeout_s: 30\n"
    )
    (project / "tasks.md").write_text(
        "# Tasks - 2026-11-23\n\n## Task 1: One\n**Requires Approval:** true\n**Claude Instruction:**\nx\n"
    )
    monkeypatch.chdir(project)

    ran = CliRunner().invoke(app, ["run", "tasks.md"])  # stops: task 1 waits for approval
    assert CliRunner().invoke(app, ["approve"]).exit_code == 0
    again = CliRunner().invoke(app, ["resume"])
    logs = CliRunner().invoke(app, ["logs", "--json"])

    assert ran.exit_code == 0, ran.stdout + ran.stderr
    warned = [line for line in ran.stderr.splitlines() if "orch's own files lie inside" in line]
    assert len(warned) == 1
    assert str(project / ".state") in warned[0]
    assert '"kind": "warning"' in logs.stdout
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "completed" in again.stdout
    assert "orch's own files" not in again.stderr  # told once per session
