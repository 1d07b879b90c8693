"""What the task-file parser does with hostile or unusual input: encodings, fences, odd ids, many errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.files.questions import FileQuestions
from orchcore.errors import TaskFileError
from orchcore.taskfile import parse_task_bytes, parse_task_file
from orchcore.tasks import MAX_ID_LENGTH, file_stem, id_problem
from orchcore.testing.strategies import task_ids

GOOD = "# Tasks - 2026-11-23\n\n## Task 1: Café menu\n**Claude Instruction:**\nwrite the menu\n"


def _problems(data: bytes | str, filename: str = "today.md") -> list[str]:
    parse = parse_task_bytes if isinstance(data, bytes) else parse_task_file
    with pytest.raises(TaskFileError) as caught:
        parse(data, filename)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


# --- encodings -------------------------------------------------------------------------------


def test_a_cp1252_file_is_an_encoding_problem_on_the_line_of_the_first_bad_byte() -> None:
    data = "# Tasks\n\n## Task 1: \u201cquoted\u201d\n**Claude Instruction:**\nx\n".encode("cp1252")
    problems = _problems(data)
    assert len(problems) == 1
    assert problems[0].startswith("today.md:3: encoding: ")
    assert "0x93" in problems[0]
    assert "UTF-8" in problems[0]


def test_a_bad_byte_on_the_first_line_is_reported_on_line_1() -> None:
    assert _problems(b"# Caf\xe9\n")[0].startswith("today.md:1: encoding: ")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_a_file_with_a_byte_order_mark_is_decoded(codec: str) -> None:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    data = bom + GOOD.encode(codec)
    plan = parse_task_bytes(data, "today.md")
    assert plan.tasks[0].title == "Café menu"
    assert plan.tasks[0].instruction == "write the menu"


def test_utf16_without_a_byte_order_mark_is_an_encoding_problem() -> None:
    problems = _problems(GOOD.encode("utf-16-le"))
    assert problems[0].startswith("today.md:1: encoding: ")


def test_a_lone_surrogate_in_utf8_bytes_is_an_encoding_problem() -> None:
    data = GOOD.encode() + b"\xed\xa0\x80\n"
    assert _problems(data)[0].startswith("today.md:6: encoding: ")


def test_a_lone_surrogate_in_utf16_is_an_encoding_problem() -> None:
    data = b"\xff\xfe" + "# T\n".encode("utf-16-le") + b"\x00\xd8" + "\n".encode("utf-16-le")
    assert _problems(data)[0].startswith("today.md:2: encoding: ")


def test_a_lone_surrogate_in_text_is_a_problem_not_a_crash() -> None:
    for name in ("today.md", "today.yaml"):
        problems = _problems(GOOD.replace("the menu\n", "the menu \ud800\n"), name)
        assert problems[0].startswith(f"{name}:5: encoding: ")


def test_a_control_character_yaml_refuses_is_one_located_line() -> None:
    problems = _problems("tasks:\n  - id: 1\n    name: a\x07b\n", "today.yaml")
    assert len(problems) == 1
    assert problems[0].startswith("today.yaml:3: yaml: ")
    assert "\n" not in problems[0]
    assert "\x07" not in problems[0]


def test_a_nul_byte_says_the_file_may_be_utf16_without_a_mark() -> None:
    (problem,) = _problems(b"tasks:\n  - id: 1\n    name: a\x00b\n", "today.yaml")
    assert problem.startswith("today.yaml:3: encoding: found a NUL byte at line 3, column 12")


# --- fences ----------------------------------------------------------------------------------

FENCED = """# Tasks

