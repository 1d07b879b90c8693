"""The YAML task-file format: every field, and problems located to their line."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from orchcore.errors import Problem, TaskFileError
from orchcore.taskfile import parse_task_file
from orchcore.tasks import Complexity, Plan, Priority


def parse(text: str, filename: str = "today.yaml") -> Plan:
    return parse_task_file(textwrap.dedent(text).lstrip("\n"), filename)


def problems(text: str, filename: str = "today.yaml") -> list[Problem]:
    with pytest.raises(TaskFileError) as caught:
        parse(text, filename)
    return list(caught.value.problems)


FULL = """
date: 2026-11-23
title: Auth day
max_cost_usd: 7.50
tasks:
  - id: 1
    name: Add the users table
    description: Create the users table.
    module: accounts
    estimated_complexity: high
    context_files: [docs/schema.md, src/db.py]
    deliverables:
      - migrations/001_users.sql
    acceptance_criteria:
      - email is unique
    type: Database
    priority: high
    requires_approval: true
    instruction: |
      Write the migration.
      **Bold:** stays as written.
      - so do list items
  - id: 2
    name: Users API
    depends_on: [1]
    instruction: Build the API.
  - id: auth-docs
    title: Docs
    depends_on: "Task 1 and Task 2"
    description: Document it.
