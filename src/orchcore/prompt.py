"""The prompt an agent gets for a task: the task's own words plus the house rules."""

from __future__ import annotations

from orchcore.tasks import Plan, Task

HOUSE_RULES = (
    "Work only inside the current directory.",
    "Do not commit, push, rebase, reset or switch git branches: a human reviews and commits your work.",
    "Do not run database migrations against any database.",
    "If you cannot finish, say clearly what is missing.",
)


def answer_prompt(question: str, answer: str) -> str:
    """What an agent gets when it continues its own session after asking a human."""
    return f"A human answered your question.\n\nYour question:\n{question}\n\nThe answer:\n{answer}\n\nContinue the task.\n"


def feedback_prompt(feedback: str) -> str:
    """What an agent gets when it continues its own session after its attempt was checked and not accepted."""
    return f"Your last attempt was checked and is not done yet.\n\n{feedback.strip()}\n\nFix this, then finish the task.\n"


def build_prompt(plan: Plan, task: Task, *, feedback: str = "", question: str = "", answer: str = "") -> str:
    """The full prompt for ``task``; ``feedback`` is added on a retry, and an earlier
    question with its answer when the agent cannot continue its own session."""
    parts = [f"# Task {task.id}: {task.title}"]
    meta = [f"Type: {task.type}", f"Priority: {task.priority.value}"]
    if task.module:
        meta.append(f"Module: {task.module}")
    parts.append("\n".join(meta))
    if task.description:
        parts.append(f"## Description\n{task.description}")
    if task.instruction:
        parts.append(f"## Instruction\n{task.instruction}")
    for title, items in (
        ("Acceptance criteria", task.acceptance_criteria),
        ("Context files (read these first)", task.context_files),
        ("Deliverables", task.deliverables),
    ):
        if items:
            parts.append(f"## {title}\n" + "\n".join(f"- {item}" for item in items))
    if task.depends_on:
        done = ", ".join(f"{d} ({plan.task(d).title})" for d in task.depends_on)
        parts.append(f"## Already done\nTasks {done} are complete.")
    if feedback:
        parts.append(f"## Feedback on the previous attempt\n{feedback}")
    if question and answer:
        parts.append(f"## Your earlier question\n{question}\n\n## The human's answer\n{answer}")
    parts.append("## Rules\n" + "\n".join(f"- {rule}" for rule in HOUSE_RULES))
    return "\n\n".join(parts) + "\n"
