"""Agent-independent guards: the git working copy as a Workspace, git hooks, PATH shims, the Claude hook.

``GitWorkspace`` is imported lazily: the shim and hook entry points live in this
package and start once per guarded command, so they must not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.guards.workspace import GitWorkspace

__all__ = ["GitWorkspace"]


def __getattr__(name: str) -> Any:
    if name == "GitWorkspace":
        from adapters.guards.workspace import GitWorkspace  # lazy on purpose

        return GitWorkspace
    raise AttributeError(name)
