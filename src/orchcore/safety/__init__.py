"""Safety policy: operations an agent must never perform, and the pure matchers that spot them.

The policy lives here once. Each agent adapter compiles it into that agent's own
controls (Claude Code: permission deny rules and a PreToolUse hook), the guards
adapter into git hooks and PATH shims, and the engine checks streamed tool calls
(``check_tool_use``) and the refs before and after a task (``ref_changes``) with
it. Everything here is a pure function of text: no filesystem, environment or
process (paths are resolved with ``posixpath`` only), so a hook process, a shim
and the engine give the same answer.

The shell matcher is deliberately conservative: what it cannot parse it scans
word by word for forbidden commands, and it never raises. It is one layer of
several; what it cannot see (a script file, ``python -c "subprocess.run(...)"``,
``npm run <script>``) is left to the git hooks, the PATH shims and the ref check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchcore.safety.policy import (
        DEFAULT_POLICY,
        DEFAULT_RULES,
        ArgCheck,
        Rule,
        SafetyPolicy,
        Violation,
        command_patterns,
        rule_programs,
    )
    from orchcore.safety.refs import ref_changes
    from orchcore.safety.shell import check_argv, check_command, check_tool_use

# public name -> its module, imported on first use: reading recorded safety events or
# configuring the policy then does not build the shell matcher
_EXPORTS: dict[str, str] = {
    "DEFAULT_POLICY": "orchcore.safety.policy",
    "DEFAULT_RULES": "orchcore.safety.policy",
    "ArgCheck": "orchcore.safety.policy",
    "Rule": "orchcore.safety.policy",
    "SafetyPolicy": "orchcore.safety.policy",
    "Violation": "orchcore.safety.policy",
    "check_argv": "orchcore.safety.shell",
    "check_command": "orchcore.safety.shell",
    "check_tool_use": "orchcore.safety.shell",
    "command_patterns": "orchcore.safety.policy",
    "ref_changes": "orchcore.safety.refs",
    "rule_programs": "orchcore.safety.policy",
}

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_RULES",
    "ArgCheck",
    "Rule",
    "SafetyPolicy",
    "Violation",
    "check_argv",
    "check_command",
    "check_tool_use",
    "command_patterns",
    "ref_changes",
    "rule_programs",
]


if not TYPE_CHECKING:  # mypy sees the imports above, so a misspelled name stays an error

    def __getattr__(name: str) -> Any:
        """Import public names on first use, so `import orchcore.safety.x` stays cheap."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'orchcore.safety' has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)
