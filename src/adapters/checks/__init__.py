"""Gate commands run by a shell in the workspace (the CheckRunner port)."""

from adapters.checks.shell import ShellCheckRunner

__all__ = ["ShellCheckRunner"]
