"""`start` without a file: today's task file from the tasks directory (issue 8, item 9)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from apps.settings import BudgetSettings
from tests.web.test_webhook import SIMPLE, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path).serve()
    yield w
    w.close()


def test_start_without_params_starts_todays_dated_file(world: World) -> None:
    (world.tasks_dir / "2026-11-23.md").write_text(SIMPLE)
    (world.tasks_dir / "2026-11-22.md").write_text(SIMPLE)
    answer = world.ok("/webhook/command", {"command": "start"})
    assert answer["session"]["source"].endswith("2026-11-23.md")


def test_start_with_an_empty_body_on_the_start_endpoint_starts_todays_file(world: World) -> None:
    (world.tasks_dir / "tasks-2026-11-23.yaml").write_text(
        "tasks:\n  - id: '1'\n    title: Only\n    instruction: do it\n"
    )
    answer = world.ok("/webhook/start", {})
    assert answer["session"]["source"].endswith("tasks-2026-11-23.yaml")


def test_the_day_is_taken_in_the_budget_time_zone(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.runtime.clock.current = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    w.settings = attrs.evolve(w.settings, budget=BudgetSettings(timezone="Europe/Berlin"))
    w.runtime = attrs.evolve(w.runtime, settings=w.settings)
    w.serve()
    try:
        (w.tasks_dir / "2026-11-23.md").write_text(SIMPLE)
        (w.tasks_dir / "2026-11-24.md").write_text(SIMPLE)
        answer = w.ok("/webhook/command", {"command": "start", "params": {}})
        assert answer["session"]["source"].endswith("2026-11-24.md")  # already the 24th in Berlin
    finally:
        w.close()


def test_start_without_a_file_for_today_is_a_404_that_says_what_to_send(world: World) -> None:
    before = world.snapshot()
    response = world.post("/webhook/command", {"command": "start"})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "2026-11-23" in message
    assert '"file"' in message
    assert world.snapshot() == before


def test_two_files_for_today_is_a_400_naming_both(world: World) -> None:
    (world.tasks_dir / "2026-11-23.md").write_text(SIMPLE)
    (world.tasks_dir / "tasks-2026-11-23.yaml").write_text(SIMPLE)
    before = world.snapshot()
    response = world.post("/webhook/start", {})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "2026-11-23.md" in message
    assert "tasks-2026-11-23.yaml" in message
    assert world.snapshot() == before


def test_task_file_is_accepted_as_the_file_param(world: World) -> None:
    answer = world.ok("/webhook/command", {"command": "start", "params": {"task_file": "simple.md"}})
    assert answer["session"]["source"].endswith("simple.md")
    assert world.ok("/webhook/start", {"task_file": "today.md"})["session"]["source"].endswith("today.md")


def test_file_and_task_file_that_differ_are_refused(world: World) -> None:
    response = world.post("/webhook/start", {"file": "simple.md", "task_file": "today.md"})
    assert response.status_code in (400, 422)
    assert world.snapshot() == (0, 0, 0)


def test_report_answers_with_the_session_report(world: World) -> None:
    world.ok("/webhook/start", {"file": "simple.md", "auto_approve": True})
    answer = world.ok("/webhook/command", {"command": "report"})
    assert answer["command"] == "report"
    assert "Only" in answer["message"]  # the task's title, in the report's table
