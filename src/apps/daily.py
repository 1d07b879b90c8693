"""Which task file a `start` without a file means: today's (``orchcore.daily``), where
"today" is the budget's day (its time zone), read from the Clock port.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from apps.commands import CommandError, task_files
from orchcore.daily import files_for_day

if TYPE_CHECKING:
    from apps.settings import Settings
    from orchcore.ports import Clock

FILE_PARAMS = ("file", "task_file")
SCAN_LIMIT = 10_000


def today(settings: Settings, clock: Clock) -> date:
    """The budget's day now: the Clock's time in the configured budget time zone."""
    return clock.now().astimezone(settings.budget_policy().tz).date()


def named_file(params: dict[str, Any]) -> str | None:
    """The file a start names (``file`` or its alias ``task_file``), None if neither is given."""
    given = {str(params[k]) for k in FILE_PARAMS if params.get(k) is not None}
    if len(given) > 1:
        raise CommandError(
            "bad_request", "give the task file once: `file` and `task_file` name different files"
        )
    return given.pop() if given else None


def dated_file(settings: Settings, day: date) -> str:
    """The one task file in the tasks directory whose name holds ``day`` (YYYY-MM-DD);
    CommandError (404 none, 400 several) saying what to send instead."""
    stamp = day.isoformat()
    found = files_for_day(task_files(settings, SCAN_LIMIT), day)
    send = 'send {"command": "start", "params": {"file": "NAME.md"}} with a file of the tasks directory'
    if not found:
        raise CommandError(
            "not_found",
            f"no task file for today ({stamp}) in the tasks directory (looked for .md, .yaml or .yml "
            f"files with {stamp} in the name); {send}",
        )
    if len(found) > 1:
        raise CommandError(
            "bad_request", f"several task files for today ({stamp}): {', '.join(found)}; {send}", found
        )
    return found[0]


def start_file(settings: Settings, clock: Clock, params: dict[str, Any]) -> str:
    """The task file a start means: the one named, else today's."""
    return named_file(params) or dated_file(settings, today(settings, clock))