"""


@pytest.fixture(scope="module")
def full_plan() -> Plan:
    return parse(FULL)


def test_plan_fields_are_read(full_plan: Plan) -> None:
    assert full_plan.date == "2026-11-23"  # kept as written, not turned into a date
    assert full_plan.title == "Auth day"
    assert full_plan.max_cost_usd == Decimal("7.50")
    assert full_plan.source == "today.yaml"


def test_every_task_field_is_read(full_plan: Plan) -> None:
    task = full_plan.task("1")
    assert task.title == "Add the users table"
    assert task.description == "Create the users table."
    assert task.module == "accounts"
    assert task.estimated_complexity is Complexity.HIGH
    assert task.context_files == ("docs/schema.md", "src/db.py")
    assert task.deliverables == ("migrations/001_users.sql",)
    assert task.acceptance_criteria == ("email is unique",)
    assert task.type == "database"
    assert task.priority is Priority.HIGH
    assert task.requires_approval is True
    assert task.instruction == "Write the migration.\n**Bold:** stays as written.\n- so do list items"
    assert task.line == 5


def test_integer_ids_become_strings(full_plan: Plan) -> None:
    assert full_plan.ids == ("1", "2", "auth-docs")
    assert full_plan.task("2").depends_on == ("1",)


def test_depends_on_may_be_written_as_text(full_plan: Plan) -> None:
    assert full_plan.task("auth-docs").depends_on == ("1", "2")
    assert full_plan.task("auth-docs").title == "Docs"


def test_left_out_fields_take_their_defaults(full_plan: Plan) -> None:
    task = full_plan.task("2")
    assert task.type == "any"
    assert task.priority is Priority.MEDIUM
    assert task.requires_approval is False
    assert task.estimated_complexity is None
    assert task.description == ""
    assert task.module == ""


def test_a_wrong_type_of_value_is_one_problem_on_its_line() -> None:
    found = problems("""
        tasks:
          - id: 1
            name: [a, list]
            description: x
        """)
    assert [(p.line, p.field) for p in found] == [(3, "name")]
    assert "found a list, expected text" in found[0].message


def test_a_list_where_text_belongs_in_description_is_one_problem() -> None:
    found = problems("""
        tasks:
          - id: 1
            name: a
            description: {nested: mapping}
        """)
    assert [(p.line, p.field) for p in found] == [(4, "description")]


def test_bad_values_are_reported_on_their_own_lines() -> None:
    found = problems("""
        max_cost_usd: -3
        tasks:
          - id: 1
            name: a
            description: x
            priority: urgent
            requires_approval: maybe
            estimated_complexity: huge
            type: two words
            deliverables: {a: b}
        """)
    assert [(p.line, p.field) for p in found] == [
        (1, "max_cost_usd"),
        (6, "priority"),
        (7, "requires_approval"),
        (8, "estimated_complexity"),
        (9, "type"),
        (10, "deliverables"),
    ]


def test_an_unknown_key_is_named_with_the_keys_that_exist() -> None:
    [problem] = problems("""
        tasks:
          - id: 1
            name: a
            description: x
            colour: red
        """)
    assert (problem.line, problem.field) == (5, "colour")
    assert "unknown field" in problem.message
    assert "depends_on" in problem.message


def test_an_unknown_top_level_key_is_a_problem() -> None:
    [problem] = problems("""
        owner: me
        tasks:
          - id: 1
            name: a
            description: x
        """)
    assert (problem.line, problem.field) == (1, "owner")


def test_a_missing_name_points_at_the_task() -> None:
    [problem] = problems("""
        tasks:
          - id: 1
            name: a
            description: x
          - id: 2
            description: y
        """)
    assert (problem.line, problem.field) == (5, "name")
    assert "task 2 has no name" in problem.message


def test_a_missing_id_is_a_problem() -> None:
    [problem] = problems("""
        tasks:
          - name: a
            description: x
        """)
    assert (problem.line, problem.field) == (2, "id")


def test_a_task_with_neither_instruction_nor_description_is_a_problem() -> None:
    [problem] = problems("""
        tasks:
          - id: 1
            name: a
        """)
    assert (problem.line, problem.field) == (2, "instruction")


def test_invalid_yaml_is_reported_at_the_line_of_the_syntax_error() -> None:
    [problem] = problems("""
        tasks:
          - id: 1
            name: a
            description: x
           priority: high
        """)
    assert (problem.line, problem.field) == (5, "yaml")
    assert problem.message.startswith("not valid YAML")


def test_an_unclosed_quote_is_reported_on_a_line_the_file_has() -> None:
    [problem] = problems("""
        tasks:
          - id: 1
            name: 'a
        """)
    assert (problem.line, problem.field) == (3, "yaml")


def test_tasks_that_are_not_a_list_are_a_problem() -> None:
    [problem] = problems("tasks: just one\n")
    assert (problem.line, problem.field) == (1, "tasks")


def test_a_file_without_tasks_key_is_a_problem() -> None:
    [problem] = problems("date: 2026-11-23\n")
    assert (problem.line, problem.field) == (1, "tasks")


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_file_is_a_problem(text: str) -> None:
    [problem] = problems(text)
    assert (problem.line, problem.field) == (1, "tasks")


def test_an_empty_task_list_says_there_are_no_tasks() -> None:
    [problem] = problems("tasks: []\n")
    assert "no tasks" in problem.message


def test_graph_problems_are_reported_for_yaml_too() -> None:
    found = problems("""
        tasks:
          - id: 1
            name: a
            description: x
            depends_on: [2]
          - id: 2
            name: b
            description: y
            depends_on: [1, 7]
          - id: 1
            name: c
            description: z
        """)
    located = {(p.line, p.field, p.message.split(",")[0]) for p in found}
    assert located == {
        (9, "depends_on", "task 2 depends on unknown task '7'"),
        (10, "id", "task 1 is defined twice (first at line 2)"),
        (2, "depends_on", "dependency cycle: 1 -> 2 -> 1"),
    }


def test_yml_suffix_is_yaml_too() -> None:
    plan = parse("tasks: [{id: 1, name: a, description: x}]\n", filename="Today.YML")
    assert plan.ids == ("1",)


def test_deeply_nested_yaml_is_a_problem_not_a_crash() -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file("tasks: " + "[" * 5000, "today.yaml")
    assert caught.value.problems[0].field == "yaml"


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_lines_are_counted_as_editors_count_them_not_at_yamls_extra_line_breaks(separator: str) -> None:
    """yaml also breaks lines at NEL, LS and PS; the problem must name the line the editor shows."""
    text = f'title: "one{separator}two"\ntasks: 5\n'
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(text, "t.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (2, "tasks")
