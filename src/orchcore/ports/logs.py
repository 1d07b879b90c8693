from __future__ import annotations

from typing import Protocol


class TaskLogs(Protocol):
    """Where each attempt of a task keeps its full output.

    The agent adapter writes the log; the engine and the front ends read its tail.
    """

    def path(self, session_id: str, task_id: str, attempt: int) -> str:
        """The location the agent writes this attempt's log to (created if needed)."""
        ...

    def tail(self, session_id: str, task_id: str, attempt: int, lines: int) -> list[str]:
        """The last ``lines`` lines of that log; an empty list when there is none."""
        ...
