"""Claude Code's tools as agent-neutral tool calls: which action each is, its command line, its paths.

Pure. The safety policy in orchcore checks ``ToolCall.action``/``command``/``paths``; this is
the one place that knows ``Bash`` runs a shell command and ``Write``/``Edit`` name their file
in ``file_path``. A tool not listed here (a newer CLI's, an MCP tool) is ``OTHER``: recorded,
not checked by the stream guard (the workspace guards and the sandbox still hold).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from orchcore.ports.agent import ToolAction, ToolCall
from orchcore.records import JsonObject, JsonValue

SUMMARY_LIMIT = 200

ACTIONS: Mapping[str, ToolAction] = {
    "Bash": ToolAction.SHELL,
    "Write": ToolAction.WRITE,
    "Edit": ToolAction.EDIT,
    "MultiEdit": ToolAction.EDIT,
    "NotebookEdit": ToolAction.EDIT,
    "Read": ToolAction.READ,
    "NotebookRead": ToolAction.READ,
    "Grep": ToolAction.SEARCH,
    "Glob": ToolAction.SEARCH,
    "LS": ToolAction.SEARCH,
    "WebFetch": ToolAction.FETCH,
    "WebSearch": ToolAction.FETCH,
}
"""Claude Code's tool names (2.1.x) by what they do."""

_PATH_KEYS: Mapping[str, tuple[str, ...]] = {"NotebookEdit": ("notebook_path", "file_path")}
_DEFAULT_PATH_KEYS = ("file_path", "notebook_path", "path")
_SUMMARY_KEYS = ("command", "file_path", "path", "pattern", "url", "description")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much more there was."""
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def summary(name: str, tool_input: object) -> str:
    """One line for people: the tool's name and its main argument (``Bash git status``)."""
    if isinstance(tool_input, dict):
        for key in _SUMMARY_KEYS:
            value = tool_input.get(key)
            if isinstance(value, str):
                return f"{name} {clip(value, SUMMARY_LIMIT)}"
    return f"{name} {clip(json.dumps(tool_input, ensure_ascii=False, default=str), SUMMARY_LIMIT)}"


def paths_of(name: str, tool_input: Mapping[str, JsonValue]) -> tuple[str, ...]:
    """The file paths a call names, in the order its own keys rank them (the first one is the target)."""
    keys = _PATH_KEYS.get(name, _DEFAULT_PATH_KEYS)
    return tuple(value for key in keys if isinstance(value := tool_input.get(key), str))


def tool_call(
    name: str,
    tool_input: JsonObject,
    call_id: str = "",
    *,
    guarded: bool = False,
    parent_call_id: str | None = None,
    shown_input: object = None,
) -> ToolCall:
    """The agent-neutral ``ToolCall`` for one of Claude's ``tool_use`` blocks (``shown_input``: what
    the summary shows, when the block's input was not an object)."""
    action = ACTIONS.get(name, ToolAction.OTHER)
    command = tool_input.get("command") if action is ToolAction.SHELL else None
    return ToolCall(
        call_id=call_id,
        tool=name,
        action=action,
        summary=summary(name, tool_input if shown_input is None else shown_input),
        command=command if isinstance(command, str) else None,
        paths=paths_of(name, tool_input),
        input=tool_input,
        guarded=guarded,
        parent_call_id=parent_call_id,
    )
