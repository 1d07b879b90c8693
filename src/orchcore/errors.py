"""Every error orchcore raises, rooted at :class:`OrchError`.

    OrchError
    ├── TaskFileError        a task file is malformed (all problems at once)
    ├── IllegalTransition    a command or step is not allowed in the current state
    ├── NotFound             a session or task does not exist
    ├── SessionBusy          another engine holds the session's lease
    ├── SessionExists        the task file already has a session (``new`` starts another)
    ├── StoreError           the store failed (I/O, corruption) — adapter translated
    ├── AgentUnavailable     the agent cannot be started (missing executable, bad config)
    ├── NotifyError          a notification could not be delivered (retryable or not)
    └── ConfigError          settings are invalid

Each class means one thing a caller can act on. Adapters translate library
exceptions into these at the port boundary; nothing else crosses a port.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


class OrchError(Exception):
    """Root of every error orchcore raises on purpose."""


@attrs.frozen(order=True)
class Problem:
    """One thing wrong in a task file, located to a line."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class TaskFileError(OrchError):
    """A task file has one or more problems; all of them are listed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class IllegalTransition(OrchError):
    """A command is not allowed in the state the session or task is in."""

    def __init__(self, subject: str, state: str, command: str, allowed: Sequence[str]) -> None:
        self.subject = subject
        self.state = state
        self.command = command
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        super().__init__(f"cannot {command}: {subject} is {state} (allowed in this state: {allowed_text})")


class NotFound(OrchError):
    """A session or task that was asked for does not exist."""


class SessionBusy(OrchError):
    """Another engine is driving this session."""


class SessionExists(OrchError):
    """The task file already has an unfinished or completed session; starting another needs ``new``."""

    def __init__(self, session_id: str, state: str, at: str) -> None:
        self.session_id = session_id
        self.state = state
        self.at = at
        super().__init__(f"session {session_id} from this file is {state} (since {at})")


class StoreError(OrchError):
    """The store could not read or write."""


class AgentUnavailable(OrchError):
    """The agent cannot be started as configured."""


class NotifyError(OrchError):
    """A notifier could not deliver; ``retryable`` says whether a later try may succeed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class ConfigError(OrchError):
    """The configuration is invalid."""


class CheckpointError(OrchError):
    """A workspace checkpoint could not be taken, compared or restored, or a rollback is refused."""


class WorktreeError(OrchError):
    """A task's git worktree could not be created, set up, committed, applied or removed."""
