"""A day's log in, a task file out: the use case behind ``orch plan``.

The model (the :class:`~orchcore.ports.drafter.Drafter` port) drafts a task file in orch's
markdown format from the user's free-form daily log; the draft is validated with the task-file
parser and orch's own rules for a plan it wrote (database and deployment tasks need approval,
every task says when it is done); an invalid draft goes back once with every problem for repair.
Nothing here writes or runs anything: the caller shows the result and writes it where asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from orchcore.errors import Problem, TaskFileError
from orchcore.ports.drafter import Drafter, DrafterUnavailable, DraftRequest
from orchcore.taskfile import ContextCheck, parse_markdown, parse_task_file
from orchcore.tasks import Plan

APPROVAL_TYPES = frozenset({"database", "deployment"})
"""Task types a drafted plan must stop for a human before starting (a migration, a deploy)."""
MAX_DRAFT_TOKENS = 4096

SYSTEM = """\
You turn a developer's daily log into a task file for orch, a tool that runs AI coding agents.
Answer with the task file only: markdown, no code fence around it, no explanation.

The format, exactly:
# Tasks - DATE

## Task 1: A short title
**Type:** one of database, backend, frontend, testing, documentation, deployment
**Priority:** high, medium or low
**Requires Approval:** true for database and deployment tasks, else false
**Depends On:** ids of tasks that must be done first, or none
**Description:** what to do and why, in one or two sentences
**Acceptance Criteria:**
- a checkable statement of done
**Deliverables:**
- a file the task creates or changes
**Checks:**
- a shell command that must exit 0 when the task is done (e.g. python -m pytest -q)

---

Rules: number tasks 1, 2, 3 in order; a task depends only on tasks before it; every task has a
description and at least one acceptance criterion; split the day into small tasks an agent can
finish alone; only name files and commands the log mentions or that obviously follow from it.
"""

EXAMPLE = """\
# Tasks - 2026-12-01

## Task 1: Add the users table
**Type:** database
**Priority:** high
**Requires Approval:** true
**Depends On:** none
**Description:** Store users with an email and a password hash.
**Acceptance Criteria:**
- a migration creates the users table
- email is unique
**Deliverables:**
- db/migrations/001_users.sql
**Checks:**
- test -f db/migrations/001_users.sql

---

## Task 2: Signup endpoint
**Type:** backend
**Priority:** medium
**Requires Approval:** false
**Depends On:** 1
**Description:** POST /signup creates a user and answers 201.
**Acceptance Criteria:**
- POST /signup with a new email answers 201
- a second signup with the same email answers 409
**Deliverables:**
- app/signup.py
- tests/test_signup.py
**Checks:**
- python -m pytest -q tests/test_signup.py

---
"""


@attrs.frozen
class PlanDraft:
    """What ``orch plan`` got: the final draft's text, its plan when valid, else every problem.

    ``tries`` is 1, or 2 when the first draft was sent back for repair.
    """

    text: str
    plan: Plan | None
    problems: tuple[Problem, ...]
    tries: int
    model: str = ""
    repair_failed: str = ""  # why the repair was not made (the model failed on the second request)

    @property
    def valid(self) -> bool:
        return self.plan is not None and not self.problems

    @property
    def repaired(self) -> bool:
        return self.valid and self.tries > 1


def day_of(name: str) -> str:
    """The date a log's file name carries (``daily_logs/2026-12-01.md``: 2026-12-01), else ''."""
    found = re.search(r"\d{4}-\d{2}-\d{2}", name.rsplit("/", 1)[-1])
    return found.group(0) if found else ""


def plan_request(log_text: str, day: str) -> DraftRequest:
    """The first request: the format, an example, and the user's log."""
    prompt = (
        f"An example task file:\n\n{EXAMPLE}\n"
        f"The daily log{f' of {day}' if day else ''}:\n\n{log_text.strip()}\n\n"
        f"Write the task file for this log{f', titled # Tasks - {day}' if day else ''}."
    )
    return DraftRequest(SYSTEM, prompt, MAX_DRAFT_TOKENS)


