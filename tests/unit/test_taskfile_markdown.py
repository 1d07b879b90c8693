"""The markdown task-file format: what users write and what they are told when it is wrong."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from orchcore.errors import Problem, TaskFileError
from orchcore.taskfile import parse_task_file
from orchcore.tasks import Complexity, Plan, Priority


def parse(text: str, filename: str = "today.md") -> Plan:
    return parse_task_file(textwrap.dedent(text).lstrip("\n"), filename)


def problems(text: str, filename: str = "today.md") -> list[Problem]:
    with pytest.raises(TaskFileError) as caught:
        parse(text, filename)
    return list(caught.value.problems)


FULL = """
# Tasks - 2026-11-23

Notes for myself: nothing here is parsed.

## Task 1: Add the users table
**Type:** Database
**Priority:** high
**Requires Approval:** true
**Module:** accounts
**Estimated Complexity:** medium
**Description:** Create the users table
with an index on email.
**Acceptance Criteria:**
- the migration applies cleanly
- email is unique
**Context Files:** docs/schema.md, src/db.py
**Deliverables:**
- migrations/001_users.sql
**Claude Instruction:**
Write the migration.

**Bold:** lines like this one stay in the instruction.
- and so do list items
# and headings

---

## Task 2: Users API
**Type:** backend
**Priority:** low
**Depends On:** 1
**Description:** CRUD endpoints for users.

---

## Task 3: Login page
**Type:** frontend
**Depends On:** Task 1 and Task 2
**Claude Instruction:**
Build the login page.
---

## Task 4: Docs
**Depends On:**
- Task 2
- 3
**Description:** Document the API.

---

## Task 5: Smoke test
**Depends On:** none
**Requires Approval:** no
**Description:** Run the smoke test.
"""


@pytest.fixture(scope="module")
def full_plan() -> Plan:
    return parse(FULL)


def test_title_and_date_come_from_the_heading(full_plan: Plan) -> None:
    assert full_plan.title == "Tasks - 2026-11-23"
    assert full_plan.date == "2026-11-23"
    assert full_plan.source == "today.md"
    assert full_plan.max_cost_usd is None


def test_tasks_keep_file_order_and_ids(full_plan: Plan) -> None:
    assert full_plan.ids == ("1", "2", "3", "4", "5")
    assert [t.title for t in full_plan.tasks] == [
        "Add the users table",
        "Users API",
        "Login page",
        "Docs",
        "Smoke test",
    ]


def test_every_field_of_a_full_task_is_read(full_plan: Plan) -> None:
    task = full_plan.task("1")
    assert task.type == "database"  # folded to lower case so policies match
    assert task.priority is Priority.HIGH
    assert task.requires_approval is True
    assert task.module == "accounts"
    assert task.estimated_complexity is Complexity.MEDIUM
    assert task.description == "Create the users table\nwith an index on email."
    assert task.acceptance_criteria == ("the migration applies cleanly", "email is unique")
    assert task.context_files == ("docs/schema.md", "src/db.py")
    assert task.deliverables == ("migrations/001_users.sql",)
    assert task.depends_on == ()
    assert task.line == 5


def test_instruction_keeps_bold_lines_lists_and_headings_verbatim(full_plan: Plan) -> None:
    assert full_plan.task("1").instruction == (
        "Write the migration.\n"
        "\n"
        "**Bold:** lines like this one stay in the instruction.\n"
        "- and so do list items\n"
        "# and headings"
    )


def test_instruction_ends_at_the_separator(full_plan: Plan) -> None:
    assert full_plan.task("3").instruction == "Build the login page."


def test_fields_left_out_take_their_defaults(full_plan: Plan) -> None:
    task = full_plan.task("5")
    assert task.type == "any"
    assert task.priority is Priority.MEDIUM
    assert task.requires_approval is False
    assert task.estimated_complexity is None
    assert task.module == ""
    assert task.instruction == ""
    assert task.acceptance_criteria == task.context_files == task.deliverables == ()


@pytest.mark.parametrize(
    ("task_id", "expected"),
    [
        ("2", ("1",)),  # "1"
        ("3", ("1", "2")),  # "Task 1 and Task 2"
        ("4", ("2", "3")),  # list form
        ("5", ()),  # "none"
    ],
)
def test_depends_on_accepts_every_written_form(
    full_plan: Plan, task_id: str, expected: tuple[str, ...]
) -> None:
    assert full_plan.task(task_id).depends_on == expected


@pytest.mark.parametrize(
    "written",
    [
        "1, 2",
        "1,2",
        "Task 1 and Task 2",
        "Task 1 AND Task 2",
        "task #1; task #2",
        "#1 and #2",
        "Task1, Task2",
    ],
)
def test_depends_on_separators_all_give_the_same_ids(written: str) -> None:
    plan = parse(f"""
        ## Task 1: a
        **Description:** x
        ## Task 2: b
        **Description:** y
        ## Task 3: c
        **Depends On:** {written}
        **Description:** z
        """)
    assert plan.task("3").depends_on == ("1", "2")


def test_dependency_ids_containing_and_or_starting_with_task_are_kept_whole() -> None:
    plan = parse("""
        ## Task signup-and-login: auth
        **Description:** x
        ## Task taskforce: people
        **Description:** y
        ## Task report: c
        **Depends On:** signup-and-login, taskforce
        **Description:** z
        """)
    assert plan.task("report").depends_on == ("signup-and-login", "taskforce")


def test_field_names_are_case_insensitive_and_colon_may_sit_outside_the_bold() -> None:
    plan = parse("""
        ## Task 7: Case
        **priority**: HIGH
        **REQUIRES APPROVAL:** Yes
        **Description:** do it
        """)
    task = plan.task("7")
    assert task.priority is Priority.HIGH
    assert task.requires_approval is True


def test_date_and_budget_fields_before_the_first_task_belong_to_the_plan() -> None:
    plan = parse("""
        # Sprint day
        **Date:** 2026-12-01
        **Max Cost USD:** $12.50

        ## Task 1: a
        **Description:** x
        """)
    assert plan.title == "Sprint day"
    assert plan.date == "2026-12-01"
    assert plan.max_cost_usd == Decimal("12.50")


def test_a_file_with_three_mistakes_reports_all_three_at_once() -> None:
    found = problems("""
        # Tasks - 2026-11-23

        ## Task 1: Schema
        **Priority:** urgent
        **Description:** x

        ## Task 2: API
        **Depends On:** 9
        **Requires Approval:** maybe
        **Description:** y
        """)
    assert [(p.file, p.line, p.field) for p in found] == [
        ("today.md", 4, "Priority"),
        ("today.md", 8, "Depends On"),
        ("today.md", 9, "Requires Approval"),
    ]
    assert "urgent" in found[0].message
    assert "'9'" in found[1].message
    assert "maybe" in found[2].message


def test_the_error_message_lists_every_problem_as_file_line_field() -> None:
    with pytest.raises(TaskFileError) as caught:
        parse("""
            ## Task 1: a
            **Priority:** urgent
            **Description:** x
            """)
    assert str(caught.value) == "today.md:2: Priority: found 'urgent', expected high, medium or low"


def test_unknown_field_is_named_with_the_fields_that_exist() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Colour:** red
        **Description:** x
        """)
    assert (problem.line, problem.field) == (2, "Colour")
    assert "unknown field" in problem.message
    assert "Claude Instruction" in problem.message


