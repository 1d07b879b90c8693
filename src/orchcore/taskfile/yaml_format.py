"""The YAML task-file format.

    date: 2026-11-23
    max_cost_usd: 5
    tasks:
      - id: 1
        name: Add the users table
        type: database
        depends_on: []
        instruction: |
          ...

Parsed from yaml's node tree (not plain ``safe_load``) so every problem can
name the line it is on.
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal

import yaml

from orchcore.errors import Problem
from orchcore.taskfile import _fields as f
from orchcore.tasks import Complexity, Plan, Priority, Task

_PLAN_KEYS = {"date", "max_cost_usd", "title", "tasks"}
_TASK_KEYS = {
    "id",
    "name",
    "title",
    "description",
    "module",
    "estimated_complexity",
    "context_files",
    "deliverables",
    "checks",
    "depends_on",
    "type",
    "priority",
    "requires_approval",
    "instruction",
    "acceptance_criteria",
}
_LIST_KEYS = ("context_files", "deliverables", "checks", "depends_on", "acceptance_criteria")


_BREAK = re.compile(r"\r\n|\r|\n")


class _Lines:
    """Line numbers as editors count them (breaks at \\n, \\r\\n and \\r), from a character index.

    yaml's own marks also break lines at NEL, LS and PS, so they could name a line the file
    does not have in the user's editor."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self.count = max(1, len(self.starts) - (1 if self.starts[-1] == len(text) and len(text) else 0))

    def at(self, index: int) -> int:
        return min(bisect.bisect_right(self.starts, index), self.count)

    def of(self, node: yaml.Node) -> int:
        return self.at(int(node.start_mark.index))


