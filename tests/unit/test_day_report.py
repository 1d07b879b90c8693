"""The day's report across sessions: outcomes, waits for a human, retries and why, cost by type,
approvals and answers with who gave them, and the rules for tomorrow. Built from a real engine run
on the in-memory store (fake clock), then read as the user reads it: the markdown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.memory.store import InMemoryStore
from apps.day_report_render import render_html, render_markdown
from orchcore.budget import BudgetPolicy
from orchcore.day_advice import advice, summary_request
from orchcore.day_report import DayReport, SessionRecords, build_day_report, sessions_of_day
from orchcore.engine import Engine
from orchcore.policy import ApprovalPolicy, RetryPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

DAY = date(2026, 11, 23)
PLAN = Plan(
    source="today.md",
    title="Tasks - 2026-11-23",
    date="2026-11-23",
    tasks=(
        Task(id="1", title="Users table", type="database", description="x", requires_approval=True),
        Task(id="2", title="Users API", type="backend", description="x", depends_on=("1",)),
        Task(id="3", title="Login page", type="frontend", description="x"),
        Task(id="4", title="Docs | v2", type="docs", description="x"),
    ),
)


def paid(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.25"), input_tokens=1000, output_tokens=200
    )


def flaky(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.FAILED, exit_code=1, reason="pytest: 2 failed", retryable=True, cost_usd=Decimal("0.10")
    )


def asks(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="Drafted.\n\nDark mode or light mode?")


class Day:
    def __init__(self, daily_limit: Decimal | None = None) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock(current=datetime(2026, 11, 23, 9, 0, tzinfo=UTC), step=timedelta(seconds=20))
        self.ids = SequentialIds()
        self.budget = BudgetPolicy(daily_limit_usd=daily_limit)

    def engine(self, agent: ScriptedAgent) -> Engine:
        return Engine(
            self.store,
            agent,
            self.clock,
            SequentialIds("e"),
            MemoryLogs(),
            policy=ApprovalPolicy(),
            budget=self.budget,
            retry=RetryPolicy(max_attempts=3, base_delay_s=1),
        )

    def report(self) -> DayReport:
        records = [
            SessionRecords(self.store.load(s.id), tuple(self.store.events(s.id)))
            for s in self.store.sessions()
        ]
        spent = sum(
            (
                r.attempt.cost_usd or Decimal(0)
                for r in self.store.attempts_since(datetime(2026, 11, 23, tzinfo=UTC))
            ),
            Decimal(0),
        )
        return build_day_report(
            sessions_of_day(records, DAY, UTC),
            DAY,
            self.clock.now(),
            UTC,
            spent_usd=spent,
            limit_usd=self.budget.daily_limit_usd,
        )


@pytest.fixture(scope="module")
def day() -> Day:
    return day_with_everything()


def day_with_everything() -> Day:
    """Session 1: task 1 waits 25 minutes for telegram's approval, task 2 fails twice then passes,
    task 3 asks and is answered from the CLI 10 minutes later; session 2 (same day) runs docs."""
    d = Day()
    agent = ScriptedAgent(scripts={"1": [paid], "2": [flaky, flaky, paid], "3": [asks, paid], "4": [paid]})
    sid = create_session(d.store, PLAN, d.ids, d.clock).session.id
    send_command(d.store, sid, Command.START, d.clock)
    engine = d.engine(agent)
    assert engine.run(sid).session.state is SessionState.WAITING_APPROVAL
    d.clock.advance(25 * 60)
    send_command(d.store, sid, Command.APPROVE, d.clock, source="telegram")
    assert engine.run(sid).session.state is SessionState.WAITING_ANSWER
    d.clock.advance(10 * 60)
    send_command(d.store, sid, Command.ANSWER, d.clock, text="Dark, please.", source="cli")
    assert engine.run(sid).session.state is SessionState.COMPLETED
    second = Plan("docs.md", (Task(id="1", title="Changelog", type="docs", description="x"),), title="Docs")
    sid2 = create_session(d.store, second, d.ids, d.clock).session.id
    send_command(d.store, sid2, Command.START, d.clock)
    d.engine(ScriptedAgent()).run(sid2)
    return d


@pytest.fixture(scope="module")
def report(day: Day) -> DayReport:
    return day.report()


@pytest.fixture(scope="module")
def markdown(report: DayReport) -> str:
    return render_markdown(report)


def _row(markdown: str, key: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {key} |"))  # the Tasks table
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_every_task_of_every_session_of_the_day_has_its_outcome_and_attempts(markdown: str) -> None:
    assert markdown.startswith("# Day report: 2026-11-23\n")
    assert _row(markdown, "s1/2")[:5] == ["s1/2", "Users API", "backend", "completed", "3"]
    assert _row(markdown, "s2/1")[:4] == ["s2/1", "Changelog", "docs", "completed"]
    assert _row(markdown, "s1/4")[1] == "Docs \\| v2"  # a pipe in a title does not break the table


def test_the_success_rate_counts_finished_tasks(report: DayReport, markdown: str) -> None:
    assert (report.succeeded, report.finished) == (5, 5)
    assert "- **Success rate:** 100%" in markdown
    assert "- **Sessions:** 2" in markdown


def test_retries_say_why(report: DayReport, markdown: str) -> None:
    [api] = [t for t in report.tasks if t.key == "s1/2"]
    assert [r.attempt for r in api.retries] == [1, 2]
    [page] = [t for t in report.tasks if t.key == "s1/3"]
    assert page.retries == ()  # asking a question and going on with the answer is no retry
    assert api.retries[0].why.startswith("failed: pytest: 2 failed; retry 2 of 3")
    assert "| s1/2 | 1 | failed: pytest: 2 failed; retry 2 of 3 at" in markdown


def test_the_wait_for_an_approval_is_measured_and_names_who_approved(
    report: DayReport, markdown: str
) -> None:
    [approval] = report.approvals
    assert (approval.task_id, approval.gate, approval.decision, approval.by) == (
        "1",
        "before",
        "approve",
        "telegram",
    )
    assert approval.wait_s is not None
    assert 25 * 60 <= approval.wait_s < 26 * 60
    row = _row(markdown, "s1/1")
    assert row[6] == "25m20s"  # the Waited column of the task
    assert "| s1/1 | before | 09:01:00 | 09:26:20 | approve | telegram | 25m20s |" in markdown


def test_questions_come_with_their_answer_who_gave_it_and_how_long_it_took(
    report: DayReport, markdown: str
) -> None:
    [exchange] = report.exchanges
    assert (exchange.question, exchange.answer, exchange.by) == (
        "Dark mode or light mode?",
        "Dark, please.",
        "cli",
    )
    assert exchange.wait_s is not None
    assert 10 * 60 <= exchange.wait_s < 11 * 60
    assert "| s1/3 | Dark mode or light mode? | Dark, please. | cli | 10m40s |" in markdown


def test_cost_and_tokens_add_up_by_type_and_against_the_day(report: DayReport, markdown: str) -> None:
    by_type = {t.type: t for t in report.by_type}
    assert by_type["backend"].cost_usd == Decimal("0.45")  # two failed attempts at 0.10, one at 0.25
    assert by_type["docs"].outcomes == {"completed": 2}
    assert by_type["database"].tokens_in == 1000
    assert report.spent_usd == Decimal("1.20")
    assert "- **Cost:** $1.2000 (no daily limit)" in markdown


def test_the_rules_find_the_task_that_failed_twice(report: DayReport, markdown: str) -> None:
    assert any(a.startswith("Task s1/2 (backend: Users API) failed 2 times today") for a in report.advice)
    assert "## For tomorrow" in markdown
    assert "failed 2 times today: split it" in markdown


def test_the_summary_request_carries_the_facts_and_the_rules(report: DayReport) -> None:
    request = summary_request(report)
    assert "5 of 5 finished tasks succeeded (100%)" in request.prompt
    assert "s1/2 [backend] Users API: completed, 3 attempt(s)" in request.prompt
    assert "failed 2 times today" in request.prompt
    assert "Use only the facts given" in request.system


def test_the_day_budget_hit_is_told_with_its_hour_and_what_to_do() -> None:
    d = Day(daily_limit=Decimal("0.50"))
    plan = Plan(
        "big.md",
        tuple(Task(id=str(n), title=f"Part {n}", type="backend", description="x") for n in range(1, 5)),
    )
    sid = create_session(d.store, plan, d.ids, d.clock).session.id
    send_command(d.store, sid, Command.START, d.clock)
    assert d.engine(ScriptedAgent(scripts={str(n): [paid] for n in range(1, 5)})).run(sid).session.state is (
        SessionState.HALTED
    )
    report = d.report()
    assert report.budget_hit_at is not None
    [rule] = [a for a in report.advice if "budget" in a]
    assert rule.startswith(
        f"The day's budget ($0.50) was hit at {report.budget_hit_at:%H:%M} with 2 tasks not run"
    )
    assert rule.endswith("raise budget.max_daily_cost_usd or split the work over two days.")


def test_a_type_whose_every_task_was_sent_back_by_a_human_always_needs_review() -> None:
    d = Day()
    plan = Plan(
        "db.md",
        tuple(Task(id=str(n), title=f"Migration {n}", type="database", description="x") for n in (1, 2)),
    )
    sid = create_session(d.store, plan, d.ids, d.clock).session.id
    send_command(d.store, sid, Command.START, d.clock)
    engine = Engine(
        d.store,
        ScriptedAgent(),
        d.clock,
        SequentialIds("e"),
        MemoryLogs(),
        policy=ApprovalPolicy(checkpoint_after=["database"]),
    )
    for task in ("1", "2"):
        assert engine.run(sid).session.state is SessionState.WAITING_APPROVAL
        send_command(d.store, sid, Command.REJECT, d.clock, task_id=task, text="wrong column type")
    assert engine.run(sid).session.state is SessionState.FAILED
    rules = advice(d.report())
    assert any(r.startswith("Every database task (2) needed a human's review") for r in rules), rules


def test_a_quiet_day_says_nothing_stood_out_and_a_day_without_sessions_is_empty() -> None:
    d = Day()
    assert d.report().tasks == ()
    assert d.report().advice == (
        "Nothing stood out: no task failed twice, no budget stop, no type always needed review.",
    )
    assert "None." in render_markdown(d.report())


def test_sessions_of_another_day_are_left_out(day: Day) -> None:
    records = [
        SessionRecords(day.store.load(s.id), tuple(day.store.events(s.id))) for s in day.store.sessions()
    ]
    assert sessions_of_day(records, date(2026, 11, 24), UTC) == []
    assert len(sessions_of_day(records, DAY, UTC)) == 2


def test_the_html_without_a_chart_library_says_how_to_get_charts(report: DayReport) -> None:
    page = render_html(report, None)
    assert "no charts: install orchcore-cli with its [report] extra" in page
    assert "<script" not in page
    assert "Docs | v2" in page
