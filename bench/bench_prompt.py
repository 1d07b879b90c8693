"""What a task prompt costs to build: the template alone, with house rules and context files, and
with a context file the budget cuts (the engine builds one prompt per attempt).

Prints medians of several runs per prompt and the ratio to the plain render; asserts nothing.
Usage: python bench/bench_prompt.py [N prompts per run]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from orchcore.prompt import ContextFile, HouseRule, Prompter
from orchcore.tasks import Plan, Task

RUNS = 7
TASK = Task(
    id="7",
    title="Signup",
    type="backend",
    instruction="Add POST /signup.\n" * 5,
    acceptance_criteria=("email is unique", "returns 201"),
    context_files=("docs/api.md", "src/app.py"),
    deliverables=("src/signup.py",),
)
PLAN = Plan("t.md", (TASK,))
RULES = tuple(HouseRule(f"rule{i}.md", f"Rule {i}", "- keep it small\n" * 40) for i in range(3))
SMALL = (ContextFile("docs/api.md", "spec line\n" * 200), ContextFile("src/app.py", "code = 1\n" * 300))
LARGE = (ContextFile("docs/api.md", "spec line\n" * 200_000), ContextFile("src/app.py", "code = 1\n" * 300))


def median_us(build: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(n):
            build()
        times.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    prompter = Prompter(house_rules=RULES)
    plain = median_us(lambda: Prompter().task(PLAN, TASK), n)
    rows = [
        ("template, no rules or contents", plain),
        (
            "3 house rules + 2 small context files",
            median_us(lambda: prompter.task(PLAN, TASK, context=SMALL), n),
        ),
        (
            "a 2 MB context file cut to 32k tokens",
            median_us(lambda: prompter.task(PLAN, TASK, context=LARGE), max(n // 20, 3)),
        ),
    ]
    for name, us in rows:
        print(f"{name:42} {us:10.1f} µs/prompt  x{us / plain:6.1f}")


if __name__ == "__main__":
    main()
