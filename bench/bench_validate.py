"""`orch validate` on a 10,000-task file where every task names an unknown dependency.

(And, for the markdown parser's cost, a valid file whose every instruction holds a fence.)

Runs the real `orch` in a child process for each format and output mode and prints the
output size, the child's own peak memory (its rusage from os.wait4) and the wall time, with ratios to
the targets (50 MB of output, 200 MB of memory). Asserts nothing.
Usage: python bench/bench_validate.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ORCH = str(Path(sys.executable).with_name("orch"))
OUTPUT_TARGET = 50 * 1024 * 1024
MEMORY_TARGET = 200 * 1024 * 1024


def markdown(n: int) -> str:
    return "# Tasks - 2026-11-23\n\n" + "".join(
        f"## Task {i}: Task number {i}\n**Depends On:** missing-{i}\n**Claude Instruction:**\ndo {i}\n---\n"
        for i in range(n)
    )


def fenced(n: int) -> str:
    """A valid file whose every instruction holds a fenced block with '---' lines (markdown-it-py's share)."""
    return "# Tasks - 2026-11-23\n\n" + "".join(
        f"## Task {i}: Task number {i}\n**Claude Instruction:**\n```yaml\n---\nn: {i}\n---\n```\ndo {i}\n---\n"
        for i in range(n)
    )


def yaml(n: int) -> str:
    return "tasks:\n" + "".join(
        f"  - id: {i}\n    name: Task number {i}\n    depends_on: [missing-{i}]\n    instruction: do {i}\n"
        for i in range(n)
    )


def measure(path: Path, *extra: str) -> tuple[int, int, float, int]:
    """Output bytes, the child's own peak RSS in bytes (os.wait4), seconds, exit code."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen([ORCH, "validate", *extra, str(path)], stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        size = out.seek(0, os.SEEK_END)
    return size, usage.ru_maxrss * 1024, took, child.returncode


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "md": Path(folder, "tasks.md"),
            "yaml": Path(folder, "tasks.yaml"),
            "fenced": Path(folder, "f.md"),
        }
        files["md"].write_text(markdown(n))
        files["yaml"].write_text(yaml(n))
        files["fenced"].write_text(fenced(n))
        print(f"orch validate, {n:,} tasks each with one unknown dependency")
        print(
            f"{'file':<6} {'mode':<6} {'input':>9} {'output':>11} {'x target':>9} {'peak RSS':>10} {'x target':>9} {'time':>7} exit"
        )
        for kind, path in files.items():
            for mode in ((), ("--json",)):
                out, peak, took, code = measure(path, *mode)
                print(
                    f"{kind:<6} {'json' if mode else 'text':<6} {path.stat().st_size / 1e6:>7.2f}MB "
                    f"{out / 1e6:>9.3f}MB {out / OUTPUT_TARGET:>9.4f} {peak / 1e6:>8.1f}MB "
                    f"{peak / MEMORY_TARGET:>9.3f} {took:>6.2f}s {code}"
                )


if __name__ == "__main__":
    main()
