"""A task's ``checks:``: gate commands in both task-file formats, one command per line or item."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchcore.errors import Problem, TaskFileError
from orchcore.taskfile import parse_task_file, render_markdown, render_yaml
from orchcore.tasks import Plan, Task


def parse(text: str, filename: str) -> Plan:
    return parse_task_file(textwrap.dedent(text).lstrip("\n"), filename)


def problems(text: str, filename: str) -> list[Problem]:
    with pytest.raises(TaskFileError) as caught:
        parse(text, filename)
    return list(caught.value.problems)


def test_markdown_checks_one_command_per_line_or_item_with_commas_kept() -> None:
    plan = parse(
        """
        ## Task 1: Fix the parser
        **Description:** make it pass
        **Checks:**
        python -m pytest -q -k "parse, split"
        - `ruff check src`
        - mypy
          --strict
        **Deliverables:** src/parser.py
        """,
        "today.md",
    )
    assert plan.tasks[0].checks == (
        'python -m pytest -q -k "parse, split"',
        "ruff check src",
        "mypy --strict",
    )
    assert plan.tasks[0].deliverables == ("src/parser.py",)


def test_markdown_inline_check_is_one_command_and_none_is_no_check() -> None:
    plan = parse(
        """
        ## Task 1: A
        **Description:** a
        **Checks:** pytest -q tests/a.py, tests/b.py

        ## Task 2: B
        **Description:** b
        **Checks:** none
        """,
        "today.md",
    )
    assert plan.tasks[0].checks == ("pytest -q tests/a.py, tests/b.py",)
    assert plan.tasks[1].checks == ()


def test_yaml_checks_as_a_list_or_one_string() -> None:
    plan = parse(
        """
        tasks:
          - id: 1
            name: A
            description: a
            checks: ["python -m pytest -q", "ruff check ."]
          - id: 2
            name: B
            description: b
            checks: make test, lint
        """,
        "today.yaml",
    )
    assert plan.tasks[0].checks == ("python -m pytest -q", "ruff check .")
    assert plan.tasks[1].checks == ("make test, lint",)


def test_yaml_checks_of_the_wrong_shape_are_located_to_their_line() -> None:
    found = problems(
        """
        tasks:
          - id: 1
            name: A
            description: a
            checks:
              - pytest
              - {run: pytest}
              - ""
        """,
        "today.yaml",
    )
    assert [(p.line, p.field) for p in found] == [(7, "checks"), (8, "checks")]
    assert "expected text" in found[0].message
    assert "expected a command" in found[1].message


_commands = (
    st.text(
        alphabet=st.characters(codec="ascii", categories=("L", "N", "Zs"), include_characters="-_.=/,\"'"),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(lambda c: bool(c) and c.lower() not in {"none", "no", "n/a", "nothing", "-"})
)


@given(checks=st.lists(_commands, max_size=3))
def test_checks_survive_rendering_and_parsing_in_both_formats(checks: list[str]) -> None:
    checks = [" ".join(c.split()) for c in checks if not c.startswith("-")]
    plan = Plan("today.md", (Task(id="1", title="A", description="a", checks=tuple(checks)),))
    for render, name in ((render_markdown, "today.md"), (render_yaml, "today.yaml")):
        assert parse_task_file(render(plan), name).tasks[0].checks == tuple(checks)
