from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from orchcore.safety import SafetyPolicy
from orchcore.safety.events import SafetyEvent


class Workspace(Protocol):
    """The user's working copy, as the engine needs it to keep agents honest.

    ``refs`` lets the engine compare every git ref (and HEAD) before and after a
    task: a change is a safety violation. ``guard_env`` gives the environment
    additions that put agent-independent guards in force for one attempt
    (forbidden-command shims first on PATH, git hooks through GIT_CONFIG_*),
    without changing the user's repository or its config. ``take_refusals``
    hands over (once) what those guards refused since it was last called.
    """

    def refs(self) -> Mapping[str, str]:
        """Every ref name (and "HEAD") mapped to what it points at; empty outside a git repository."""
        ...

    def guard_env(self, policy: SafetyPolicy, base_path: str) -> Mapping[str, str]:
        """Environment additions for an agent; ``base_path`` is the PATH it would otherwise get."""
        ...

    def take_refusals(self) -> Sequence[SafetyEvent]:
        """The refusals the guards recorded since the last call (each returned once), oldest first."""
        ...
