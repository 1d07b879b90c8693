"""Shell matcher speed: `check_command` calls per second on everyday and hostile command lines.

The matcher runs for every streamed Bash tool call, so it must stay far below an
agent's pace (a few calls per second). Prints calls/s per group and overall,
and the ratio to a 1,000 calls/s floor (CPU time, medians of 5 rounds); asserts nothing.
Usage: python bench/bench_safety.py
"""

from __future__ import annotations

import statistics
import time

from orchcore.safety import DEFAULT_POLICY, check_command

WORK = "/home/me/project"
GROUPS = {
    "everyday": [
        "pytest -q",
        "ls -la",
        "ruff check . && mypy src",
        "git status --short",
        "git diff --cached --stat",
        "cd src && rm -rf __pycache__",
        "find . -name '*.pyc' -delete",
        "python -m pytest -x tests/unit 2>&1 | tail -20",
        "for f in *.py; do echo $f; done",
        "npm test -- --watch=false",
    ],
    "hostile": [
        'echo "$(git commit -m x)"',
        "git $(echo commit)",
        "g=git; $g commit",
        "sudo -u me env A=1 timeout 5 git push",
        "bash -c 'sh -c \"git push --force\"'",
        "cat <<EOF | sh\ngit push\nEOF",
        "(cd sub; { git add .; } ) && find . -exec git commit {} +",
        "echo 'git push' | bash",
        "psql 'host=db.example.com dbname=app'",
        "rm -rf ../other",
    ],
    "long": [
        " && ".join(f"echo step {i} > out{i}.txt" for i in range(200)),
        'python3 -c "' + "x = 1; " * 500 + '"',
    ],
}
ROUNDS = 5
FLOOR = 1_000.0


def calls_per_second(commands: list[str]) -> float:
    rates = []
    for _ in range(ROUNDS):
        n, start = 0, time.process_time()  # CPU time: the machine is shared
        while time.process_time() - start < 0.3:
            for command in commands:
                check_command(DEFAULT_POLICY, command, WORK)
            n += len(commands)
        rates.append(n / (time.process_time() - start))
    return statistics.median(rates)


def main() -> None:
    everything: list[str] = []
    for name, commands in GROUPS.items():
        everything += commands
        print(f"{name:<9} {calls_per_second(commands):>10,.0f} calls/s  ({len(commands)} commands)")
    overall = calls_per_second(everything)
    print(
        f"{'all':<9} {overall:>10,.0f} calls/s  ratio to the {FLOOR:,.0f} calls/s floor: {overall / FLOOR:.1f}x"
    )


if __name__ == "__main__":
    main()
