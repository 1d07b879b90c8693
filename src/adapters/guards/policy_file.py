"""The safety policy as a JSON file, for the guard processes (PATH shims, git hooks).

Private to this adapter family: the shims read the file
``GitWorkspace.guard_env`` (or the Claude Code adapter) wrote. The Claude Code
adapter writes the same format with its own plain ``cattrs.Converter`` (adapter
families do not import each other); a test holds the two together.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cattrs

from orchcore.safety import SafetyPolicy

_converter = cattrs.Converter(forbid_extra_keys=True)


class PolicyFileError(Exception):
    """The policy file is missing or does not hold a policy."""


@functools.lru_cache(maxsize=8)
def dump_policy(policy: SafetyPolicy) -> str:
    """The policy as JSON text; made once per policy (a frozen value): each parallel worktree's
    guards hold the same text, and the indented encoding runs in pure Python (~2-3 ms)."""
    return json.dumps(_converter.unstructure(policy), indent=1, sort_keys=True)


def load_policy(path: str | Path) -> SafetyPolicy:
    """Read a policy file; PolicyFileError if it cannot be read or is not a policy."""
    try:
        return _converter.structure(json.loads(Path(path).read_text(encoding="utf-8")), SafetyPolicy)
    except (OSError, ValueError, cattrs.BaseValidationError) as exc:
        raise PolicyFileError(f"cannot read the safety policy {path}: {exc}") from exc
