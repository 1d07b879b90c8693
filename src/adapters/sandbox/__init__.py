"""The local sandbox: a SandboxPolicy compiled into bubblewrap arguments."""

from adapters.sandbox.bwrap import PathKind, bwrap_argv, probe_bwrap, sandboxed

__all__ = ["PathKind", "bwrap_argv", "probe_bwrap", "sandboxed"]
