"""A PATH shim's entry point: refuse a forbidden invocation, else run the real program in its place.

``python -I -m adapters.guards.shim POLICY_JSON WORKDIR NAME [ARGS...]`` is what
each shim script in the guard directory runs (``GitWorkspace.guard_env`` writes
them). The invocation is checked with ``orchcore.safety.check_argv``; a refusal
prints ``orchcore: ...`` on stderr and exits 126 without starting anything.
Otherwise the real ``NAME`` (the first one on PATH outside any shim directory)
replaces this process, with the environment unchanged. Every refusal is also
appended as one JSON line to ``refusals/refusals.jsonl`` beside the policy file (in the
guard directory, outside the workspace), where the engine reads it as a safety
event of the task.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from adapters.guards.policy_file import PolicyFileError, load_policy
from orchcore.safety import check_argv

SHIM_MARKER = ".orchcore-shims"
"""A file in every shim directory; a shim skips such directories when it looks for the real program."""
REFUSALS_FILE = "refusals/refusals.jsonl"
"""Under the guard directory: one JSON object per refusal (layer, command, reason), appended.
In a folder of its own, so a sandbox can make just that folder writable."""
REFUSED = 126
NOT_FOUND = 127
_HOST_VARIABLES = ("PGHOST", "PGHOSTADDR", "MYSQL_HOST")


def find_real(name: str, path: str) -> str | None:
    """The first executable ``name`` on ``path`` that is not in a shim directory."""
    for directory in path.split(os.pathsep):
        if not directory or (Path(directory) / SHIM_MARKER).exists():
            continue
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def decide(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str] | str:
    """``(exit code, message)`` to refuse, or the real program's path to run."""
    if len(argv) < 3:
        return 2, "usage: python -m adapters.guards.shim POLICY_JSON WORKDIR NAME [ARGS...]"
    policy_path, workdir, name, *args = argv
    try:
        policy = load_policy(policy_path)
    except PolicyFileError as exc:
        return REFUSED, f"orchcore: {name} refused: {exc}"
    hosts = {key: env[key] for key in _HOST_VARIABLES if key in env}
    violation = check_argv(policy, [name, *args], workdir, hosts)
    if violation is not None:
        return REFUSED, f"orchcore: {violation}"
    real = find_real(name, env.get("PATH", ""))
    if real is None:
        return NOT_FOUND, f"orchcore: {name}: command not found (outside the shim directory)"
    return real


def record_refusal(guard_dir: str | Path, layer: str, command: str, reason: str) -> None:
    """Append one refusal to the guard directory's refusals file; a write that fails loses only the record."""
    line = json.dumps({"layer": layer, "command": command, "reason": reason}, ensure_ascii=False)
    try:
        with (Path(guard_dir) / REFUSALS_FILE).open("a", encoding="utf-8") as out:
            out.write(line + "\n")  # one write of one short line: appends do not interleave
    except OSError as exc:
        sys.stderr.write(f"orchcore: could not record the refusal: {exc}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run as a shim; returns an exit code only when it refuses (else the real program takes over)."""
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ  # noqa: TID251 - a shim is its own process: its environment is its input
    outcome = decide(args, env)
    if isinstance(outcome, str):
        os.execv(outcome, [args[2], *args[3:]])  # noqa: S606 - the real program, same arguments
    code, message = outcome
    sys.stderr.write(message + "\n")
    if code == REFUSED and len(args) >= 3:
        record_refusal(Path(args[0]).parent, "shim", shlex.join(args[2:]), message.removeprefix("orchcore: "))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
