"""Budget: the binding limit, warn at 75 %, halt at 100 %, stop a streaming agent on its reported cost."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import tzlocal

from adapters.claude_code.prices import Usage, cost_of
from adapters.memory.store import InMemoryStore
from orchcore.budget import BudgetPolicy, Level, SharedSpend, status
from orchcore.engine import Engine
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, UsageReport
from orchcore.records import EventKind, Outcome
from orchcore.service import budget_report, create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

OPUS = "claude-opus-4-8"


@pytest.mark.parametrize(
    ("spent", "level"),
    [
        (Decimal(0), Level.OK),
        (Decimal("3.74"), Level.OK),
        (Decimal("3.75"), Level.WARN),
        (Decimal(5), Level.EXCEEDED),
    ],
)
def test_warn_at_75_percent_halt_at_100(spent: Decimal, level: Level) -> None:
    policy = BudgetPolicy(daily_limit_usd=Decimal(5))
    assert status(policy, spent_today=spent, spent_session=spent, session_limit=None).level is level


def test_the_limit_with_least_left_binds() -> None:
    policy = BudgetPolicy(daily_limit_usd=Decimal(10))
    day = status(policy, spent_today=Decimal(2), spent_session=Decimal(1), session_limit=Decimal(20))
    assert (day.scope, day.spent, day.limit, day.remaining) == ("day", Decimal(2), Decimal(10), Decimal(8))
    tight = status(policy, spent_today=Decimal(2), spent_session=Decimal("3.5"), session_limit=Decimal(4))
    assert (tight.scope, tight.limit, tight.level) == ("session", Decimal(4), Level.WARN)


def test_the_day_starts_at_local_midnight() -> None:
    policy = BudgetPolicy(tz=ZoneInfo("Europe/Berlin"))
    now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    assert policy.day_start(now) == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert policy.next_day(now) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def usage_event(message: str, input_tokens: int) -> UsageReport:
    """A message's usage as the Claude adapter reports it, priced by it ($5 per million input tokens)."""
    cost = cost_of(Usage(OPUS, input_tokens=input_tokens))
    return UsageReport(message, OPUS, input_tokens=input_tokens, cost_usd=cost)


def spends(*messages: int) -> object:
    """A scripted attempt that streams one usage report per message (input tokens at $5/M)."""

    def step(_: AgentRequest, sink: EventSink) -> AgentResult:
        for i, tokens in enumerate(messages):
            reason = sink(usage_event(f"m{i}", tokens))
            if reason is not None:
                return AgentResult(Outcome.STOPPED, reason=reason)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    return step


class World:
    def __init__(self, budget: BudgetPolicy, *tasks: str, max_cost: Decimal | None = None) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock(step=timedelta(seconds=1))
        self.agent = ScriptedAgent()
        plan = Plan(
            "today.md", tuple(Task(t, f"Task {t}", instruction="x") for t in tasks), max_cost_usd=max_cost
        )
        self.sid = create_session(self.store, plan, SequentialIds(), self.clock).session.id
        send_command(self.store, self.sid, Command.START, self.clock)
        self.budget = budget

    def run(self) -> SessionState:
        engine = Engine(
            self.store, self.agent, self.clock, SequentialIds("e"), MemoryLogs(), budget=self.budget
        )
        return engine.run(self.sid).session.state

    def budget_events(self) -> list[dict[str, object]]:
        return [dict(e.data) for e in self.store.events(self.sid) if e.kind is EventKind.BUDGET]


def test_crossing_the_daily_limit_mid_task_stops_the_agent_and_halts_the_session() -> None:
    # $1 limit; each message costs 100,000 input tokens x $5/M = $0.50
    world = World(BudgetPolicy(daily_limit_usd=Decimal(1)), "1", "2")
    world.agent.scripts["1"] = [spends(100_000, 100_000, 100_000, 100_000)]
    assert world.run() is SessionState.HALTED
    snap = world.store.load(world.sid)
    run = snap.run("1")
    assert run.state is TaskState.INTERRUPTED  # not its fault: it runs again when budget allows
    assert run.attempts[0].outcome is Outcome.STOPPED
    assert run.attempts[0].cost_usd == Decimal("1.00")  # stopped at the event that reached the limit
    assert "limit of $1 is reached" in run.reason
    assert snap.run("2").state is TaskState.PENDING  # nothing new started
    assert "day budget" in snap.session.reason
    assert "nothing starts until" in snap.session.reason
    assert [e["level"] for e in world.budget_events()] == ["exceeded", "exceeded"]


def test_the_warning_comes_once_when_spend_crosses_75_percent() -> None:
    world = World(BudgetPolicy(daily_limit_usd=Decimal(1)), "1", "2", "3")
    world.agent.scripts["1"] = [spends(80_000)]  # $0.40
    world.agent.scripts["2"] = [spends(80_000)]  # $0.80: crosses 75 %
    world.agent.scripts["3"] = [spends(10_000)]  # $0.85: still warn, no second warning
    assert world.run() is SessionState.COMPLETED
    events = world.budget_events()
    assert [(e["level"], e["spent_usd"]) for e in events] == [("warn", "0.80")]


