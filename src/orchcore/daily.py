"""Daily task files: which of a folder's task files is the one for a given day.

Users name daily files by date (``tasks/2026-12-01.md``, ``tasks-2026-12-01.yaml``); the
file for a day is one whose name (not its folder) holds the day as YYYY-MM-DD, not as
part of a longer number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date


def files_for_day(names: Iterable[str], day: date) -> list[str]:
    """The names (``folder/file.md`` paths) whose file name holds ``day``, in the order given."""
    pattern = re.compile(rf"(?<!\d){re.escape(day.isoformat())}(?!\d)")
    return [name for name in names if pattern.search(name.rsplit("/", 1)[-1])]
