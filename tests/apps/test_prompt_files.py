"""The project's prompt files as `orch` reads them: house rules in their order, templates by name,
and `orch templates export` that never overwrites without --force."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from apps.prompt_files import house_rules, project_templates
from orchcore.errors import ConfigError


def test_house_rules_come_in_their_order_then_the_user_s_docs_by_name(tmp_path: Path) -> None:
    (tmp_path / "task_execution_patterns.md").write_text("# Patterns\nplan first\n")
    (tmp_path / "agent_instructions.md").write_text("be brief\n")
    (tmp_path / "CLAUDE.md").write_text("# Project notes\nuse uv\n")
    (tmp_path / "empty.md").write_text("\n")
    found = house_rules(tmp_path)
    assert [(r.name, r.title) for r in found] == [
        ("agent_instructions.md", "Agent instructions"),
        ("task_execution_patterns.md", "Patterns"),
        ("CLAUDE.md", "Project notes"),
    ]
    assert house_rules(tmp_path / "none") == ()


def test_a_misspelt_template_name_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    (tmp_path / "tasks.md.j2").write_text("x")
    with pytest.raises(ConfigError, match=r"tasks\.md\.j2: unknown template, expected one of task\.md\.j2"):
        project_templates(tmp_path)


def test_a_rules_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "agent_instructions.md").write_bytes(b"caf\xe9\n")
    with pytest.raises(ConfigError, match=r"agent_instructions\.md: not UTF-8"):
        house_rules(tmp_path)


def test_export_refuses_to_overwrite_without_force_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["templates", "export"])
    assert first.exit_code == 0, first.output
    assert "wrote " in first.output
    task = tmp_path / ".orch-rules" / "templates" / "task.md.j2"
    task.write_text("mine {{ task.title }}\n")
    again = runner.invoke(app, ["templates", "export"])
    assert again.exit_code == 2
    assert "nothing was written (--force replaces them)" in again.output
    assert task.read_text() == "mine {{ task.title }}\n"
    listed = runner.invoke(app, ["templates", "list"])
    assert "task.md.j2  project" in listed.output
    forced = runner.invoke(app, ["templates", "export", "--force"])
    assert forced.exit_code == 0
    assert "# Task {{ task.id }}" in task.read_text()


def test_init_writes_the_starters_and_keeps_what_the_user_edited(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["init", str(tmp_path)])
    assert done.exit_code == 0, done.output
    rules = tmp_path / ".orch-rules"
    assert sorted(p.name for p in rules.iterdir()) == [
        "agent_instructions.md",
        "code_quality_standards.md",
        "task_execution_patterns.md",
    ]
    (rules / "agent_instructions.md").write_text("mine\n")
    again = runner.invoke(app, ["init", str(tmp_path)])
    assert "kept " in again.output
    assert (rules / "agent_instructions.md").read_text() == "mine\n"
