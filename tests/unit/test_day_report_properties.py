"""Whatever a day holds, its report agrees with the store: one line per task, costs that add up by
type and to the ledger, retries that match the attempts, waits never negative, and pages that
render (hypothesis over random days: outcomes per attempt, approvals, titles)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.store import InMemoryStore
from apps.day_report_render import render_html, render_markdown
from orchcore.day_report import SessionRecords, build_day_report
from orchcore.engine import Engine
from orchcore.policy import RetryPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

DAY = date(2026, 11, 23)
STEPS = {
    "ok": AgentResult(
        Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.05"), input_tokens=100, output_tokens=10
    ),
    "flaky": AgentResult(
        Outcome.FAILED, exit_code=1, reason="flaky", retryable=True, cost_usd=Decimal("0.01")
    ),
    "broken": AgentResult(Outcome.FAILED, exit_code=1, reason="broken"),
    "free": AgentResult(Outcome.SUCCEEDED, exit_code=0),
}
_title = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
)
_task = st.tuples(
    st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=3),
    st.booleans(),
    st.sampled_from(["backend", "docs", "db"]),
    _title,
)


def _step(name: str) -> Callable[[AgentRequest, EventSink], AgentResult]:
    def run(_: AgentRequest, __: EventSink) -> AgentResult:
        return STEPS[name]

    return run


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tasks=st.lists(_task, min_size=1, max_size=6), wait_s=st.integers(min_value=0, max_value=3600))
def test_the_report_agrees_with_the_store(tasks: list[tuple[list[str], bool, str, str]], wait_s: int) -> None:
    store, clock, ids = (
        InMemoryStore(),
        FakeClock(current=datetime(2026, 11, 23, 8, tzinfo=UTC), step=timedelta(seconds=3)),
        SequentialIds(),
    )
    plan = Plan(
        "day.md",
        tuple(
            Task(id=str(n), title=title, type=kind, description="x", requires_approval=gated)
            for n, (_, gated, kind, title) in enumerate(tasks, 1)
        ),
    )
    agent = ScriptedAgent(
        scripts={str(n): [_step(s) for s in steps] for n, (steps, *_) in enumerate(tasks, 1)}
    )
    sid = create_session(store, plan, ids, clock).session.id
    send_command(store, sid, Command.START, clock)
    engine = Engine(store, agent, clock, SequentialIds("e"), MemoryLogs(), retry=RetryPolicy(base_delay_s=1))
    for _ in range(20):
        if engine.run(sid).session.state is not SessionState.WAITING_APPROVAL:
            break
        clock.advance(wait_s)
        send_command(store, sid, Command.APPROVE, clock, source="telegram")

    snap = store.load(sid)
    records = [SessionRecords(snap, tuple(store.events(sid)))]
    ledger = sum(
        (r.attempt.cost_usd or Decimal(0) for r in store.attempts_since(datetime(2026, 11, 23, tzinfo=UTC))),
        Decimal(0),
    )
    report = build_day_report(records, DAY, clock.now(), UTC, spent_usd=ledger, limit_usd=None)

    assert [t.task_id for t in report.tasks] == list(plan.ids)
    for line in report.tasks:
        run = snap.runs[line.task_id]
        assert line.attempts == run.attempt
        assert len(line.retries) == max(
            0, run.attempt - 1
        )  # nobody asks here: every earlier attempt is a retry
        assert line.human_wait_s >= 0
        assert line.succeeded == (run.state.value == "completed")
    costs = [t.cost_usd for t in report.tasks if t.cost_usd is not None]
    assert sum((t.cost_usd for t in report.by_type), Decimal(0)) == sum(costs, Decimal(0)) == ledger
    assert sum(sum(t.outcomes.values()) for t in report.by_type) == len(tasks)
    assert report.success_rate is None or 0 <= report.success_rate <= 1
    for a in report.approvals:
        assert a.gate == "before"
        assert snap.plan.task(a.task_id).requires_approval
        assert a.wait_s is None or (a.by == "telegram" and a.wait_s >= wait_s)
    assert len(report.spans) == sum(r.attempt for r in snap.runs.values())
    md = render_markdown(report)
    table = md.split("## Tasks", 1)[1].split("\n## ", 1)[0]
    assert sum(1 for row in table.splitlines() if row.startswith(f"| {sid}/")) == len(tasks)
    assert "<script" not in render_html(report, None)
