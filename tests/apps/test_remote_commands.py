"""Remote `start` and `resume` (webhook, Telegram) follow the same rules as the CLI."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.commands import CommandError, Commands
from apps.settings import AgentSettings, PathSettings, Settings
from orchcore.engine import Engine
from orchcore.errors import SessionBusy
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

TASKS = "# Tasks\n\n## Task 1: One\n**Claude Instruction:**\nsay hi\n"


@attrs.define
class RecordingDriver:
    """A Driver that records what it is asked to drive (runs nothing itself)."""

    submitted: list[str] = attrs.field(factory=list)
    current: str | None = None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, session_id: str) -> None:
        self.submitted.append(session_id)

    def driving(self) -> str | None:
        return self.current

    def alive(self) -> bool:
        return True


@pytest.fixture
def commands(tmp_path: Path) -> Commands:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "today.md").write_text(TASKS)
    agent = ScriptedAgent()
    runtime = Runtime(
        settings=Settings(paths=PathSettings(tasks_dir=str(tasks)), agent=AgentSettings(name="scripted")),
        store=InMemoryStore(),
        logs=MemoryLogs(),
        clock=FakeClock(),
        ids=SequentialIds(),
        agents=lambda _: agent,
    )
    return Commands(runtime, RecordingDriver())


def drive(commands: Commands, sid: str) -> None:
    rt = commands.runtime
    Engine(rt.store, rt.agents("scripted"), rt.clock, rt.ids, rt.logs).run(sid)


def test_remote_start_of_a_completed_file_needs_new(commands: Commands) -> None:
    first = commands.execute("start", {"file": "today.md", "auto_approve": True})
    sid = first["session"]["id"]
    drive(commands, sid)
    with pytest.raises(CommandError) as refused:
        commands.execute("start", {"file": "today.md"})
    assert refused.value.code == "conflict"
    assert f"session {sid} from this file is completed" in refused.value.message
    assert '"new": true' in refused.value.message
    assert len(commands.runtime.store.sessions()) == 1
    again = commands.execute("start", {"file": "today.md", "new": True})
    assert again["session"]["id"] != sid


def test_remote_resume_while_another_engine_drives_is_busy(commands: Commands) -> None:
    sid = commands.execute("start", {"file": "today.md"})["session"]["id"]
    commands.execute("pause", {})
    commands.runtime.store.acquire_lease(sid, "laptop:42")
    with pytest.raises(SessionBusy, match="laptop:42"):
        commands.execute("resume", {})
    assert commands.runtime.store.session(sid).state.value == "paused"


def test_a_remote_start_keeps_the_lessons_of_new_feedback_files_as_orch_run_does(
    commands: Commands, tmp_path: Path
) -> None:
    rt = commands.runtime
    rt.settings = attrs.evolve(rt.settings, base_dir=str(tmp_path))
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "2026-12-01.md").write_text("lesson (any): Say hi politely.\n")
    commands.execute("start", {"file": "today.md"})
    assert [(x.task_type, x.text, x.source) for x in rt.lesson_store().lessons("any")] == [
        ("any", "Say hi politely.", "feedback/2026-12-01.md:1")
    ]
