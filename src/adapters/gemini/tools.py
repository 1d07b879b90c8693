"""Gemini CLI's tools as agent-neutral tool calls: which action each is, its command line, its paths.

Pure. The one place that knows ``run_shell_command`` runs a shell command (in
``dir_path`` when given) and ``write_file``/``replace`` name their file in
``file_path`` (tool names and parameters of 0.61.0, read from the function
declarations the CLI sends). A tool not listed (an MCP tool, a newer CLI's) is
``OTHER``: recorded, not checked by the stream guard; the workspace guards and the
sandbox still hold.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping

from orchcore.ports.agent import ToolAction, ToolCall
from orchcore.records import JsonObject
from orchcore.safety import SafetyPolicy, Violation, check_tool_use

SUMMARY_LIMIT = 200

ACTIONS: Mapping[str, ToolAction] = {
    "run_shell_command": ToolAction.SHELL,
    "write_file": ToolAction.WRITE,
    "replace": ToolAction.EDIT,
    "read_file": ToolAction.READ,
    "read_many_files": ToolAction.READ,
    "list_directory": ToolAction.SEARCH,
    "glob": ToolAction.SEARCH,
    "grep_search": ToolAction.SEARCH,
    "search_file_content": ToolAction.SEARCH,
    "web_fetch": ToolAction.FETCH,
    "google_web_search": ToolAction.FETCH,
}
"""Gemini CLI's built-in tool names by what they do."""

GUARDED_TOOLS = ("run_shell_command", "write_file", "replace")
"""The tools orch's BeforeTool hook checks (its matcher): the ones the policy has rules for."""

_SUMMARY_KEYS = ("command", "file_path", "dir_path", "pattern", "query", "prompt", "description")


def _clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def summary(name: str, tool_input: Mapping[str, object]) -> str:
    """One line for people: the tool's name and its main argument (``run_shell_command git status``)."""
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str):
            return f"{name} {_clip(value)}"
    return f"{name} {_clip(json.dumps(dict(tool_input), ensure_ascii=False, default=str))}"


def shell_line(tool_input: Mapping[str, object]) -> str | None:
    """The command line as the shell runs it: ``cd DIR && COMMAND`` when the call names a ``dir_path``,
    so the policy judges it where it runs."""
    command = tool_input.get("command")
    if not isinstance(command, str):
        return None
    where = tool_input.get("dir_path")
    return f"cd {shlex.quote(where)} && {command}" if isinstance(where, str) and where else command


def tool_call(name: str, tool_input: JsonObject, call_id: str = "", *, guarded: bool = False) -> ToolCall:
    """The agent-neutral ``ToolCall`` for one of the CLI's ``tool_use`` events (or a hook's input)."""
    action = ACTIONS.get(name, ToolAction.OTHER)
    path = tool_input.get("file_path")
    if path is None and action is ToolAction.SEARCH:
        path = tool_input.get("dir_path")
    return ToolCall(
        call_id=call_id,
        tool=name,
        action=action,
        summary=summary(name, tool_input),
        command=shell_line(tool_input) if action is ToolAction.SHELL else None,
        paths=(path,) if isinstance(path, str) else (),
        input=tool_input,
        guarded=guarded and name in GUARDED_TOOLS,
    )


def policy_violation(policy: SafetyPolicy, call: ToolCall, workdir: str) -> Violation | None:
    """The violation in ``call`` under ``policy``, or None: what the BeforeTool hook denies."""
    return check_tool_use(policy, call, workdir)
