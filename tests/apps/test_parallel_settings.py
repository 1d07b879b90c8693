"""The `max_parallel:` and `worktrees:` settings: read as written, and wrong values said at once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps.settings import Settings, load_settings
from orchcore.errors import ConfigError


def settings_from(folder: Path, text: str) -> Settings:
    (folder / "orch.yaml").write_text(text)
    return load_settings(cwd=folder, environ={})


def git_repo(folder: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    return folder


def test_by_default_one_task_runs_at_a_time_and_no_git_is_needed(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "agent: {name: command}\n")
    assert s.max_parallel == 1
    assert (s.worktrees.port_base, s.worktrees.ports_per_task, s.worktrees.copy) == (20000, 10, ())


def test_the_worktree_section_reads_as_written(tmp_path: Path) -> None:
    text = (
        "max_parallel: 4\n"
        "worktrees:\n"
        "  copy: [.env, config/local.yml]\n"
        "  setup: npm ci --no-audit\n"
        "  port_base: 30000\n"
        "  ports_per_task: 5\n"
    )
    s = settings_from(git_repo(tmp_path), text)
    assert s.max_parallel == 4
    assert s.worktrees.copy == (".env", "config/local.yml")
    assert s.worktrees.setup == ("npm ci --no-audit",)  # one command, its spaces its own
    assert (s.worktrees.port_base, s.worktrees.ports_per_task) == (30000, 5)


def test_parallel_tasks_outside_a_git_repository_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"orch\.yaml:1: max_parallel: found 3, but .* is not in a git repository"
    ):
        settings_from(tmp_path, "max_parallel: 3\n")


def test_every_wrong_value_is_named_with_its_line(tmp_path: Path) -> None:
    text = "max_parallel: 0\nworktrees:\n  port_base: 80\n  ports_per_task: 0\n  setup_timeout_s: -1\n"
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, text)
    message = str(caught.value)
    assert "orch.yaml:1: max_parallel: found 0, expected 1 or more" in message
    assert "orch.yaml:3: worktrees.port_base: found 80, expected a port from 1024 to 65535" in message
    assert "orch.yaml:4: worktrees.ports_per_task: found 0, expected 1 or more" in message
    assert "orch.yaml:5: worktrees.setup_timeout_s: found -1" in message


def test_port_ranges_that_pass_the_last_port_are_refused(tmp_path: Path) -> None:
    text = "max_parallel: 8\nworktrees: {port_base: 65000, ports_per_task: 100}\n"
    with pytest.raises(ConfigError, match=r"max_parallel: found 8, expected at most 5"):
        settings_from(git_repo(tmp_path), text)


def test_orch_max_parallel_overrides_the_file_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    folder = git_repo(tmp_path)
    (folder / "orch.yaml").write_text("agent: {name: command}\nmax_parallel: 2\n")
    assert load_settings(cwd=folder, environ={"ORCH_MAX_PARALLEL": "6"}).max_parallel == 6
    assert load_settings(cwd=folder, environ={}).max_parallel == 2
    with pytest.raises(ConfigError, match="ORCH_MAX_PARALLEL: max_parallel: found 0, expected 1 or more"):
        load_settings(cwd=folder, environ={"ORCH_MAX_PARALLEL": "0"})
