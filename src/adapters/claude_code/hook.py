"""Claude Code's PreToolUse hook: deny a tool call the safety policy forbids.

``python -I -m adapters.claude_code.hook POLICY_JSON WORKDIR`` reads the hook input
(``{"tool_name": ..., "tool_input": {...}, ...}``) on stdin. To allow it exits 0
and prints nothing; to deny it prints the decision the CLI documents and
honours headless (verified on 2.1.197, see shared/reference/claude-code-headless.md):
``{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision":
"deny", "permissionDecisionReason": "..."}}`` and exits 0; the reason becomes the
tool_result the model sees. It fails closed: unreadable input or policy denies.
The tool call is checked as the stream guard checks it: Claude's tool mapped to an
agent-neutral ``ToolCall`` (``tools.py``), then orchcore's ``check_tool_use``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from adapters.claude_code.permissions import PolicyFileError, deny_output, load_policy
from adapters.claude_code.tools import tool_call
from orchcore.records import JsonObject
from orchcore.safety import check_tool_use


def deny(reason: str) -> str:
    """The hook output that denies the tool call with ``reason``."""
    return deny_output(reason)


def decide(argv: Sequence[str], hook_input: str) -> str | None:
    """The deny output for this tool call, or None to allow it."""
    if len(argv) != 2:
        return deny("orchcore: the safety hook was installed with the wrong arguments")
    policy_path, workdir = argv
    try:
        payload = json.loads(hook_input)
    except ValueError:
        return deny("orchcore: the safety hook could not read the tool call")
    if not isinstance(payload, dict) or not isinstance(payload.get("tool_name"), str):
        return deny("orchcore: the safety hook could not read the tool call")
    tool_input = payload.get("tool_input")
    try:
        policy = load_policy(policy_path)
    except PolicyFileError as exc:
        return deny(f"orchcore: {exc}")
    arguments: JsonObject = tool_input if isinstance(tool_input, dict) else {}
    violation = check_tool_use(policy, tool_call(payload["tool_name"], arguments), workdir)
    return None if violation is None else deny(f"orchcore: {violation}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run as the hook: print a denial or nothing, and exit 0."""
    output = decide(list(sys.argv[1:] if argv is None else argv), sys.stdin.read())
    if output is not None:
        sys.stdout.write(output + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
