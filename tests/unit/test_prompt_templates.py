"""Prompts from templates: the house rules and context files' contents arrive, a project template
replaces the shipped one, and a broken template is an error naming its file and line."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orchcore.errors import ConfigError
from orchcore.prompt import ContextFile, HouseRule, Prompter
from orchcore.tasks import Plan, Task
from orchcore.templates import shipped_sources
from orchcore.templating import TASK, Templates, TemplateSource

TASK_1 = Task(
    id="1",
    title="Signup",
    type="backend",
    instruction="Add POST /signup.",
    acceptance_criteria=("email is unique",),
    context_files=("docs/api.md",),
)
PLAN = Plan("tasks.md", (TASK_1,))
RULES = (HouseRule("agent_instructions.md", "Agent instructions", "Always write a test first.\n"),)


def overridden(name: str, text: str) -> Templates:
    return Templates(shipped_sources() | {name: TemplateSource(name, text, f".orch-rules/templates/{name}")})


def test_house_rules_and_context_file_contents_are_in_the_task_prompt() -> None:
    context = (ContextFile("docs/api.md", "POST /signup returns 201.\n"),)
    text = Prompter(house_rules=RULES).task(PLAN, TASK_1, context=context).text
    assert "## Agent instructions (agent_instructions.md)\nAlways write a test first." in text
    assert "## Context file docs/api.md" in text
    assert "POST /signup returns 201." in text
    assert "- Do not run database migrations against any database." in text
    assert text.index("email is unique") < text.index("Always write a test first.")


def test_a_project_template_replaces_the_shipped_one() -> None:
    templates = overridden(
        TASK, "Do {{ task.title }} ({{ task.type }}).\n{% for c in context_files %}{{ c.text }}{% endfor %}"
    )
    text = Prompter(templates).task(PLAN, TASK_1, context=(ContextFile("docs/api.md", "spec"),)).text
    assert text == "Do Signup (backend).\nspec\n"


def test_an_unknown_variable_is_an_error_with_the_template_file_and_line() -> None:
    templates = overridden(TASK, "# {{ task.title }}\n\n{{ tsk.id }}\n")
    with pytest.raises(ConfigError, match=r"^\.orch-rules/templates/task\.md\.j2:3: 'tsk' is undefined"):
        Prompter(templates).task(PLAN, TASK_1)


def test_every_syntax_error_is_reported_at_once_with_its_line() -> None:
    sources = shipped_sources() | {
        "task.md.j2": TemplateSource("task.md.j2", "ok\n{% if %}\n", "t/task.md.j2"),
        "retry.md.j2": TemplateSource("retry.md.j2", "\n\n{{ feedback", "t/retry.md.j2"),
    }
    with pytest.raises(ConfigError) as caught:
        Templates(sources)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == ["t/task.md.j2:2", "t/retry.md.j2:3"]


def test_a_template_cannot_reach_python_internals() -> None:
    templates = overridden(TASK, "{{ task.title.__class__.__mro__ }}")
    with pytest.raises(ConfigError, match=r"task\.md\.j2:1"):
        Prompter(templates).task(PLAN, TASK_1)


def test_a_long_context_file_is_cut_with_a_marker_and_the_cut_is_returned() -> None:
    big = "".join(f"line {i}\n" for i in range(50_000))
    built = Prompter(budget_tokens=2_000).task(PLAN, TASK_1, context=(ContextFile("docs/api.md", big),))
    assert "email is unique" in built.text
    assert "lines cut to fit the context budget …]" in built.text
    assert [c.part for c in built.cuts] == ["context:docs/api.md"]
    assert len(built.text) <= 2_000 * 3


@given(st.integers(0, 20_000), st.integers(1, 3000))
@example(295, 1401)  # the sections' headings outgrew the budget by 5 tokens and 4 refits never cut
def test_the_task_prompt_stays_in_its_budget_and_keeps_the_task(lines: int, budget: int) -> None:
    feedback = "".join(f"E   failure {i}\n" for i in range(lines // 4))
    context = (ContextFile("docs/api.md", "".join(f"spec {i}\n" for i in range(lines))),)
    built = Prompter(house_rules=RULES, budget_tokens=budget).task(
        PLAN, TASK_1, context=context, feedback=feedback
    )
    skeleton = Prompter(budget_tokens=0).task(PLAN, TASK_1).text
    assert "# Task 1: Signup" in built.text
    assert "email is unique" in built.text
    if len(skeleton) + 400 <= budget * 3:  # room beyond the task itself and its headings
        assert len(built.text) <= budget * 3
    for cut in built.cuts:
        assert f"[… {cut.lines:,} lines cut to fit the context budget …]" in built.text or cut.dropped
