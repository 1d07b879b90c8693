"""A stand-in coding agent for the demo: reads the task prompt on stdin and
writes each listed deliverable, so a run shows real files appearing."""

import sys
import time
from pathlib import Path


def deliverables(prompt: str) -> list[str]:
    items, inside = [], False
    for line in prompt.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Deliverables"
        elif inside and line.startswith("- "):
            items.append(line[2:].strip())
    return items


def main() -> int:
    prompt = sys.stdin.read()
    title = prompt.splitlines()[0].lstrip("# ") if prompt else "task"
    print(f"working on {title}", flush=True)
    for item in deliverables(prompt):
        path = Path(item)
        if path.is_absolute() or ".." in path.parts:
            print(f"refusing to write outside the workspace: {item}", file=sys.stderr)
            return 1
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {title}\n# written by the demo agent\n", encoding="utf-8")
        print(f"wrote {item}", flush=True)
        time.sleep(0.2)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