## Task 1: Front matter
**Claude Instruction:**
Write this file:
```yaml
---
title: x
---
## Task 9: not a task
```
and check it.
---
## Task 2: Next
**Claude Instruction:**
~~~~
---
~~~~
done
"""


def test_a_separator_inside_a_fenced_block_belongs_to_the_instruction() -> None:
    plan = parse_task_file(FENCED, "today.md")
    assert plan.ids == ("1", "2")
    first = plan.tasks[0].instruction
    assert first.startswith("Write this file:\n```yaml\n---\ntitle: x\n---\n## Task 9: not a task\n```")
    assert first.endswith("and check it.")
    assert plan.tasks[1].instruction == "~~~~\n---\n~~~~\ndone"
    assert plan.tasks[1].line == 14


def test_an_unclosed_fence_is_a_problem_at_the_line_it_opens() -> None:
    text = "## Task 1: A\n**Claude Instruction:**\n```\n---\n## Task 2: B\n**Claude Instruction:**\ny\n"
    problems = _problems(text)
    assert any(p.startswith("today.md:3: fence: ") and "never closed" in p for p in problems)


# --- ids -------------------------------------------------------------------------------------


def test_an_id_longer_than_the_limit_is_rejected_with_its_line() -> None:
    long_id = "x" * (MAX_ID_LENGTH + 1)
    problems = _problems(
        f"## Task 1: A\n**Claude Instruction:**\na\n---\n## Task {long_id}: B\n**Claude Instruction:**\nb\n"
    )
    assert len(problems) == 1
    assert problems[0].startswith(f"today.md:5: id: found an id of {MAX_ID_LENGTH + 1} characters")
    assert f"at most {MAX_ID_LENGTH}" in problems[0]


def test_a_yaml_id_with_control_characters_or_spaces_is_rejected() -> None:
    text = 'tasks:\n  - id: "a\\x1b[31mb"\n    name: A\n    instruction: x\n  - id: "two words"\n    name: B\n    instruction: y\n'
    problems = _problems(text, "today.yaml")
    assert [p.split(": ")[0] for p in problems] == ["today.yaml:2", "today.yaml:5"]
    assert all(": id: " in p for p in problems)
    assert "\x1b" not in "".join(problems)


def test_an_id_at_the_limit_is_accepted() -> None:
    long_id = "é" * MAX_ID_LENGTH
    plan = parse_task_file(f"## Task {long_id}: A\n**Claude Instruction:**\na\n", "today.md")
    assert plan.ids == (long_id,)


@pytest.mark.parametrize(
    "pair",
    [("Auth", "auth"), ("a/b", "a_b"), ("a.b", "a_b"), ("STRASSE", "straße"), ("x" * 128, "x" * 127 + "y")],
)
def test_ids_that_differ_only_by_case_or_punctuation_get_different_file_names(pair: tuple[str, str]) -> None:
    first, second = (file_stem(i) for i in pair)
    assert first.casefold() != second.casefold()


@pytest.mark.parametrize(
    "task_id", ["1", "auth-api", "x" * MAX_ID_LENGTH, "../../etc/passwd", ".", "..", "é/ü"]
)
def test_a_file_stem_is_short_and_safe_for_any_file_system(task_id: str) -> None:
    stem = file_stem(task_id)
    assert 1 <= len(stem.encode()) <= 64
    assert stem not in {".", ".."}
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_.+")
    assert not stem.startswith(".")


@given(task_ids)
def test_every_accepted_id_has_a_short_safe_stem(task_id: str) -> None:
    assert id_problem(task_id) is None
    stem = file_stem(task_id)
    assert 1 <= len(stem) <= 53
    assert stem.isascii()
    assert "/" not in stem
    assert not stem.startswith(".")


@given(st.lists(task_ids, min_size=2, max_size=2, unique=True))
def test_different_ids_never_share_a_stem_even_case_folded(pair: list[str]) -> None:
    first, second = (file_stem(i) for i in pair)
    assert first.casefold() != second.casefold()


def test_an_id_ending_in_answer_does_not_take_another_tasks_answer_file(tmp_path: Path) -> None:
    box = FileQuestions(str(tmp_path))
    box.answer("x", "yes")
    (tmp_path / "questions" / f"{file_stem('x-answer')}.md").write_text("a question of task x-answer?")
    assert box.question("x-answer") == "a question of task x-answer?"
    assert (tmp_path / "questions" / "x-answer.md").read_text() == "yes\n"


def test_simple_lowercase_ids_keep_their_name_so_agents_can_find_question_files() -> None:
    assert file_stem("1") == "1"
    assert file_stem("auth-api") == "auth-api"


# --- many problems ---------------------------------------------------------------------------


def test_unknown_dependency_messages_stay_short_however_many_tasks_there_are() -> None:
    tasks = "".join(
        f"## Task {n}: T\n**Depends On:** missing{n}\n**Claude Instruction:**\nx\n---\n" for n in range(2000)
    )
    problems = _problems(tasks)
    assert len(problems) == 2000
    assert max(len(p) for p in problems) < 300
    assert "1, 2, 3" in problems[0]
    assert "1,990 more" in problems[0]


def test_an_unknown_dependency_suggests_the_id_it_probably_means() -> None:
    text = "## Task Auth: A\n**Claude Instruction:**\na\n---\n## Task 2: B\n**Depends On:** auth\n**Claude Instruction:**\nb\n"
    (problem,) = _problems(text)
    assert "did you mean 'Auth'?" in problem