def repair_request(log_text: str, day: str, draft: str, problems: Sequence[Problem]) -> DraftRequest:
    """The second request: the first draft with every problem orch found in it, to be fixed whole."""
    listed = "\n".join(f"- line {p.line}: {p.field}: {p.message}" for p in problems)
    prompt = (
        f"{plan_request(log_text, day).prompt}\n\n"
        f"Your previous answer was:\n\n{draft.strip()}\n\n"
        f"orch found these problems in it:\n{listed}\n\n"
        "Write the whole corrected task file."
    )
    return DraftRequest(SYSTEM, prompt, MAX_DRAFT_TOKENS)


_FENCE = re.compile(r"^\s*(```|~~~)")


def task_file_text(answer: str) -> str:
    """The task file in a model's answer: the inside of a code fence around it (chatter before or
    after the fence dropped), else the text from its first heading; ends with one newline."""
    lines = answer.strip().splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if len(fences) >= 2:
        inside = lines[fences[0] + 1 : fences[-1]]
        if any(line.startswith("## Task") for line in inside):
            lines = inside
    first = next((i for i, line in enumerate(lines) if line.startswith("#")), 0)
    return "\n".join(lines[first:]).strip() + "\n"


def check_draft(
    text: str, filename: str, context: ContextCheck | None = None
) -> tuple[Plan | None, list[Problem]]:
    """The draft's plan and every problem: the parser's (syntax, graph, context files) and orch's
    rules for a drafted plan (approval for database/deployment tasks, acceptance criteria), all at
    once (the rules are checked on what the parser could read even when it found problems)."""
    try:
        plan = parse_task_file(text, filename, context)
    except TaskFileError as exc:
        return None, [*exc.problems, *drafted_plan_problems(parse_markdown(text, filename)[0], filename)]
    problems = drafted_plan_problems(plan, filename)
    return (None if problems else plan), problems


def drafted_plan_problems(plan: Plan, filename: str) -> list[Problem]:
    """What orch asks of a plan a model wrote, beyond a valid file: a human approves database and
    deployment tasks before they start, and every task says when it is done."""
    problems = []
    for task in plan.tasks:
        if task.type.lower() in APPROVAL_TYPES and not task.requires_approval:
            problems.append(
                Problem(
                    filename,
                    task.line,
                    "Requires Approval",
                    f"task {task.id} is a {task.type} task: expected **Requires Approval:** true",
                )
            )
        if not task.acceptance_criteria:
            problems.append(
                Problem(
                    filename,
                    task.line,
                    "Acceptance Criteria",
                    f"task {task.id} has none, expected at least one checkable statement of done",
                )
            )
    return problems


def draft_task_file(
    log_text: str,
    log_name: str,
    target_name: str,
    drafter: Drafter,
    context: ContextCheck | None = None,
) -> PlanDraft | DrafterUnavailable:
    """Draft a task file from ``log_text`` with ``drafter``, validated as ``target_name``; an invalid
    draft is sent back once with its problems. DrafterUnavailable when no draft came back at all."""
    day = day_of(log_name)
    answer = drafter.draft(plan_request(log_text, day))
    if isinstance(answer, DrafterUnavailable):
        return answer
    text = task_file_text(answer.text)
    plan, problems = check_draft(text, target_name, context)
    if plan is not None:
        return PlanDraft(text, plan, (), 1, answer.model)
    second = drafter.draft(repair_request(log_text, day, text, problems))
    if isinstance(second, DrafterUnavailable):
        return PlanDraft(text, None, tuple(sorted(problems)), 1, answer.model, second.reason)
    repaired = task_file_text(second.text)
    plan, problems = check_draft(repaired, target_name, context)
    return PlanDraft(repaired, plan, tuple(sorted(problems)), 2, second.model)


TEMPLATE = """\
# Tasks - {day}

Notes for yourself (ignored by orch): what the day is about, links, context.

## Task 1: Write the first task's title
**Type:** backend
**Priority:** high
**Requires Approval:** false
**Depends On:** none
**Description:** What to do and why.
**Acceptance Criteria:**
- a checkable statement of done
**Deliverables:**
- path/to/the/file.py
**Checks:**
- python -m pytest -q

---

## Task 2: A database change (stops for your approval)
**Type:** database
**Priority:** medium
**Requires Approval:** true
**Depends On:** 1
**Description:** Write the migration; do not run it.
**Acceptance Criteria:**
- a migration file exists and is not applied
**Deliverables:**
- db/migrations/002_change.sql

---
"""


def template(day: str) -> str:
    """A task file to fill in by hand, for ``day`` (the placeholder DATE when '')."""
    return TEMPLATE.format(day=day or "DATE")
