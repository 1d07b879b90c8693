"""Task files (markdown or YAML) in, a validated :class:`~orchcore.tasks.Plan` out.

Parsing is pure: callers read the file and pass its text and name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchcore.errors import Problem, TaskFileError
from orchcore.graph import graph_problems
from orchcore.taskfile.encoding import decode_task_file, text_problem
from orchcore.tasks import Plan

if TYPE_CHECKING:
    from orchcore.taskfile.markdown import parse_markdown, render_markdown
    from orchcore.taskfile.yaml_format import parse_yaml, render_yaml

__all__ = [
    "context_problems",
    "decode_task_file",
    "parse_markdown",
    "parse_task_bytes",
    "parse_task_file",
    "parse_yaml",
    "render_markdown",
    "render_yaml",
]

_YAML_SUFFIXES = (".yaml", ".yml")

# each format's parser is imported when a file of it is read: a markdown plan needs no yaml
_EXPORTS = {
    "parse_markdown": "orchcore.taskfile.markdown",
    "render_markdown": "orchcore.taskfile.markdown",
    "parse_yaml": "orchcore.taskfile.yaml_format",
    "render_yaml": "orchcore.taskfile.yaml_format",
}

if not TYPE_CHECKING:  # mypy sees the imports above, so a misspelled name stays an error

    def __getattr__(name: str) -> Any:
        """Import a format's functions on first use."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'orchcore.taskfile' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)


ContextCheck = Callable[[str], str | None]
"""Why a context file a task names cannot be given to its agent (missing, a directory), or None."""


def parse_task_file(text: str, filename: str, context_problem: ContextCheck | None = None) -> Plan:
    """Parse a task file by its suffix (``.yaml``/``.yml`` or markdown) and validate it.

    Raises :class:`TaskFileError` listing every problem found, syntax and graph alike, and
    each context file ``context_problem`` (the caller's look at the workspace) refuses.
    """
    unencodable = text_problem(text, filename)
    if unencodable is not None:
        raise TaskFileError([unencodable])
    if filename.lower().endswith(_YAML_SUFFIXES):
        from orchcore.taskfile.yaml_format import parse_yaml

        plan, problems = parse_yaml(text, filename)
        field = "depends_on"
    else:
        from orchcore.taskfile.markdown import parse_markdown

        plan, problems = parse_markdown(text, filename)
        field = "Depends On"
    problems = [*problems, *graph_problems(plan.tasks, filename, field=field)]
    if context_problem is not None:
        problems += context_problems(plan, filename, context_problem, yaml=field == "depends_on")
    if not plan.tasks and not problems:
        problems.append(Problem(filename, 1, "tasks", "no tasks found; expected at least one task"))
    if problems:
        raise TaskFileError(problems)
    return plan


def context_problems(plan: Plan, filename: str, check: ContextCheck, *, yaml: bool = False) -> list[Problem]:
    """One problem per context file ``check`` refuses, at the line of the task's context files field."""
    field = "context_files" if yaml else "Context Files"
    found = []
    for task in plan.tasks:
        for path in task.context_files:
            why = check(path)
            if why is not None:
                line = task.context_files_line or task.line
                found.append(Problem(filename, line, field, f"task {task.id}: {path} {why}"))
    return found


def parse_task_bytes(data: bytes, filename: str, context_problem: ContextCheck | None = None) -> Plan:
    """Decode a task file's bytes (UTF-8, or UTF-16/32 with a BOM) and parse them."""
    return parse_task_file(decode_task_file(data, filename), filename, context_problem)
