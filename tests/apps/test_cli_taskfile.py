"""`orch validate` (and the commands that show a task file's text) on bad, hostile and huge input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli.main import BAD_INPUT
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.testing import ScriptedAgent
from tests.apps.test_cli import BROKEN, World

ORCH = str(Path(sys.executable).with_name("orch"))
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"
HOSTILE = f"""# Tasks - 2026-11-23

## Task 1: Users{ESCAPES} table
**Claude Instruction:**
make it
"""


@pytest.fixture
def world() -> World:
    return World(ScriptedAgent())


def _problem_lines_are_located(err: str, path: Path) -> None:
    for line in err.splitlines():
        assert line.startswith((f"{path}:", "orch: ")), line


def test_validate_json_of_a_bad_file_prints_every_problem_as_json(tmp_path: Path, world: World) -> None:
    path = tmp_path / "broken.md"
    path.write_text(BROKEN)
    code, out, _ = world.orch("validate", "--json", str(path))
    assert code == BAD_INPUT
    result = json.loads(out)
    assert result["valid"] is False
    assert [(p["line"], p["field"]) for p in result["problems"]] == [
        (4, "Priority"),
        (9, "Depends On"),
        (14, "Requires Approval"),
    ]
    assert all(p["file"] == str(path) for p in result["problems"])


def test_validate_json_of_a_missing_file_is_json_too(tmp_path: Path, world: World) -> None:
    code, out, _ = world.orch("validate", "--json", str(tmp_path / "nope.md"))
    assert code == BAD_INPUT
    result = json.loads(out)
    assert result["valid"] is False
    assert "No such file" in result["error"]


def test_a_cp1252_file_is_one_located_encoding_line_and_exit_2(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.md"
    path.write_bytes(HOSTILE.replace(ESCAPES, " \u201ccore\u201d").encode("cp1252"))
    code, out, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    assert err.splitlines()[0].startswith(f"{path}:3: encoding: bytes 0x93 at line 3, column 18")
    assert "Traceback" not in err
    assert out == ""


def test_a_utf16_file_saved_by_a_windows_editor_validates(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.md"
    path.write_bytes(HOSTILE.replace(ESCAPES, " café").encode("utf-16"))
    code, out, _ = world.orch("validate", str(path))
    assert code == 0
    assert "OK, 1 task for 2026-11-23" in out


def test_escape_sequences_in_a_title_never_reach_the_terminal(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.md"
    path.write_text(HOSTILE)
    code, out, _ = world.orch("validate", str(path))
    assert code == 0
    world.orch("run", str(path), "--agent", "scripted", "--auto-approve")
    _, status, _ = world.orch("status")
    _, report, _ = world.orch("report")
    for shown in (out, status, report):
        assert not set(shown) & {"\x1b", "\x07", "\x9b", "\u202e"}, shown
    assert r"Users\x1b[2J\x1b]0;owned\x07\x9b31m\u202e table" in status


def _fails_with_escapes(request: AgentRequest, _: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=3, final_text=ESCAPES, reason=f"exit code 3: {ESCAPES}")


def test_escape_sequences_from_an_agent_never_reach_the_terminal(tmp_path: Path) -> None:
    world = World(ScriptedAgent(scripts={"1": [_fails_with_escapes]}))
    path = tmp_path / "tasks.md"
    path.write_text(HOSTILE.replace(ESCAPES, ""))
    code, run, _ = world.orch("run", str(path), "--agent", "scripted", "--auto-approve")
    assert code == 1
    outputs = [run, *(world.orch(*args)[1] for args in (["status"], ["report"], ["events"]))]
    for shown in outputs:
        assert not set(shown) & {"\x1b", "\x07", "\x9b", "\u202e"}, shown
    assert r"exit code 3: \x1b[2J" in outputs[1]


def test_escape_sequences_and_newlines_in_problems_are_shown_escaped(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text('tasks:\n  - id: 1\n    name: a\n    instruction: x\n    depends_on: ["\\x1b[31m\\nx"]\n')
    code, _, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    assert "\x1b" not in err
    assert r"unknown task '\x1b[31m\nx'" in err
    _problem_lines_are_located(err, path)


def test_a_yaml_reader_error_is_one_line_starting_with_file_and_line(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text("tasks:\n  - id: 1\n    name: a\x07b\n")
    code, _, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    assert err.splitlines()[0].startswith(
        f"{path}:3: yaml: not valid YAML: found the control character #x0007"
    )
    _problem_lines_are_located(err, path)


def test_ten_thousand_problems_print_a_hundred_then_a_count(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.md"
    path.write_text(
        "".join(
            f"## Task {n}: T\n**Depends On:** gone{n}\n**Claude Instruction:**\nx\n---\n"
            for n in range(10_000)
        )
    )
    code, _, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    lines = err.splitlines()
    assert len([line for line in lines if line.startswith(f"{path}:")]) == 100
    assert "orch: … and 9,900 more" in err
    assert lines[-1] == "orch: 10,000 problems found"
    assert len(err) < 50_000
    _problem_lines_are_located(err, path)


def _orch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], capture_output=True, text=True, timeout=30, check=False)


def test_a_fifo_as_the_task_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "tasks.md"
    os.mkfifo(fifo)
    done = _orch("validate", str(fifo))
    assert done.returncode == BAD_INPUT
    assert f"{fifo}:1: file: is a named pipe (FIFO), expected a regular text file" in done.stderr


def test_dev_zero_as_the_task_file_is_refused_at_once() -> None:
    done = _orch("validate", "/dev/zero")
    assert done.returncode == BAD_INPUT
    assert "/dev/zero:1: file: is a character device, expected a regular text file" in done.stderr


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path, world: World) -> None:
    path = tmp_path / "tasks.md"
    with path.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)
    code, _, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    assert f"{path}:1: file: is larger than 10 MiB" in err
