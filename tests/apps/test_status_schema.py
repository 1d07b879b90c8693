"""`orch status --json` is a stable schema: real output of sessions in every kind of state validates
against docs/status.schema.json, and the schema's enums are exactly orch's states (a new state
without a schema change fails here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import app
from apps.settings import Settings, SupervisorSettings
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, Refused
from orchcore.records import Gate, Outcome
from orchcore.safety.events import SafetyLayer
from orchcore.state import SessionState, TaskState
from orchcore.supervise.decision import Action
from orchcore.tasks import Priority
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds
from tests.fakes.webhook_receiver import free_port

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "status.schema.json").read_text())
TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Type:** database
**Requires Approval:** true
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Depends On:** 1
**Checks:** `true`
**Claude Instruction:**
serve it
---
## Task 3: Broken
**Priority:** low
**Claude Instruction:**
break it
"""


def refused_then_done(_: AgentRequest, sink: EventSink) -> AgentResult:
    sink(Refused(SafetyLayer.CLI_PERMISSIONS, "Write /etc/x", "outside the workspace", call_id="t1"))
    return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done", input_tokens=10, output_tokens=5)


def broken(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="exit 1")


class World:
    def __init__(self) -> None:
        settings = Settings(supervisor=SupervisorSettings(host=f"http://127.0.0.1:{free_port()}"))
        self.runtime = Runtime(
            settings=attrs.evolve(settings, agent=attrs.evolve(settings.agent, name="scripted")),
            store=InMemoryStore(),
            logs=MemoryLogs(),
            clock=FakeClock(),
            ids=SequentialIds(),
            agents=lambda _: ScriptedAgent(scripts={"2": [refused_then_done], "3": [broken]}),
        )

    def orch(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args), obj=self.runtime)
        assert result.exit_code in (0, 1), result.output
        return result.stdout

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.orch("status", "--json"))
        return found


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_real_status_output_validates_in_every_state_a_session_passes(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.md"
    tasks.write_text(TASKS, encoding="utf-8")
    world = World()
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    seen = []
    world.orch("run", str(tasks))  # waits for task 1's approval
    seen.append(world.status())
    world.orch("approve")
    world.orch("resume")  # task 2: a refusal each attempt; its gates fail: the supervisor stops it for review
    seen.append(world.status())
    world.orch("approve", "2")
    world.orch("resume")  # task 3 fails: the session ends failed
    seen.append(world.status())
    for found in seen:
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(found)
        ]
        assert problems == []
    waiting, review, failed = seen
    assert waiting["session"]["state"] == "waiting_approval"
    assert waiting["session"]["gate"] == "before"
    assert review["session"]["gate"] == "review"
    assert review["supervision"]["2"][-1]["action"] == "stop_for_review"  # real decisions, not a fixture
    assert failed["session"]["state"] == "failed"
    assert failed["safety"][0]["layer"] == "cli-permissions"
    assert failed["tasks"][2]["state"] == "failed"
    assert failed["schema_version"] == 1


@pytest.mark.parametrize(
    ("where", "enum"),
    [
        (("session", "state"), SessionState),
        (("task", "state"), TaskState),
        (("task", "priority"), Priority),
        (("safety", "layer"), SafetyLayer),
        (("decision", "action"), Action),
    ],
)
def test_the_schemas_enums_are_exactly_orchs(where: tuple[str, str], enum: Any) -> None:
    listed = SCHEMA["$defs"][where[0]]["properties"][where[1]]["enum"]
    assert sorted(listed) == sorted(e.value for e in enum)


def test_the_gate_enum_is_exactly_orchs_and_null() -> None:
    listed = SCHEMA["$defs"]["session"]["properties"]["gate"]["enum"]
    assert sorted(map(str, listed)) == sorted([*(g.value for g in Gate), "None"])


def test_output_that_breaks_the_schema_is_caught() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    bad = {"schema_version": 1, "session": {"id": "s1", "state": "exploded"}, "tasks": [{"cost_usd": 0.5}]}
    messages = sorted(e.message for e in validator.iter_errors(bad))
    assert any("'exploded' is not one of" in m for m in messages)
    assert any("'config' is a required property" in m for m in messages)
