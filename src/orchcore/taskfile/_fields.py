"""Conversions shared by both task-file formats: one place says what a field accepts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import attrs

from orchcore.tasks import Complexity, Priority


@attrs.frozen
class Bad:
    """A value that could not be converted, with the message saying why."""

    message: str


_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_NONE_WORDS = {"", "none", "-", "n/a", "no", "nothing"}
_TYPE_WORD = re.compile(r"^[A-Za-z][\w-]*$")
# "Task 1", "task #1", "Task1" and "#1" all mean 1; "taskforce" and "task-api" are ids themselves
_DEP_ITEM = re.compile(r"^(?:task(?=[\s#\d])\s*)?#?\s*(\S+)$", re.IGNORECASE)
# "and" separates only as a word between spaces: "signup-and-login" is one id
_DEP_SEPARATOR = re.compile(r",|;|\s+and\s+", re.IGNORECASE)


def shown(value: str) -> str:
    """A found value as an error message quotes it."""
    return repr(value) if value else "nothing"


def as_priority(value: str) -> Priority | Bad:
    """The Priority, or Bad."""
    try:
        return Priority(value.strip().lower())
    except ValueError:
        return Bad(f"found {shown(value)}, expected high, medium or low")


def as_complexity(value: str) -> Complexity | Bad:
    """The Complexity, or an error message."""
    try:
        return Complexity(value.strip().lower())
    except ValueError:
        return Bad(f"found {shown(value)}, expected low, medium or high")


def as_bool(value: str) -> bool | Bad:
    """True/False from the usual words, or an error message."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return Bad(f"found {shown(value)}, expected true or false")


def as_type(value: str) -> str:
    """A task type is one word; case is folded so 'Backend' and 'backend' match policies."""
    return value.strip().lower()


def type_problem(value: str) -> str | None:
    """Why a task type is not acceptable, or None."""
    if _TYPE_WORD.match(value.strip()):
        return None
    return f"found {shown(value)}, expected one word such as backend, frontend or database"


def as_money(value: str) -> Decimal | Bad:
    """A non-negative USD amount (a leading '$' is fine), or an error message."""
    text = value.strip().removeprefix("$").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return Bad(f"found {shown(value)}, expected an amount in USD such as 5 or 12.50")
    if not amount.is_finite() or amount < 0:
        return Bad(f"found {shown(value)}, expected an amount in USD of 0 or more")
    return amount


def split_dependencies(value: str) -> list[str] | Bad:
    """Task ids from '1, 2', 'Task 1 and Task 2' or 'none'; or an error message."""
    text = value.strip()
    if text.lower() in _NONE_WORDS:
        return []
    ids: list[str] = []
    for raw in _DEP_SEPARATOR.split(text):
        item = raw.strip()
        if not item:
            continue
        match = _DEP_ITEM.match(item)
        if match is None:
            return Bad(f"found {shown(value)}, expected task ids such as '1, 2'")
        ids.append(match.group(1))
    return ids


def split_inline_list(value: str) -> list[str]:
    """Items from 'a, b' on the field's own line ('none' gives no items)."""
    text = value.strip()
    if text.lower() in _NONE_WORDS:
        return []
    return [item.strip() for item in text.split(",") if item.strip()]


def as_check(value: str) -> str:
    """One check command as written: a line, or an item, maybe in backticks ('none' is no command)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    return "" if text.lower() in _NONE_WORDS else text
