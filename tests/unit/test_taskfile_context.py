"""Context files a task names are checked with the caller's look at the workspace: each one refused
is a problem at the line of its task's field, with every other problem of the file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchcore.errors import TaskFileError
from orchcore.taskfile import parse_task_file

YAML = """tasks:
  - id: "1"
    title: One
    description: do it
    context_files:
      - docs/a.md
      - docs/b.md
  - id: "2"
    title: Two
    description: do it
    depends_on: ["9"]
"""


def missing(path: str) -> str | None:
    return None if path == "docs/a.md" else "does not exist in the workspace ., expected a file there"


def test_a_missing_context_file_in_yaml_is_a_problem_at_its_field_with_the_others() -> None:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(YAML, "day.yaml", missing)
    found = [str(p) for p in caught.value.problems]
    assert (
        "day.yaml:6: context_files: task 1: docs/b.md does not exist in the workspace ., expected a file there"
        in found
    )
    assert any("depends on unknown task '9'" in p for p in found)


@given(
    st.lists(st.sampled_from(["a.md", "b.md", "c/d.md", "e.md"]), unique=True, max_size=4),
    st.sets(st.sampled_from(["a.md", "b.md", "c/d.md", "e.md"])),
)
def test_every_refused_context_file_is_one_problem(named: list[str], present: set[str]) -> None:
    text = "# T\n\n## Task 1: A\n**Description:** d\n" + (
        f"**Context Files:** {', '.join(named)}\n" if named else ""
    )
    absent = [p for p in named if p not in present]

    def check(path: str) -> str | None:
        return None if path in present else "is missing"

    if not absent:
        assert parse_task_file(text, "t.md", check).tasks[0].context_files == tuple(named)
        return
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(text, "t.md", check)
    problems = caught.value.problems
    assert sorted(p.message for p in problems) == sorted(f"task 1: {p} is missing" for p in absent)
    assert {p.line for p in problems} == {5}
