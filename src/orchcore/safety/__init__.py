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

from orchcore.safety.policy import (
    DEFAULT_POLICY,
    DEFAULT_RULES,
    ArgCheck,
    Rule,
    SafetyPolicy,
    Violation,
    deny_rules,
    rule_programs,
)
from orchcore.safety.refs import ref_changes
from orchcore.safety.shell import check_argv, check_command, check_tool_use

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
    "deny_rules",
    "ref_changes",
    "rule_programs",
]