def test_a_halted_session_goes_on_when_the_limit_is_raised_and_reruns_the_stopped_task() -> None:
    world = World(BudgetPolicy(daily_limit_usd=Decimal(1)), "1")
    world.agent.scripts["1"] = [spends(300_000), spends(10)]
    assert world.run() is SessionState.HALTED
    send_command(world.store, world.sid, Command.RESUME, world.clock)
    assert world.run() is SessionState.HALTED  # same limit: halts again before starting anything
    world.budget = BudgetPolicy(daily_limit_usd=Decimal(5))
    send_command(world.store, world.sid, Command.RESUME, world.clock)
    assert world.run() is SessionState.COMPLETED
    run = world.store.load(world.sid).run("1")
    assert [a.outcome for a in run.attempts] == [Outcome.STOPPED, Outcome.SUCCEEDED]
    report = budget_report(world.store, world.budget, world.clock)
    assert report.status.spent == Decimal("1.50") + Decimal("0.00005")


def test_the_task_file_limit_narrows_the_day_for_its_session() -> None:
    world = World(BudgetPolicy(daily_limit_usd=Decimal(100)), "1", "2", max_cost=Decimal("0.5"))
    world.agent.scripts["1"] = [spends(200_000)]  # $1 > $0.50
    assert world.run() is SessionState.HALTED
    assert "session budget" in world.store.session(world.sid).reason


def test_a_task_over_its_own_limit_fails_and_the_others_go_on() -> None:
    world = World(BudgetPolicy(task_limit_usd=Decimal("0.1")), "1", "2")
    world.agent.scripts["1"] = [spends(100_000)]  # $0.50
    world.agent.scripts["2"] = [spends(1_000)]
    assert world.run() is SessionState.FAILED
    snap = world.store.load(world.sid)
    assert snap.run("1").state is TaskState.FAILED
    assert "task's limit" in snap.run("1").reason
    assert snap.run("2").state is TaskState.COMPLETED


def test_the_agents_own_reported_cost_wins_over_the_estimate() -> None:
    world = World(BudgetPolicy(daily_limit_usd=Decimal(10)), "1")

    def reports(_: AgentRequest, sink: EventSink) -> AgentResult:
        sink(usage_event("m0", 1000))
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.0123"))

    world.agent.scripts["1"] = [reports]
    world.run()
    assert world.store.load(world.sid).run("1").attempts[0].cost_usd == Decimal("0.0123")


@pytest.mark.parametrize(
    ("instant", "midnight"),
    [
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 27, 23, 0, tzinfo=UTC)),  # CET
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # the change
        (datetime(2026, 3, 30, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),  # CEST
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),
        (datetime(2026, 10, 26, 12, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
    ],
)
def test_a_local_budget_day_follows_the_local_zone_across_a_dst_change(
    instant: datetime, midnight: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.settings import Settings

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    tzlocal.reload_localzone()  # tzlocal reads the zone once per process
    try:
        policy = Settings().budget_policy()  # budget.timezone defaults to "local"
        assert policy.day_start(instant) == midnight
        assert policy.next_day(midnight - timedelta(minutes=1)) == midnight
    finally:
        monkeypatch.undo()
        time.tzset()
        tzlocal.reload_localzone()


def test_a_named_budget_zone_is_a_real_zone_not_an_offset() -> None:
    policy = BudgetPolicy(tz=ZoneInfo("America/New_York"))
    before, after = datetime(2026, 3, 8, 4, 0, tzinfo=UTC), datetime(2026, 3, 9, 4, 30, tzinfo=UTC)
    assert policy.day_start(before) == datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    assert policy.day_start(after) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert policy.next_day(before) == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def test_an_attempt_counts_what_the_others_spend_after_it_began_and_only_that() -> None:
    shared = SharedSpend()
    shared.begin("a", 1)
    shared.spend("a", 1, Decimal("0.40"))
    shared.end("a", 1, Decimal("0.50"))  # a's final cost is in the store when b's budget is read
    shared.begin("b", 1)
    shared.begin("c", 1)
    assert shared.spend("b", 1, Decimal("0.10")) == Decimal(0)  # a is in b's budget already
    assert shared.spend("c", 1, Decimal("0.20")) == Decimal("0.10")  # b so far
    shared.end("b", 1, Decimal("0.30"))
    shared.end("b", 1, Decimal("0.30"))  # told twice: counted once
    assert shared.spend("c", 1, Decimal("0.25")) == Decimal("0.30")  # b's final cost
    assert shared.running == Decimal("0.25")
