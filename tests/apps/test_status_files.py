"""agent_status/TASK.json (status_files.enabled): one file per task, rewritten as the task moves
(by the engine, and by a command sent from the CLI), valid against docs/status.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import app
from apps.settings import Settings, StatusFileSettings, SupervisorSettings
from apps.status_files import file_name
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds
from tests.fakes.webhook_receiver import free_port

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())
TASK_STATUS = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/task_status"})
TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Requires Approval:** true
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Depends On:** 1
**Claude Instruction:**
serve it
"""


def _world(folder: Path, *, enabled: bool) -> Runtime:
    settings = Settings(
        status_files=StatusFileSettings(enabled=enabled, dir=str(folder)),
        supervisor=SupervisorSettings(host=f"http://127.0.0.1:{free_port()}"),
    )
    return Runtime(
        settings=attrs.evolve(settings, agent=attrs.evolve(settings.agent, name="scripted")),
        store=InMemoryStore(),
        logs=MemoryLogs(),
        clock=FakeClock(),
        ids=SequentialIds(),
        agents=lambda _: ScriptedAgent(),
    )


def _orch(rt: Runtime, *args: str) -> None:
    result = CliRunner().invoke(app, list(args), obj=rt)
    assert result.exit_code == 0, result.output


def _read(folder: Path, task: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((folder / file_name(task)).read_text(encoding="utf-8"))
    assert list(TASK_STATUS.iter_errors(found)) == []
    return found


def test_each_task_has_a_file_that_follows_it_through_the_run(tmp_path: Path) -> None:
    folder = tmp_path / "agent_status"
    tasks = tmp_path / "tasks.md"
    tasks.write_text(TASKS, encoding="utf-8")
    rt = _world(folder, enabled=True)
    _orch(rt, "run", str(tasks))
    first = _read(folder, "1")
    assert (first["task"]["state"], first["waiting_on_you"]) == ("waiting_approval", True)
    assert first["session"]["gate"] == "before"
    assert _read(folder, "2")["task"]["state"] == "pending"
    _orch(rt, "approve")  # no engine runs: the CLI command itself rewrites the file
    assert _read(folder, "1")["waiting_on_you"] is False
    _orch(rt, "resume")
    done = _read(folder, "1")
    assert (done["task"]["state"], done["task"]["attempts"], done["session"]["state"]) == (
        "completed",
        1,
        "completed",
    )
    assert _read(folder, "2")["task"]["state"] == "completed"


def test_off_by_default_no_file_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "agent_status"
    tasks = tmp_path / "tasks.md"
    tasks.write_text(TASKS, encoding="utf-8")
    rt = _world(folder, enabled=False)
    _orch(rt, "run", str(tasks), "--auto-approve")
    assert not folder.exists()


def test_task_ids_become_safe_file_names() -> None:
    assert file_name("db-migrate") == "db-migrate.json"
    assert file_name("../../etc/passwd") == "_.._etc_passwd.json"
    assert file_name("..") == "_.json"
