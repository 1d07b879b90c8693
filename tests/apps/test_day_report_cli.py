"""The day's report as the user gets it: written by itself when a session ends (completed, cancelled,
halted on budget), and on `orch report --day [DATE]`; with the model's summary when the supervisor's
Ollama answers (the loopback fake), and saying why not when it does not."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import BAD_INPUT, OK, RUN_FAILED, app
from apps.settings import BudgetSettings, ReportSettings, Settings, SupervisorSettings
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds
from tests.fakes.ollama_api import Answer, FakeOllama
from tests.fakes.webhook_receiver import free_port

TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Type:** database
**Requires Approval:** true
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Type:** backend
**Depends On:** 1
**Claude Instruction:**
serve it
"""
MD, HTML = "2026-11-23-report.md", "2026-11-23-report.html"  # FakeClock's day


def paid(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.40"))


class World:
    def __init__(self, tmp: Path, *, host: str | None = None, daily_limit: Decimal | None = None) -> None:
        self.results = tmp / "results"
        settings = Settings(
            report=ReportSettings(dir=str(self.results)),
            supervisor=SupervisorSettings(host=host or f"http://127.0.0.1:{free_port()}", timeout_s=5.0),
            budget=BudgetSettings(max_daily_cost_usd=daily_limit, timezone="UTC"),
            agent=attrs.evolve(Settings().agent, name="scripted"),
        )
        self.agent = ScriptedAgent(scripts={"1": [paid], "2": [paid]})
        self.runtime = Runtime(
            settings=settings,
            store=InMemoryStore(),
            logs=MemoryLogs(),
            clock=FakeClock(),
            ids=SequentialIds(),
            agents=lambda _: self.agent,
        )
        self.tasks = tmp / "tasks.md"
        self.tasks.write_text(TASKS, encoding="utf-8")

    def orch(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args), obj=self.runtime)
        return result.exit_code, result.stdout, result.stderr


def test_a_finished_session_leaves_the_days_report_in_both_formats_without_orch_report(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    code, out, _ = world.orch("run", str(world.tasks), "--auto-approve")
    assert code == OK
    assert f"day report: {world.results / MD} (and {HTML})" in out
    md = (world.results / MD).read_text(encoding="utf-8")
    assert md.startswith("# Day report: 2026-11-23\n")
    assert "| s1/1 | Users table | database | completed | 1 |" in md
    assert "- **Success rate:** 100%" in md
    assert "is not reachable (connection refused)" in md  # no Ollama: the note says so, the rules stand
    assert "Rules:" in md
    page = (world.results / HTML).read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # time line, cost by task, outcomes by type
    assert "<script" not in page


def test_cancelling_a_waiting_session_no_engine_drives_writes_the_report(tmp_path: Path) -> None:
    world = World(tmp_path)
    code, _, _ = world.orch("run", str(world.tasks))
    assert code == OK  # waits for task 1's approval; nothing written yet
    assert not (world.results / MD).exists()
    code, _, _ = world.orch("cancel")
    assert code == OK
    md = (world.results / MD).read_text(encoding="utf-8")
    assert "| s1 | Tasks - 2026-11-23 | cancelled" in md
    assert "| s1/1 | before |" in md
    assert "| cancel | cli |" in md  # who closed the gate


def test_a_budget_halt_writes_the_report_with_the_hour_it_stopped(tmp_path: Path) -> None:
    world = World(tmp_path, daily_limit=Decimal("0.30"))
    code, _, _ = world.orch("run", str(world.tasks), "--auto-approve")
    assert code == RUN_FAILED  # halted
    md = (world.results / MD).read_text(encoding="utf-8")
    assert "The day's budget ($0.30) was hit at 09:00 with 1 task not run" in md


def test_the_summary_of_the_supervisors_model_leads_for_tomorrow(tmp_path: Path) -> None:
    with FakeOllama(then=lambda _: Answer("- Both tasks done.\n\nFor tomorrow: nothing to change.")) as fake:
        world = World(tmp_path, host=fake.url)
        code, _, _ = world.orch("run", str(world.tasks), "--auto-approve")
        assert code == OK
        [chat] = fake.chats
    md = (world.results / MD).read_text(encoding="utf-8")
    tomorrow = md.split("## For tomorrow", 1)[1]
    assert tomorrow.lstrip().startswith("- Both tasks done.")
    assert "_Summary written by qwen2.5-coder:32b._" in tomorrow
    asked = chat.json["messages"][1]["content"]
    assert "2 of 2 finished tasks succeeded (100%)" in asked


def test_orch_report_day_writes_the_named_day_and_refuses_a_bad_date(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.orch("run", str(world.tasks), "--auto-approve")
    (world.results / MD).unlink()
    code, out, _ = world.orch("report", "--day", "2026-11-23")
    assert code == OK
    assert "day report 2026-11-23: 1 session(s), 2 task(s), success rate 100%" in out
    assert (world.results / MD).is_file()
    assert (world.results / HTML).is_file()
    code, out, _ = world.orch("report", "--day", "2026-11-24", "-o", str(tmp_path / "elsewhere"))
    assert code == OK
    assert "0 session(s)" in out
    assert (tmp_path / "elsewhere" / "2026-11-24-report.md").is_file()
    code, _, err = world.orch("report", "--day", "yesterday")
    assert code == BAD_INPUT
    assert "--day: found 'yesterday', expected a date such as 2026-12-01" in err


def test_a_cancel_from_telegram_writes_the_report_without_waiting_for_a_model(tmp_path: Path) -> None:
    from apps.commands import Commands
    from tests.apps.test_remote_commands import RecordingDriver

    with FakeOllama(then=lambda _: Answer("- should not be asked")) as fake:
        world = World(tmp_path, host=fake.url)
        world.orch("run", str(world.tasks))  # waits for task 1's approval
        Commands(world.runtime, RecordingDriver(), source="telegram").execute("cancel", {})
        assert fake.chats == []
    md = (world.results / MD).read_text(encoding="utf-8")
    assert "| cancel | telegram |" in md
    assert "_No LLM summary asked this time: `orch report --day` asks for one._" in md


def test_the_supervisors_checks_and_confidence_are_in_the_task_row(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.tasks.write_text(TASKS.replace("**Depends On:** 1\n", "**Depends On:** 1\n**Checks:** `true`\n"))
    world.agent.scripts["2"] = [paid]
    world.orch("run", str(world.tasks), "--auto-approve")  # task 2 changes nothing: stopped for review
    world.orch("approve", "2")
    code, _, _ = world.orch("resume")
    assert code == OK
    md = (world.results / MD).read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| s1/2 |"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[10] != "-"  # the confidence
    assert float(cells[10]) <= 1.0
    assert cells[11].startswith("attempt ")  # e.g. "attempt 3: gates 10/11 passed, confidence 0.44, ..."
    assert "gates" in cells[11]
