"""Lessons in the agent's prompt: those of the task's type and of every type, newest first, within
the context budget (the oldest cut first, the cut recorded)."""

from __future__ import annotations

from orchcore.prompt import Prompter
from orchcore.tasks import Plan, Task

TASK = Task("1", "Signup", type="backend", description="POST /signup")
PLAN = Plan("t.md", (TASK,))


def test_a_task_is_told_the_lessons_of_its_type_and_of_every_type_and_no_others() -> None:
    prompter = Prompter(
        lessons_by_type={
            "backend": ["Use the real database."],
            "*": ["Keep commits small."],
            "docs": ["Link it."],
        }
    )
    text = prompter.task(PLAN, TASK).text
    section = text.split("## Lessons from earlier work on backend tasks\n", 1)[1]
    assert section.startswith("- Use the real database.\n- Keep commits small.\n")
    assert "Link it." not in text


def test_without_lessons_there_is_no_lessons_section() -> None:
    assert "## Lessons" not in Prompter().task(PLAN, TASK).text


def test_a_short_budget_cuts_the_oldest_lessons_first_and_says_so() -> None:
    lessons = [f"lesson number {n} " + "x" * 80 for n in range(200, 0, -1)]  # newest first
    whole = Prompter(lessons_by_type={"backend": lessons}).task(PLAN, TASK)
    budget = whole.tokens // 2
    cut = Prompter(lessons_by_type={"backend": lessons}, budget_tokens=budget).task(PLAN, TASK)
    assert cut.tokens <= budget
    assert "- lesson number 200 " in cut.text  # the newest is kept
    assert "- lesson number 1 " not in cut.text
    assert [c.part for c in cut.cuts] == ["lessons"]
