"""The supervisor's gate keys (``checks``, ``max_fix_attempts``, ``scope``, ``forbidden``) as a user writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.settings import load_settings
from orchcore.errors import ConfigError


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "orch.yaml"
    path.write_text(text)
    return load_settings(str(path), environ={})


def test_checks_by_type_reach_the_pipeline_with_a_single_string_as_one_command(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "supervisor:\n  enabled: true\n  checks:\n    Testing: ['python -m pytest -q']\n"
        "    '*': make lint, fast\n  max_fix_attempts: 1\n  scope: {docs: ['docs/**']}\n",
    )
    config = settings.supervisor.pipeline()  # type: ignore[attr-defined]
    assert config.checks_by_type == {"testing": ("python -m pytest -q",), "*": ("make lint, fast",)}
    assert config.decision.max_fix_attempts == 1
    assert config.gates.scope_by_type == {"docs": ("docs/**",)}
    assert config.gates.forbidden == ("**/migrations/**",)


def test_by_default_nothing_is_checked_but_migrations_stay_forbidden(tmp_path: Path) -> None:
    settings = load(tmp_path, "agent: {name: command, command: ['true']}\n")
    sv = settings.supervisor  # type: ignore[attr-defined]
    assert sv.enabled is False
    assert sv.checks == {}
    assert sv.pipeline().gates.forbidden == ("**/migrations/**",)


def test_every_bad_gate_key_is_named_with_its_line_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load(
            tmp_path,
            "supervisor:\n  checks:\n    testing: [1, '']\n  max_fix_attempts: -1\n"
            "  check_timeout_s: 0\n  scope: docs/**\n",
        )
    lines = str(refused.value).splitlines()
    path = tmp_path / "orch.yaml"
    assert any(line.startswith(f"{path}:3: supervisor.checks.testing:") for line in lines), lines
    assert any(f"{path}:4: supervisor.max_fix_attempts: found -1, expected 0 or more" in ln for ln in lines)
    assert any(f"{path}:5: supervisor.check_timeout_s:" in line for line in lines), lines
    assert any(f"{path}:6: supervisor.scope:" in line for line in lines), lines


def test_a_host_with_a_stray_bracket_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"orch.yaml:2: supervisor.host: found '\[gpu'"):
        load(tmp_path, "supervisor:\n  host: '[gpu'\n")


def test_breakpoint_rules_reach_the_pipeline_in_order(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "supervisor:\n  breakpoints:\n"
        "    - {name: ci-files, kind: paths, globs: ['.github/**']}\n"
        "    - {name: shaky, kind: confidence_below, threshold: 0.8, types: backend}\n",
    )
    rules = settings.supervisor.pipeline().breakpoints  # type: ignore[attr-defined]
    assert [(r.name, r.kind.value) for r in rules] == [("ci-files", "paths"), ("shaky", "confidence_below")]
    assert rules[0].globs == (".github/**",)
    assert rules[1].threshold == 0.8
    assert rules[1].types == ("backend",)


def test_without_breakpoints_the_defaults_apply(tmp_path: Path) -> None:
    settings = load(tmp_path, "supervisor:\n  max_fix_attempts: 1\n")
    rules = settings.supervisor.pipeline().breakpoints  # type: ignore[attr-defined]
    assert [r.name for r in rules] == ["gate-still-failing", "low-confidence"]


def test_every_bad_breakpoint_rule_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load(
            tmp_path,
            "supervisor:\n  breakpoints:\n"
            "    - {name: a, kind: sometimes}\n"
            "    - {kind: paths, globs: [1]}\n"
            "    - {name: c, kind: diff_lines_over, lines: many, colour: red}\n",
        )
    text = str(refused.value)
    assert "supervisor.breakpoints.0.kind: found 'sometimes', expected one of: confidence_below" in text
    assert "supervisor.breakpoints.1: a rule needs a name" in text
    assert "supervisor.breakpoints.1.globs: found [1], expected a list of names" in text
    assert "supervisor.breakpoints.2.lines: found 'many', expected a number" in text
    assert "supervisor.breakpoints.2.colour: unknown key" in text
    assert all(line.startswith(str(tmp_path / "orch.yaml") + ":") for line in text.splitlines()), text


@pytest.mark.parametrize("doc", ["supervisor.md", "supervisor-pipeline.md"])
def test_every_supervisor_section_the_docs_show_loads(tmp_path: Path, doc: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / doc).read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    sections = [b for b in blocks if b.startswith("supervisor:")]
    assert sections
    for section in sections:
        load(tmp_path, section)
