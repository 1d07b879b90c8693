"""The markdown task-file format users already write.

# Tasks - 2026-11-23
## Task 1: Add the users table
**Type:** database
**Priority:** high
**Requires Approval:** true
**Description:** ...
**Acceptance Criteria:**
- ...
**Claude Instruction:**
free text up to the separator
---
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import attrs
from markdown_it import MarkdownIt

from orchcore.errors import Problem
from orchcore.taskfile import _fields as f
from orchcore.tasks import Complexity, Plan, Priority, Task

_TASK_HEADING = re.compile(r"^##\s+Task\s+([^\s:]+)\s*:?\s*(.*)$", re.IGNORECASE)
_H2 = re.compile(r"^##\s")
_H1 = re.compile(r"^#\s+(.*)$")
_FIELD = re.compile(r"^\*\*([^*:]+?)\s*:\s*\*\*\s*(.*)$|^\*\*([^*:]+?)\s*\*\*\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s*[-*+]\s+(.*)$")
_SEPARATOR = re.compile(r"^-{3,}\s*$")

# block structure only: inline markup cannot open or close a fence
_COMMONMARK = MarkdownIt("commonmark").disable("inline")

_SCALAR = "scalar"
_MULTILINE = frozenset({"description"})
_LIST = "list"
_TEXT = "text"

# normalised field name -> (key, kind)
_TASK_FIELDS: dict[str, tuple[str, str]] = {
    "type": ("type", _SCALAR),
    "priority": ("priority", _SCALAR),
    "requires approval": ("requires_approval", _SCALAR),
    "approval": ("requires_approval", _SCALAR),
    "description": ("description", _SCALAR),
    "module": ("module", _SCALAR),
    "estimated complexity": ("estimated_complexity", _SCALAR),
    "complexity": ("estimated_complexity", _SCALAR),
    "acceptance criteria": ("acceptance_criteria", _LIST),
    "depends on": ("depends_on", _LIST),
    "dependencies": ("depends_on", _LIST),
    "context files": ("context_files", _LIST),
    "deliverables": ("deliverables", _LIST),
    "checks": ("checks", _LIST),
    "claude instruction": ("instruction", _TEXT),
    "agent instruction": ("instruction", _TEXT),
    "instruction": ("instruction", _TEXT),
}
_PLAN_FIELDS = {"date": "date", "max cost usd": "max_cost_usd", "max cost": "max_cost_usd"}
_KNOWN = "Type, Priority, Requires Approval, Description, Acceptance Criteria, Depends On, Context Files, Deliverables, Checks, Module, Estimated Complexity, Claude Instruction"


@attrs.define
class _Draft:
    id: str
    title: str
    line: int
    scalars: dict[str, tuple[int, str]] = attrs.field(factory=dict)
    lists: dict[str, tuple[int, list[str]]] = attrs.field(factory=dict)
    instruction: list[str] = attrs.field(factory=list)
    instruction_line: int = 0


@attrs.frozen
class _Fence:
    """A fenced code block as CommonMark reads it: lines ``first``..``last`` (from 1)."""

    first: int
    last: int
    markup: str
    closed: bool


def _fences(lines: list[str]) -> list[_Fence]:
    """Every fenced code block (in lists and quotes too), found by markdown-it-py.

    Its lines are the author's text whatever they look like: a ``---`` or a heading inside
    a fence does not end a task.
    """
    if not any(marker in line for line in lines for marker in ("```", "~~~")):
        return []  # the common case needs no parse at all
    tokens = _COMMONMARK.parse("\n".join(lines))
    fences = []
    for token in tokens:
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        closing = lines[end - 1].strip().lstrip(">").strip() if end - 1 > start else ""
        closed = end < len(lines) or (closing.startswith(token.markup) and set(closing) == {token.markup[0]})
        fences.append(_Fence(start + 1, end, token.markup, closed))
    return fences


@attrs.define
class _Parser:
    filename: str
    fenced: frozenset[int] = frozenset()
    problems: list[Problem] = attrs.field(factory=list)
    tasks: list[Task] = attrs.field(factory=list)
    title: str = ""
    plan_fields: dict[str, tuple[int, str]] = attrs.field(factory=dict)
    draft: _Draft | None = None
    mode: str | None = None
    field_key: str = ""

    def problem(self, line: int, field: str, message: str) -> None:
        self.problems.append(Problem(self.filename, line, field, message))

    def feed(self, number: int, raw: str) -> None:
        line = raw.rstrip()
        if number in self.fenced:
            if self.mode == _TEXT and self.draft is not None:
                self.draft.instruction.append(line)
            else:
                self.text(number, line)
            return
        if self.mode == _TEXT and self.draft is not None:
            if _SEPARATOR.match(line) or _TASK_HEADING.match(line):
                self.finish()
                if _TASK_HEADING.match(line):
                    self.start(number, line)
                return
            self.draft.instruction.append(line)
            return
        if _SEPARATOR.match(line):
            self.finish()
            return
        if _H2.match(line):
            if _TASK_HEADING.match(line):
                self.finish()
                self.start(number, line)
            else:
                self.problem(number, "heading", f"found {line!r}, expected '## Task N: Title'")
            return
        h1 = _H1.match(line)
        if h1 is not None:
            if self.title or self.draft is not None:
                self.problem(
                    number, "heading", f"found a second title {line!r}, expected one '# Title' at the top"
                )
            else:
                self.title = h1.group(1).strip()
            return
        field = _FIELD.match(line)
        if field is not None:
            name = field.group(1) or field.group(3)
            value = field.group(2) if field.group(1) else field.group(4)
            self.field(number, name.strip(), value.strip())
            return
        self.text(number, line)

    def start(self, number: int, line: str) -> None:
        match = _TASK_HEADING.match(line)
        assert match is not None  # noqa: S101 - checked by the caller
        task_id, title = match.group(1).strip(), match.group(2).strip()
        if not title:
            self.problem(number, "title", "found nothing after the task number, expected '## Task N: Title'")
        self.draft = _Draft(task_id, title, number)
        self.mode = None

    def field(self, number: int, name: str, value: str) -> None:
        norm = " ".join(name.lower().split())
        if self.draft is None:
            key = _PLAN_FIELDS.get(norm)
            if key is None:
                self.problem(number, name, "found a task field before the first '## Task N: Title' heading")
                return
            self.plan_fields[key] = (number, value)
            return
        known = _TASK_FIELDS.get(norm)
        if known is None:
            self.problem(number, name, f"unknown field, expected one of: {_KNOWN}")
            self.mode = None
            return
        key, kind = known
        draft = self.draft
        if key in draft.scalars or key in draft.lists or (key == "instruction" and draft.instruction_line):
            self.problem(number, name, f"given twice in task {draft.id}, expected it once")
        self.field_key = key
        self.mode = kind
        if kind == _SCALAR:
            draft.scalars[key] = (number, value)
        elif kind == _LIST:
            if key == "depends_on":
                deps = f.split_dependencies(value)
                if isinstance(deps, f.Bad):
                    self.problem(number, name, deps.message)
                    deps = []
                draft.lists[key] = (number, deps)
            elif key == "checks":  # a command is one line: commas are its own
                draft.lists[key] = (number, [check] if (check := f.as_check(value)) else [])
            else:
                draft.lists[key] = (number, f.split_inline_list(value))
        else:
            draft.instruction_line = number
            draft.instruction = [value] if value else []

    def text(self, number: int, line: str) -> None:
        draft = self.draft
        if draft is None:
            return  # free text before the first task is the author's notes
        item = _ITEM.match(line)
        if self.mode == _LIST:
            if item is not None:
                self.add_item(number, item.group(1).strip())
            elif line.strip() and line[:1].isspace() and draft.lists[self.field_key][1]:
                _, items = draft.lists[self.field_key]
                items[-1] = f"{items[-1]} {line.strip()}"
            elif self.field_key == "checks" and line.strip():  # one command per line
                if not line.strip().startswith(("```", "~~~")):
                    self.add_item(number, line)
            elif line.strip() and line[:1].isspace():
                pass  # an indented line under an empty list: nothing to continue
            elif line.strip():
                self.problem(
                    number,
                    _label(self.field_key),
                    f"found {line.strip()!r}, expected '- item' or a new **Field:**",
                )
            return
        if self.mode == _SCALAR and self.field_key in _MULTILINE:
            first, value = draft.scalars[self.field_key]
            draft.scalars[self.field_key] = (first, f"{value}\n{line.strip()}" if value else line.strip())
            return
        if line.strip():
            self.problem(
                number, "text", f"found {line.strip()!r} outside any field, expected '**Field:** value'"
            )

    def add_item(self, number: int, text: str) -> None:
        assert self.draft is not None  # noqa: S101 - only called inside a task
        _, items = self.draft.lists[self.field_key]
        if self.field_key == "depends_on":
            deps = f.split_dependencies(text)
            if isinstance(deps, f.Bad):
                self.problem(number, "Depends On", deps.message)
                return
            items.extend(deps)
        elif self.field_key == "checks":
            if check := f.as_check(text):
                items.append(check)
        elif text:
            items.append(text)

    def finish(self) -> None:
        draft, self.draft, self.mode = self.draft, None, None
        if draft is None:
            return
        self.tasks.append(self.build(draft))

    def build(self, d: _Draft) -> Task:
        def scalar(key: str, convert: Callable[[str], object], default: object) -> object:
            if key not in d.scalars:
                return default
            line, value = d.scalars[key]
            result = convert(value)
            if isinstance(result, f.Bad):
                self.problem(line, _label(key), result.message)
                return default
            return result

        task_type = "any"
        if "type" in d.scalars:
            line, value = d.scalars["type"]
            problem = f.type_problem(value)
            if problem is not None:
                self.problem(line, "Type", problem)
            else:
                task_type = f.as_type(value)
        priority = scalar("priority", f.as_priority, Priority.MEDIUM)
        approval = scalar("requires_approval", f.as_bool, False)
        complexity = scalar("estimated_complexity", f.as_complexity, None)
        description = d.scalars.get("description", (0, ""))[1].strip()
        instruction = _trim_block(d.instruction)
        if not instruction and not description:
            self.problem(
                d.line,
                "Claude Instruction",
                f"task {d.id} has neither, expected **Claude Instruction:** or **Description:** with what to do",
            )
        lists = {k: tuple(v[1]) for k, v in d.lists.items()}
        assert isinstance(priority, Priority)  # noqa: S101 - converters return their type
        assert isinstance(approval, bool)  # noqa: S101
        assert complexity is None or isinstance(complexity, Complexity)  # noqa: S101
        return Task(
            id=d.id,
            title=d.title,
            type=task_type,
            priority=priority,
            requires_approval=approval,
            description=description,
            acceptance_criteria=lists.get("acceptance_criteria", ()),
            instruction=instruction,
            depends_on=lists.get("depends_on", ()),
            context_files=lists.get("context_files", ()),
            deliverables=lists.get("deliverables", ()),
            checks=lists.get("checks", ()),
            module=d.scalars.get("module", (0, ""))[1].strip(),
            estimated_complexity=complexity,
            line=d.line,
            depends_on_line=d.lists.get("depends_on", (0, []))[0],
            context_files_line=d.lists.get("context_files", (0, []))[0],
        )

    def plan(self) -> Plan:
        date = self.plan_fields.get("date", (0, ""))[1]
        title = self.title
        if not date and " - " in title:
            date = title.rsplit(" - ", 1)[1].strip()
        max_cost: Decimal | None = None
        if "max_cost_usd" in self.plan_fields:
            line, value = self.plan_fields["max_cost_usd"]
            amount = f.as_money(value)
            if isinstance(amount, f.Bad):
                self.problem(line, "Max Cost USD", amount.message)
            else:
                max_cost = amount
        return Plan(
            source=self.filename, tasks=tuple(self.tasks), date=date, title=title, max_cost_usd=max_cost
        )


def _label(key: str) -> str:
    return key.replace("_", " ").title()


def _trim_block(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def parse_markdown(text: str, filename: str) -> tuple[Plan, list[Problem]]:
    """Parse markdown task-file text; return the plan and every syntax problem found."""
    # editors on Windows start UTF-8 files with a byte-order mark; it would hide the first heading
    text = text.removeprefix("\ufeff")
    # lines end where editors and CommonMark end them (not at form feeds or U+2028)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and not lines[-1]:
        lines.pop()
    fences = _fences(lines)
    parser = _Parser(
        filename, frozenset(n for fence in fences if fence.closed for n in range(fence.first, fence.last + 1))
    )
    for fence in fences:
        if not fence.closed:
            parser.problem(
                fence.first,
                "fence",
                f"a code block opened here with {fence.markup} is never closed, "
                f"expected a closing {fence.markup} line",
            )
    for number, raw in enumerate(lines, start=1):
        parser.feed(number, raw)
    parser.finish()
    return parser.plan(), parser.problems


def render_markdown(plan: Plan) -> str:
    """The markdown text that parses back to ``plan``."""
    # a made-up "# Tasks - DATE" heading would parse back as a title the plan does not have
    out = [f"# {plan.title}", ""] if plan.title else []
    if plan.date and not (plan.title and plan.title.endswith(f" - {plan.date}")):
        out.append(f"**Date:** {plan.date}")
    if plan.max_cost_usd is not None:
        out.append(f"**Max Cost USD:** {plan.max_cost_usd}")
    out.append("")
    for task in plan.tasks:
        out.append(f"## Task {task.id}: {task.title}")
        out.append(f"**Type:** {task.type}")
        out.append(f"**Priority:** {task.priority.value}")
        out.append(f"**Requires Approval:** {'true' if task.requires_approval else 'false'}")
        if task.module:
            out.append(f"**Module:** {task.module}")
        if task.estimated_complexity is not None:
            out.append(f"**Estimated Complexity:** {task.estimated_complexity.value}")
        if task.depends_on:
            out.append(f"**Depends On:** {', '.join(task.depends_on)}")
        if task.description:
            out.append(f"**Description:** {task.description}")
        for label, items in (
            ("Acceptance Criteria", task.acceptance_criteria),
            ("Context Files", task.context_files),
            ("Deliverables", task.deliverables),
            ("Checks", task.checks),
        ):
            if items:
                out.append(f"**{label}:**")
                out.extend(f"- {item}" for item in items)
        if task.instruction:
            out.append("**Claude Instruction:**")
            out.append(task.instruction)
        out.extend(["", "---", ""])
    return "\n".join(out)
