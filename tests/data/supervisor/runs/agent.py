"""The scripted command agent of the run corpus: applies one recorded change to the workspace.

Usage (as `agent.command`): python agent.py CHANGE.json. The prompt on stdin is read and
ignored; the change's `write` (path: text), `edit` (path: [[old, new], ...], each old text
exactly once), `delete` (paths) are applied in the current folder, then its `message` is
printed as the agent's final message. A change that does not fit the workspace exits 3.
"""

import json
import sys
from pathlib import Path


def apply(change: dict[str, object], root: Path) -> list[str]:
    """Apply ``change`` under ``root``; the problems found (nothing is half applied per file)."""
    problems = []
    for path, text in dict(change.get("write") or {}).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(text), encoding="utf-8")
    for path, pairs in dict(change.get("edit") or {}).items():
        target = root / path
        text = target.read_text(encoding="utf-8") if target.is_file() else None
        if text is None:
            problems.append(f"edit {path}: no such file")
            continue
        for old, new in pairs:
            if text.count(old) != 1:
                problems.append(f"edit {path}: {old!r} is there {text.count(old)} times, expected once")
                break
            text = text.replace(old, new)
        else:
            target.write_text(text, encoding="utf-8")
    for path in list(change.get("delete") or []):
        target = root / str(path)
        if target.is_file():
            target.unlink()
        else:
            problems.append(f"delete {path}: no such file")
    return problems


def main() -> None:
    sys.stdin.read()
    change = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    problems = apply(change, Path.cwd())
    if problems:
        sys.stderr.write("the recorded change does not fit the workspace:\n" + "\n".join(problems) + "\n")
        sys.exit(3)
    sys.stdout.write(str(change.get("message") or "Done.") + "\n")


if __name__ == "__main__":
    main()
