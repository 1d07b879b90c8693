"""The prompt an agent gets for a task: the task template rendered with the task, the house rules
and the context files' contents, fitted to the agent's context budget.

Pure: the house rules and context files arrive as text (apps read them, the engine through
a port); :class:`Prompter` renders the templates (:mod:`orchcore.templating`) and fits the
parts with :func:`orchcore.context_budget.fit`, returning what it cut so the engine records it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from orchcore.context_budget import Cut, Keep, Part, Rank, TokenEstimator, fit
from orchcore.tasks import Plan, Task, file_stem
from orchcore.templates import shipped_sources
from orchcore.templating import ANSWER, RETRY, TASK, Templates

DEFAULT_AGENT_CONTEXT_TOKENS = 32_000
"""The agent prompt's budget: a sixth of Claude's 200k window, the rest is the agent's own work."""
_REFITS = 4  # a template's own text around the parts is measured and the parts refitted at most this often


@attrs.frozen
class HouseRule:
    """One house-rules file of the project (``.orch-rules/agent_instructions.md``): its name, a
    title (its first heading, else the name) and its text."""

    name: str
    title: str
    text: str


@attrs.frozen
class ContextFile:
    """A context file a task names, with its text now (None: it cannot be read)."""

    path: str
    text: str | None


@attrs.frozen
class BuiltPrompt:
    """A rendered prompt and what the context budget cut from it (recorded as an event)."""

    text: str
    cuts: tuple[Cut, ...] = ()
    tokens: int = 0


@functools.cache
def shipped_templates() -> Templates:
    """The templates orch ships, compiled once."""
    return Templates(shipped_sources())


def fit_rendered(
    templates: Templates,
    name: str,
    variables: Mapping[str, Any],
    parts: Sequence[Part],
    bind: Any,
    budget_tokens: int,
    estimator: TokenEstimator,
    model: str = "",
) -> BuiltPrompt:
    """Render ``name`` with ``parts`` fitted into what the template's own text leaves of the budget.

    ``bind(texts)`` turns the fitted texts (by part name) into the template variables they fill.
    """

    def render(texts: Mapping[str, str]) -> str:  # one final newline, whatever the template's loops leave
        return templates.render(name, {**variables, **bind(texts)}).rstrip("\n") + "\n"

    room = budget_tokens - estimator.tokens(render({p.name: "" for p in parts}), model)
    fitted = fit(parts, max(room, 0), estimator, model)
    text = render(fitted.texts)
    for _ in range(_REFITS):
        over = estimator.tokens(text, model) - budget_tokens
        if over <= 0 or room <= 0:
            break
        room = min(room, fitted.tokens) - over  # the parts' own use, not the room they left unused
        fitted = fit(parts, max(room, 0), estimator, model)
        text = render(fitted.texts)
    return BuiltPrompt(text, fitted.cuts, estimator.tokens(text, model))


def task_variables(plan: Plan | None, task: Task) -> dict[str, Any]:
    """The task as template variables (plain values: a template sees no Python objects); ``done``
    lists the tasks it depends on (none without the plan)."""
    return {
        "task": {
            "id": task.id,
            "title": task.title,
            "type": task.type,
            "priority": task.priority.value,
            "module": task.module,
            "description": task.description,
            "instruction": task.instruction,
            "acceptance_criteria": list(task.acceptance_criteria),
            "context_files": list(task.context_files),
            "deliverables": list(task.deliverables),
            "checks": list(task.checks),
            "question_file": f"questions/{file_stem(task.id)}.md",  # where the agent asks a human
        },
        "done": [] if plan is None else [{"id": d, "title": plan.task(d).title} for d in task.depends_on],
    }


@attrs.define
class Prompter:
    """Builds the agent's prompts from the templates, the house rules and the context budget."""

    templates: Templates = attrs.field(factory=shipped_templates)
    house_rules: tuple[HouseRule, ...] = ()
    budget_tokens: int = DEFAULT_AGENT_CONTEXT_TOKENS
    estimator: TokenEstimator = attrs.field(factory=TokenEstimator)
    model: str = ""  # the agent's model, for its characters-per-token ratio
    lessons_by_type: Mapping[str, Sequence[str]] = attrs.field(factory=dict)
    """Lessons from the user's feedback by task type (lower case; ``*``: every type), newest first."""

    def lessons_for(self, task_type: str) -> list[str]:
        """The lessons a task of ``task_type`` is told: those of its type, then those of every type."""
        own = self.lessons_by_type.get(task_type.strip().lower(), ())
        every = self.lessons_by_type.get("*", ()) if task_type.strip().lower() != "*" else ()
        return [*own, *every]

    def task(
        self,
        plan: Plan,
        task: Task,
        *,
        context: Sequence[ContextFile] = (),
        feedback: str = "",
        question: str = "",
        answer: str = "",
        lessons: Sequence[str] | None = None,
    ) -> BuiltPrompt:
        """The full prompt for ``task``; ``feedback`` is added on a retry, and an earlier question
        with its answer when the agent cannot continue its own session. ``lessons`` (default: those
        of the task's type, :meth:`lessons_for`) share the context budget, one per line, kept
        before house rules and context files and cut from the oldest."""
        told = self.lessons_for(task.type) if lessons is None else list(lessons)
        parts = [Part("feedback", feedback, Rank.FAILING, Keep.TAIL)] if feedback else []
        if told:  # ranked with the diff: a few lines that say what went wrong before
            parts.append(Part("lessons", "\n".join(" ".join(x.split()) for x in told), Rank.DIFF))
        parts += [Part(f"rules:{r.name}", r.text, Rank.CONTEXT) for r in self.house_rules]
        parts += [Part(f"context:{c.path}", c.text or "", Rank.CONTEXT) for c in context]
        rules = self.house_rules
        variables = task_variables(plan, task) | {
            "question": question,
            "answer": answer,
        }

        def bind(texts: Mapping[str, str]) -> dict[str, Any]:
            return {
                "feedback": texts.get("feedback", ""),
                "lessons": [line for line in texts.get("lessons", "").splitlines() if line.strip()],
                "house_rules": [
                    {"name": r.name, "title": r.title, "text": texts[f"rules:{r.name}"].rstrip("\n")}
                    for r in rules
                ],
                "context_files": [
                    {
                        "path": c.path,
                        "text": texts[f"context:{c.path}"].rstrip("\n"),
                        "missing": c.text is None,
                    }
                    for c in context
                ],
            }

        return fit_rendered(
            self.templates, TASK, variables, parts, bind, self.budget_tokens, self.estimator, self.model
        )

    def retry(self, feedback: str) -> str:
        """What an agent gets when it continues its own session after its attempt was checked and not accepted."""
        return self.templates.render(RETRY, {"feedback": feedback.strip()})

    def answer(self, question: str, answer: str) -> str:
        """What an agent gets when it continues its own session after asking a human."""
        return self.templates.render(ANSWER, {"question": question, "answer": answer})


def answer_prompt(question: str, answer: str) -> str:
    """:meth:`Prompter.answer` with the shipped templates."""
    return Prompter().answer(question, answer)


def feedback_prompt(feedback: str) -> str:
    """:meth:`Prompter.retry` with the shipped templates."""
    return Prompter().retry(feedback)


def build_prompt(plan: Plan, task: Task, *, feedback: str = "", question: str = "", answer: str = "") -> str:
    """:meth:`Prompter.task` with the shipped templates and no house rules or context contents."""
    return Prompter().task(plan, task, feedback=feedback, question=question, answer=answer).text
