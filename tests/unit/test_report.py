"""The end-of-session report: every task, what it cost, the totals, and why failures failed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.service import build_report, create_session, send_command
from orchcore.state import Command
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

PLAN = Plan(
    source="today.md",
    title="Tasks - 2026-11-23",
    date="2026-11-23",
    tasks=(
        Task(id="1", title="Users table", type="database", description="x"),
        Task(id="2", title="Users API | v2", type="backend", description="x", depends_on=("1",)),
        Task(id="3", title="Login page", type="frontend", description="x", depends_on=("2",)),
        Task(id="4", title="Docs", type="docs", description="x"),
    ),
)


@pytest.fixture(scope="module")
def report() -> str:
    store, clock, ids, logs = (
        InMemoryStore(),
        FakeClock(step=timedelta(seconds=30)),
        SequentialIds(),
        MemoryLogs(),
    )

    def paid(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(
            Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.25"), input_tokens=1200, output_tokens=300
        )

    def broken(request: AgentRequest, _: EventSink) -> AgentResult:
        for n in range(30):
            logs.write(request.log_path, f"log line {n}")
        logs.write(request.log_path, "AssertionError: expected 201, got 500")
        return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed", cost_usd=Decimal("0.50"))

    agent = ScriptedAgent(scripts={"1": [paid], "2": [broken], "4": [paid]})
    session_id = create_session(store, PLAN, ids, clock).session.id
    send_command(store, session_id, Command.START, clock)
    Engine(store, agent, clock, ids, logs).run(session_id)
    return build_report(store, logs, clock, session_id)


def _row(report: str, task_id: str) -> list[str]:
    [line] = [line for line in report.splitlines() if line.startswith(f"| {task_id} |")]
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_report_names_the_session_and_how_it_ended(report: str) -> None:
    assert report.startswith("# Report: Tasks - 2026-11-23\n")
    assert "- Session: `s1` — **failed** (task 2 failed; blocked: 3)" in report
    assert "- Task file: `today.md`" in report


def test_the_report_has_a_cost_column(report: str) -> None:
    header = next(line for line in report.splitlines() if line.startswith("| # |"))
    assert "Outcome" in header
    assert "Attempts" in header
    assert "Cost (USD)" in header


def test_every_task_has_a_row_with_outcome_attempts_and_cost(report: str) -> None:
    assert _row(report, "1") == [
        "1",
        "Users table",
        "database",
        "completed",
        "1",
        "30.0s",
        "1200",
        "300",
        "0.2500",
    ]
    assert _row(report, "2")[3:5] == ["failed", "1"]
    assert _row(report, "2")[-1] == "0.5000"
    assert _row(report, "3")[3:5] == ["blocked by 2", "0"]
    assert _row(report, "3")[-1] == "-"
    assert _row(report, "4")[3] == "completed"


def test_a_pipe_in_a_title_does_not_break_the_table(report: str) -> None:
    assert _row(report, "2")[1] == "Users API \\| v2"


def test_totals_add_up_every_task(report: str) -> None:
    assert "- Tasks: 4 (2 completed, 1 failed, 1 pending)" in report
    assert "- Tokens: 2400 in, 600 out" in report
    assert "- Cost: $1.0000\n" in report


def test_a_failed_task_shows_its_reason_and_the_tail_of_its_log(report: str) -> None:
    failures = report.split("## Failures", 1)[1]
    assert "### Task 2: Users API | v2" in failures
    assert "failed after 1 attempt(s): tests failed" in failures
    assert "AssertionError: expected 201, got 500" in failures
    assert "log line 29" in failures
    assert "log line 10\n" not in failures  # only the tail
    assert "### Task 1" not in failures


def test_a_session_without_costs_says_so() -> None:
    store, clock, ids, logs = InMemoryStore(), FakeClock(), SequentialIds(), MemoryLogs()
    plan = Plan(source="t.yaml", tasks=(Task(id="a", title="A", description="x"),), date="2026-11-24")
    session_id = create_session(store, plan, ids, clock).session.id
    send_command(store, session_id, Command.START, clock)
    Engine(store, ScriptedAgent(), clock, ids, logs).run(session_id)
    text = build_report(store, logs, clock, session_id)
    assert text.startswith("# Report: Tasks - 2026-11-24\n")
    assert _row(text, "a")[3] == "completed"
    assert "- Cost: -" in text
    assert "## Failures" not in text


def test_the_safety_section_names_the_layer_of_every_refusal_and_violation() -> None:
    from datetime import UTC, datetime

    from orchcore.report import render_report
    from orchcore.safety.events import RecordedSafetyEvent, SafetyLayer, refusal, violation

    store, clock = InMemoryStore(), FakeClock()
    snap = create_session(store, PLAN, SequentialIds(), clock)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    safety = [
        RecordedSafetyEvent(
            "1", 1, at, refusal(SafetyLayer.SHIM, "git commit -am x", "forbidden (git-commit)")
        ),
        RecordedSafetyEvent("2", 2, at, violation(SafetyLayer.REFS, "HEAD moved a -> b", "git ref changed")),
    ]

    text = render_report(snap, {}, clock.now(), safety=safety)

    section = text.split("## Safety\n", 1)[1].split("\n## ", 1)[0]
    assert "1 refused (the task went on), 1 violation (the task failed)." in section
    assert "- Task 1 (attempt 1) — refused by **shim** `git commit -am x`: forbidden (git-commit)" in section
    assert "- Task 2 (attempt 2) — VIOLATION by **refs** `HEAD moved a -> b`: git ref changed" in section


def test_a_session_without_safety_events_has_no_safety_section(report: str) -> None:
    assert "## Safety" not in report


def test_costs_are_shown_to_four_places_while_the_ledger_keeps_every_digit() -> None:
    from orchcore.budget import usd

    store, clock, ids, logs = InMemoryStore(), FakeClock(), SequentialIds(), MemoryLogs()
    plan = Plan(source="t.md", tasks=(Task(id="a", title="A", description="x"),), date="2026-11-24")

    def noisy(_: AgentRequest, __: EventSink) -> AgentResult:
        # what a CLI that sums floats reports: 0.1 + 0.05 in binary floating point
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.15000000000000002"))

    session_id = create_session(store, plan, ids, clock).session.id
    send_command(store, session_id, Command.START, clock)
    Engine(store, ScriptedAgent(scripts={"a": [noisy]}), clock, ids, logs).run(session_id)
    text = build_report(store, logs, clock, session_id)
    assert "0.15000000000000002" not in text
    assert _row(text, "a")[-1] == "0.1500"
    assert "- Cost: $0.1500" in text
    assert store.load(session_id).run("a").attempts[0].cost_usd == Decimal("0.15000000000000002")
    assert usd(Decimal("0.15000000000000002")) == "$0.1500"
    assert usd(Decimal("0.00005")) == "$0.0001"  # half a hundredth of a cent rounds up, never to nothing


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("sandbox: on (bubblewrap, network open)", "- sandbox: on (bubblewrap, network open)"),
        ("sandbox: off (turned off in the config)", "- sandbox: off (turned off in the config)"),
        (
            "WARNING: sandbox: off (no bwrap), agents are not contained",
            "- **WARNING: sandbox: off (no bwrap), agents are not contained**",
        ),
    ],
)
def test_the_report_shows_the_sessions_sandbox_line(line: str, shown: str) -> None:
    from orchcore.report import render_report

    store, clock = InMemoryStore(), FakeClock()
    snap = create_session(store, PLAN, SequentialIds(), clock)

    assert shown in render_report(snap, {}, clock.now(), sandbox=line).splitlines()


def test_the_report_of_an_engine_run_reads_its_sandbox_event_and_warns_when_it_could_not_run() -> None:
    from orchcore.sandbox import SandboxStatus

    store, clock, logs = InMemoryStore(), FakeClock(), MemoryLogs()
    session_id = create_session(store, PLAN, SequentialIds(), clock).session.id
    send_command(store, session_id, Command.START, clock)
    agent = ScriptedAgent(scripts={})
    Engine(store, agent, clock, SequentialIds(), logs, sandbox_status=SandboxStatus(False, "no bwrap")).run(
        session_id
    )

    text = build_report(store, logs, clock, session_id)

    assert "- **WARNING: sandbox: off (no bwrap), agents are not contained**" in text.splitlines()