def test_a_field_given_twice_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Priority:** high
        **Priority:** low
        **Description:** x
        """)
    assert (problem.line, problem.field) == (3, "Priority")
    assert "twice" in problem.message


def test_duplicate_task_ids_point_at_the_second_one() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Description:** x
        ## Task 1: b
        **Description:** y
        """)
    assert (problem.line, problem.field) == (3, "id")
    assert "first at line 1" in problem.message


def test_a_dependency_cycle_is_named_in_order() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Depends On:** 2
        **Description:** x
        ## Task 2: b
        **Depends On:** 3
        **Description:** y
        ## Task 3: c
        **Depends On:** 1
        **Description:** z
        """)
    assert (problem.line, problem.field) == (1, "Depends On")
    assert problem.message == "dependency cycle: 1 -> 2 -> 3 -> 1"


def test_a_task_depending_on_itself_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Depends On:** 1
        **Description:** x
        """)
    assert (problem.line, problem.field) == (2, "Depends On")
    assert problem.message == "task 1 depends on itself"


def test_a_task_with_neither_instruction_nor_description_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Priority:** high
        """)
    assert (problem.line, problem.field) == (1, "Claude Instruction")
    assert "neither" in problem.message


def test_a_task_heading_without_title_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1
        **Description:** x
        """)
    assert (problem.line, problem.field) == (1, "title")


@pytest.mark.parametrize("text", ["", "\n\n", "# Tasks - 2026-11-23\n\nJust notes.\n"])
def test_a_file_without_tasks_says_there_are_no_tasks(text: str) -> None:
    [problem] = problems(text)
    assert (problem.line, problem.field) == (1, "tasks")
    assert "no tasks" in problem.message


def test_a_heading_that_is_not_a_task_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Description:** x
        ## Notes
        """)
    assert (problem.line, problem.field) == (3, "heading")


def test_text_outside_any_field_inside_a_task_is_a_problem() -> None:
    [problem] = problems("""
        ## Task 1: a
        **Acceptance Criteria:**
        - one
        stray words
        **Description:** x
        """)
    assert (problem.line, problem.field) == (4, "Acceptance Criteria")


def test_bad_values_of_each_checked_field_are_reported_on_their_line() -> None:
    found = problems("""
        **Max Cost USD:** lots
        ## Task 1: a
        **Type:** two words
        **Estimated Complexity:** huge
        **Depends On:** 1 2
        **Description:** x
        """)
    assert [(p.line, p.field) for p in found] == [
        (1, "Max Cost USD"),
        (3, "Type"),
        (4, "Estimated Complexity"),
        (5, "Depends On"),
    ]


def test_windows_line_endings_and_a_byte_order_mark_change_nothing() -> None:
    text = "# Tasks - 2026-11-23\n\n## Task 1: a\n**Priority:** high\n**Description:** x\n"
    windows = "\ufeff" + text.replace("\n", "\r\n")
    assert parse_task_file(windows, "today.md") == parse_task_file(text, "today.md")
    assert parse_task_file(windows, "today.md").date == "2026-11-23"


def test_an_instruction_may_start_on_the_field_line() -> None:
    plan = parse("""
        ## Task 1: a
        **Claude Instruction:** Do this first.
        Then this.
        """)
    assert plan.task("1").instruction == "Do this first.\nThen this."


def test_a_description_may_start_on_the_next_line_and_keep_its_blank_lines() -> None:
    plan = parse("""
        ## Task 1: a
        **Description:**
        First paragraph.

        Second paragraph.

        **Priority:** low
        """)
    assert plan.task("1").description == "First paragraph.\n\nSecond paragraph."
