"""`start` over the webhook with task files that are not text, not files, or full of mistakes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.test_webhook import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path).serve()
    yield w
    w.close()


def test_start_of_a_cp1252_file_is_a_located_encoding_problem(world: World) -> None:
    (world.tasks_dir / "win.md").write_bytes(
        "## Task 1: \u201cA\u201d\n**Claude Instruction:**\nx\n".encode("cp1252")
    )
    response = world.post("/webhook/start", {"file": "win.md"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        "win.md:1: encoding: bytes 0x93 at line 1, column 12 are not valid UTF-8; "
        "expected UTF-8 text (or UTF-16 with a byte-order mark); save the file as UTF-8"
    ]
    assert world.store.sessions() == []


def test_start_of_a_fifo_is_refused_at_once(world: World) -> None:
    os.mkfifo(world.tasks_dir / "pipe.md")
    response = world.post("/webhook/start", {"file": "pipe.md"})
    assert response.status_code == 400
    assert "is not a regular file" in response.json()["error"]["message"]
    assert world.store.sessions() == []


def test_start_of_a_file_with_ten_thousand_problems_answers_briefly(world: World) -> None:
    (world.tasks_dir / "many.md").write_text(
        "".join(
            f"## Task {n}: T\n**Depends On:** gone{n}\n**Claude Instruction:**\nx\n---\n"
            for n in range(10_000)
        )
    )
    response = world.post("/webhook/start", {"file": "many.md"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "the task file has 10,000 problems"
    assert len(error["details"]) == 101
    assert error["details"][-1] == "… and 9,900 more"
    assert len(response.content) < 50_000