def _text(node: yaml.Node) -> str | None:
    """A scalar's text as written (None for null); None too for non-scalars."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag.endswith(":null"):
        return None
    return str(node.value)


class _Reader:
    def __init__(self, filename: str, lines: _Lines) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.lines = lines

    def problem(self, node: yaml.Node, field: str, message: str) -> None:
        # yaml places an empty document's marks past the last line: lines.of names the last real one
        self.problems.append(Problem(self.filename, self.lines.of(node), field, message))

    def mapping(
        self, node: yaml.Node, what: str, allowed: set[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, what, f"found a {_kind(node)}, expected a mapping of fields")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = _text(key_node)
            if key is None:
                self.problem(key_node, what, f"found a {_kind(key_node)} key, expected a field name")
                continue
            if key not in allowed:
                expected = f"expected one of: {', '.join(sorted(allowed))}"
                if key.strip():
                    self.problem(key_node, key, f"unknown field, {expected}")
                else:
                    self.problem(key_node, what, f"found an empty field name, {expected}")
                continue
            if key in out:
                self.problem(key_node, key, "given twice, expected it once")
            out[key] = (key_node, value_node)
        return out

    def string(self, node: yaml.Node, field: str) -> str:
        text = _text(node)
        if text is None and not isinstance(node, yaml.ScalarNode):
            self.problem(node, field, f"found a {_kind(node)}, expected text")
            return ""
        return (text or "").strip() if field != "instruction" else (text or "").strip("\n").rstrip()

    def strings(self, node: yaml.Node, field: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            text = _text(node)
            if text is None:
                return ()
            if field == "depends_on":
                deps = f.split_dependencies(text)
                if isinstance(deps, f.Bad):
                    self.problem(node, field, deps.message)
                    return ()
                return tuple(deps)
            if field == "checks":  # one command: its commas are its own
                return (check,) if (check := f.as_check(text)) else ()
            return tuple(f.split_inline_list(text))
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, field, f"found a {_kind(node)}, expected a list")
            return ()
        items: list[str] = []
        for item in node.value:
            text = _text(item)
            if text is None:
                self.problem(item, field, f"found a {_kind(item)} item, expected text")
                continue
            if field != "checks":
                items.append(text.strip())
            elif not text.strip():
                self.problem(
                    item, field, "found an empty item, expected a command such as 'python -m pytest -q'"
                )
            elif check := f.as_check(text):
                items.append(check)
        return tuple(items)

    def task(self, node: yaml.Node, index: int) -> Task | None:
        fields = self.mapping(node, f"tasks[{index}]", _TASK_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        values = {k: v for k, (_, v) in fields.items()}
        task_id = ""
        if "id" in values:
            task_id = self.string(values["id"], "id")
        if not task_id and _is_text(values.get("id")):
            self.problem(node, "id", "missing, expected a task id such as 1 or 'auth-api'")
        if not task_id:
            task_id = f"#{index + 1}"
        title_node = values.get("name", values.get("title"))
        title = self.string(title_node, "name") if title_node is not None else ""
        if not title and _is_text(title_node):
            self.problem(node, "name", f"task {task_id} has no name, expected a short title")
        task_type = "any"
        if "type" in values:
            raw = self.string(values["type"], "type")
            problem = f.type_problem(raw)
            if problem is not None:
                self.problem(values["type"], "type", problem)
            else:
                task_type = f.as_type(raw)
        priority = Priority.MEDIUM
        if "priority" in values:
            p = f.as_priority(self.string(values["priority"], "priority"))
            if isinstance(p, f.Bad):
                self.problem(values["priority"], "priority", p.message)
            else:
                priority = p
        approval = False
        if "requires_approval" in values:
            a = f.as_bool(self.string(values["requires_approval"], "requires_approval"))
            if isinstance(a, f.Bad):
                self.problem(values["requires_approval"], "requires_approval", a.message)
            else:
                approval = a
        complexity: Complexity | None = None
        if "estimated_complexity" in values:
            c = f.as_complexity(self.string(values["estimated_complexity"], "estimated_complexity"))
            if isinstance(c, f.Bad):
                self.problem(values["estimated_complexity"], "estimated_complexity", c.message)
            else:
                complexity = c
        lists = {k: self.strings(values[k], k) for k in _LIST_KEYS if k in values}
        description = self.string(values["description"], "description") if "description" in values else ""
        instruction = self.string(values["instruction"], "instruction") if "instruction" in values else ""
        if (
            not description
            and not instruction
            and _is_text(values.get("description"), values.get("instruction"))
        ):
            self.problem(
                node, "instruction", f"task {task_id} has neither, expected an instruction or a description"
            )
        return Task(
            id=task_id,
            title=title,
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
            module=self.string(values["module"], "module") if "module" in values else "",
            estimated_complexity=complexity,
            line=self.lines.of(node),
            depends_on_line=self.lines.of(values["depends_on"]) if "depends_on" in values else 0,
            context_files_line=self.lines.of(values["context_files"]) if "context_files" in values else 0,
        )


def _is_text(*nodes: yaml.Node | None) -> bool:
    """Whether every given value is text (a wrong type is reported once, where it is)."""
    return all(node is None or isinstance(node, yaml.ScalarNode) for node in nodes)


def _error_line(exc: yaml.MarkedYAMLError, lines: _Lines) -> int:
    """The line to blame: where the problem is, unless that is past the end of the
    file (an unclosed quote or bracket), then where the construct began."""
    for mark in (exc.problem_mark, exc.context_mark):
        if mark is not None and bisect.bisect_right(lines.starts, int(mark.index)) <= lines.count:
            return lines.at(int(mark.index))
    return lines.count


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return f"value {node.value!r}" if node.value != "" else "empty value"


def parse_yaml(text: str, filename: str) -> tuple[Plan, list[Problem]]:
    """Parse YAML task-file text; return the plan and every problem found."""
    empty = Plan(source=filename, tasks=())
    lines = _Lines(text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = _error_line(exc, lines)
        return empty, [Problem(filename, line, "yaml", f"not valid YAML: {exc.problem or exc.context}")]
    except yaml.reader.ReaderError as exc:
        # its str() spans two lines and names "<unicode string>"; say it on the line it is on
        line = lines.at(exc.position)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return empty, [
            Problem(
                filename, line, "yaml", f"not valid YAML: found the control character {what}, expected text"
            )
        ]
    except yaml.YAMLError as exc:
        return empty, [Problem(filename, 1, "yaml", "not valid YAML: " + " ".join(str(exc).split()))]
    except RecursionError:  # yaml's composer recurses once per nesting level
        return empty, [Problem(filename, 1, "yaml", "nested too deeply, expected a list of task mappings")]
    reader = _Reader(filename, lines)
    if root is None:
        return empty, [
            Problem(filename, 1, "tasks", "the file is empty, expected a mapping with a 'tasks' list")
        ]
    top = reader.mapping(root, "file", _PLAN_KEYS)
    date = reader.string(top["date"][1], "date") if "date" in top else ""
    title = reader.string(top["title"][1], "title") if "title" in top else ""
    max_cost: Decimal | None = None
    if "max_cost_usd" in top:
        node = top["max_cost_usd"][1]
        amount = f.as_money(reader.string(node, "max_cost_usd"))
        if isinstance(amount, f.Bad):
            reader.problem(node, "max_cost_usd", amount.message)
        else:
            max_cost = amount
    tasks: list[Task] = []
    if "tasks" not in top:
        if isinstance(root, yaml.MappingNode):
            reader.problem(root, "tasks", "missing, expected a list of tasks")
    else:
        tasks_node = top["tasks"][1]
        if not isinstance(tasks_node, yaml.SequenceNode):
            reader.problem(tasks_node, "tasks", f"found a {_kind(tasks_node)}, expected a list of tasks")
        else:
            for index, item in enumerate(tasks_node.value):
                task = reader.task(item, index)
                if task is not None:
                    tasks.append(task)
    plan = Plan(source=filename, tasks=tuple(tasks), date=date, title=title, max_cost_usd=max_cost)
    return plan, reader.problems


def render_yaml(plan: Plan) -> str:
    """The YAML text that parses back to ``plan``."""
    doc: dict[str, object] = {}
    if plan.title:
        doc["title"] = plan.title
    if plan.date:
        doc["date"] = plan.date
    if plan.max_cost_usd is not None:
        doc["max_cost_usd"] = str(plan.max_cost_usd)
    tasks: list[dict[str, object]] = []
    for t in plan.tasks:
        item: dict[str, object] = {
            "id": t.id,
            "name": t.title,
            "type": t.type,
            "priority": t.priority.value,
            "requires_approval": t.requires_approval,
        }
        if t.description:
            item["description"] = t.description
        if t.module:
            item["module"] = t.module
        if t.estimated_complexity is not None:
            item["estimated_complexity"] = t.estimated_complexity.value
        for key in _LIST_KEYS:
            values = getattr(t, key)
            if values:
                item[key] = list(values)
        if t.instruction:
            item["instruction"] = t.instruction
        tasks.append(item)
    doc["tasks"] = tasks
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False))
