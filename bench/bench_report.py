"""How long the day's report takes to build and render, at 100 and 1,000 tasks in a day.

The sessions are real: the engine runs them on the in-memory store with a scripted agent (one
task in five fails once and is retried, one in ten waits for an approval), 50 tasks per session.
Then, timed apart: reading the records back, building the DayReport (pure), the markdown, and the
HTML with its three pygal charts. Prints medians over N rounds; asserts nothing.
Usage: python bench/bench_report.py [--rounds N] [--tasks 100,1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

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

PER_SESSION = 50
TYPES = ("backend", "frontend", "database", "docs", "testing")
DAY = date(2026, 11, 23)


def paid(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.03"), input_tokens=900, output_tokens=150
    )


def flaky(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.FAILED, exit_code=1, reason="tests failed", retryable=True, cost_usd=Decimal("0.01")
    )


def a_day(tasks: int) -> tuple[InMemoryStore, FakeClock]:
    store, clock, ids = (
        InMemoryStore(),
        FakeClock(current=datetime(2026, 11, 23, 7, tzinfo=UTC), step=timedelta(seconds=1)),
        SequentialIds(),
    )
    for start in range(0, tasks, PER_SESSION):
        numbers = range(start + 1, min(tasks, start + PER_SESSION) + 1)
        plan = Plan(
            f"day-{start}.md",
            tuple(
                Task(
                    id=str(n),
                    title=f"Task {n}",
                    type=TYPES[n % len(TYPES)],
                    description="x",
                    requires_approval=n % 10 == 0,
                )
                for n in numbers
            ),
        )
        agent = ScriptedAgent(scripts={str(n): [flaky, paid] if n % 5 == 0 else [paid] for n in numbers})
        sid = create_session(store, plan, ids, clock).session.id
        send_command(store, sid, Command.START, clock)
        engine = Engine(
            store, agent, clock, SequentialIds("e"), MemoryLogs(), retry=RetryPolicy(base_delay_s=1)
        )
        while engine.run(sid).session.state is SessionState.WAITING_APPROVAL:
            clock.advance(120)
            send_command(store, sid, Command.APPROVE, clock, source="telegram")
    return store, clock


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", default="100,1000")
    args = parser.parse_args()
    from adapters.charts import PygalCharts

    charts = PygalCharts()
    for tasks in (int(n) for n in args.tasks.split(",")):
        made = time.perf_counter()
        store, clock = a_day(tasks)
        print(
            f"{tasks:,} tasks in {tasks // PER_SESSION or 1} sessions (engine run: {time.perf_counter() - made:.1f} s)"
        )
        read, built, md, html = [], [], [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            records = [SessionRecords(store.load(s.id), tuple(store.events(s.id))) for s in store.sessions()]
            t1 = time.perf_counter()
            report = build_day_report(records, DAY, clock.now(), UTC, spent_usd=Decimal(0), limit_usd=None)
            t2 = time.perf_counter()
            text = render_markdown(report)
            t3 = time.perf_counter()
            page = render_html(report, charts)
            t4 = time.perf_counter()
            read.append(t1 - t0)
            built.append(t2 - t1)
            md.append(t3 - t2)
            html.append(t4 - t3)
        print(f"  read records   {median_ms(read)}")
        print(
            f"  build report   {median_ms(built)}   ({len(report.tasks):,} task lines, {len(report.spans):,} attempts)"
        )
        print(f"  markdown       {median_ms(md)}   ({len(text) // 1024:,} KiB)")
        print(f"  html + charts  {median_ms(html)}   ({len(page) // 1024:,} KiB)")


if __name__ == "__main__":
    main()
