"""The task model: what a developer asked for today, as parsed from a task file."""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from decimal import Decimal

import attrs


class Priority(enum.StrEnum):
    """How urgent a task is; higher runs first among ready tasks."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for high, 2 for low: sorts high first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}


class Complexity(enum.StrEnum):
    """The author's estimate of how hard a task is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@attrs.frozen
class Task:
    """One unit of work for an agent.

    ``id`` is the author's identifier (``"3"`` for ``## Task 3``); ``line`` is
    where the task starts in its file, for error messages.
    """

    id: str
    title: str
    type: str = "any"
    priority: Priority = Priority.MEDIUM
    requires_approval: bool = False
    description: str = ""
    acceptance_criteria: tuple[str, ...] = ()
    instruction: str = ""
    depends_on: tuple[str, ...] = ()
    context_files: tuple[str, ...] = ()
    deliverables: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    """Gate commands run in the workspace after each attempt (``python -m pytest -q``), each must exit 0."""
    module: str = ""
    estimated_complexity: Complexity | None = None
    line: int = attrs.field(default=0, eq=False)
    depends_on_line: int = attrs.field(default=0, eq=False)
    context_files_line: int = attrs.field(default=0, eq=False)


@attrs.frozen
class Plan:
    """A day's tasks in file order, as one value."""

    source: str
    tasks: tuple[Task, ...]
    date: str = ""
    title: str = ""
    max_cost_usd: Decimal | None = None
    _by_id: dict[str, Task] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # an index, so looking a task up stays O(1) in sessions of thousands of tasks
        object.__setattr__(self, "_by_id", {t.id: t for t in reversed(self.tasks)})

    def task(self, task_id: str) -> Task:
        """The task with this id (the first, if a broken file repeats it); KeyError if none."""
        return self._by_id[task_id]

    @property
    def ids(self) -> tuple[str, ...]:
        """Task ids in file order."""
        return tuple(t.id for t in self.tasks)


#: The longest task id a file may use: ids name log, prompt and question files, and show in every line.
MAX_ID_LENGTH = 128
# a plain id is its own file name: what agents and users expect for questions/ID.md
_PLAIN_STEM = re.compile(r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+){0,3}")
_PLAIN_LENGTH = 40
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_SLUG_LENGTH = 40
# what an id may not hold: controls, format characters (bidi overrides), surrogates, unassigned, spaces
_NOT_IN_IDS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def id_problem(task_id: str) -> str | None:
    """Why ``task_id`` cannot be a task id (too long, spaces, control characters), or None."""
    if len(task_id) > MAX_ID_LENGTH:
        return f"found an id of {len(task_id)} characters, expected at most {MAX_ID_LENGTH}"
    odd = next((c for c in task_id if c.isspace() or unicodedata.category(c) in _NOT_IN_IDS), None)
    if odd is not None:
        return f"found {odd!a} in the id, expected letters, digits and punctuation without spaces"
    return None


def file_stem(task_id: str) -> str:
    """A file name for ``task_id``: the id itself when it is plain lowercase, else a slug and a hash.

    Different ids never share a stem, even on case-insensitive file systems, and every
    stem is at most 53 ASCII characters; '+' appears only in hashed stems, so a plain id
    cannot collide with one.
    """
    # "-answer" is what the question protocol appends: "x-answer" as a plain stem would be x's answer file
    if len(task_id) <= _PLAIN_LENGTH and _PLAIN_STEM.fullmatch(task_id) and not task_id.endswith("-answer"):
        return task_id
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    slug = _SLUG_DROP.sub("-", task_id.lower()).strip("-")[:_SLUG_LENGTH].rstrip("-")
    return f"{slug or 'task'}+{digest}"
