"""Gemini CLI's BeforeTool hook: deny a tool call the safety policy forbids.

``python -I -m adapters.gemini.hook POLICY_JSON`` reads the hook input
(``{"tool_name": ..., "tool_input": {...}, "cwd": ..., ...}``) on stdin; the
workspace is its ``cwd`` (the CLI's working directory, not the model's say). To allow
it exits 0 and prints nothing; to deny it prints ``{"decision": "deny", "reason":
"orchcore: ..."}`` and exits 0 (the CLI then answers the model ``Tool execution
blocked: <reason>`` and reports a ``policy_violation``; verified on 0.61.0). It
fails closed: unreadable input or policy denies.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import cattrs

from adapters.gemini.tools import policy_violation, tool_call
from orchcore.safety import SafetyPolicy

_converter = cattrs.Converter(forbid_extra_keys=True)


def deny(reason: str) -> str:
    """The hook output that denies the tool call with ``reason``."""
    return json.dumps({"decision": "deny", "reason": reason})


def _policy(path: str) -> SafetyPolicy:
    return _converter.structure(json.loads(Path(path).read_text(encoding="utf-8")), SafetyPolicy)


def decide(argv: Sequence[str], hook_input: str) -> str | None:
    """The deny output for this tool call, or None to allow it."""
    if len(argv) != 1:
        return deny("orchcore: the safety hook was installed with the wrong arguments")
    (policy_path,) = argv
    try:
        payload = json.loads(hook_input)
    except ValueError:
        return deny("orchcore: the safety hook could not read the tool call")
    if not isinstance(payload, dict) or not isinstance(payload.get("tool_name"), str):
        return deny("orchcore: the safety hook could not read the tool call")
    tool_input = payload.get("tool_input")
    workdir = payload.get("cwd")
    if not isinstance(workdir, str) or not workdir:
        return deny("orchcore: the safety hook got no working directory")
    try:
        policy = _policy(policy_path)
    except (OSError, ValueError, cattrs.BaseValidationError) as exc:
        return deny(f"orchcore: cannot read the safety policy {policy_path}: {exc}")
    call = tool_call(payload["tool_name"], tool_input if isinstance(tool_input, dict) else {})
    violation = policy_violation(policy, call, workdir)
    return None if violation is None else deny(f"orchcore: {violation}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run as the hook: print a denial or nothing, and exit 0."""
    output = decide(list(sys.argv[1:] if argv is None else argv), sys.stdin.read())
    if output is not None:
        sys.stdout.write(output + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
