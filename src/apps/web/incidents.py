"""Rate-limited incident lines: one log line per kind of trouble per interval, with a count.

A client that drops mid-body or stalls is the client's problem, not a server error:
it is worth one WARNING line, not a traceback, and never 200 lines from one test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import attrs

EVERY_S = 60.0


@attrs.define
class IncidentLog:
    """Logs the first incident of a kind, then at most one line per ``every_s`` saying how many more."""

    logger: logging.Logger
    every_s: float = EVERY_S
    now: Callable[[], float] = time.monotonic
    _last: dict[str, float] = attrs.field(factory=dict)
    _suppressed: dict[str, int] = attrs.field(factory=dict)

    def report(self, kind: str, message: str) -> None:
        """Note one incident of ``kind``; log ``message`` unless one was logged within ``every_s``."""
        now = self.now()
        last = self._last.get(kind)
        if last is not None and now - last < self.every_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        more = self._suppressed.pop(kind, 0)
        self._last[kind] = now
        tail = f" ({more} more since the last report)" if more else ""
        self.logger.warning("%s%s", message, tail)
