"""Transient failures are retried with backoff; a usage limit waits for its reset."""

from __future__ import annotations

from datetime import timedelta

import attrs

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.policy import RetryPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds


def overloaded(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.FAILED, reason="API Error: overloaded", retryable=True, agent_session_id="cc-1"
    )


def broken(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="tests fail")


def ok(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.SUCCEEDED, exit_code=0)


class World:
    def __init__(self, *tasks: str, clock: FakeClock | None = None) -> None:
        self.store = InMemoryStore()
        self.clock = clock or FakeClock()
        self.agent = ScriptedAgent()
        plan = Plan("today.md", tuple(Task(t, f"Task {t}", instruction="x") for t in tasks))
        self.sid = create_session(self.store, plan, SequentialIds(), self.clock).session.id
        send_command(self.store, self.sid, Command.START, self.clock)

    def run(self, retry: RetryPolicy | None = None) -> SessionState:
        engine = Engine(
            self.store, self.agent, self.clock, SequentialIds("e"), MemoryLogs(), retry=retry or RetryPolicy()
        )
        return engine.run(self.sid).session.state


def test_a_transient_failure_is_retried_after_a_backoff() -> None:
    world = World("1")
    world.agent.scripts["1"] = [overloaded, ok]
    start = world.clock.now()
    assert world.run(RetryPolicy(base_delay_s=30)) is SessionState.COMPLETED
    first, second = world.store.load(world.sid).run("1").attempts
    assert first.retry_at is not None
    assert first.retry_at - first.finished_at == timedelta(seconds=30)  # type: ignore[operator]
    assert second.started_at >= first.retry_at
    assert "retry 2 of 3" in first.reason
    assert world.clock.now() - start >= timedelta(seconds=30)


def test_the_backoff_doubles_and_the_task_fails_after_the_last_attempt() -> None:
    world = World("1")
    world.agent.scripts["1"] = [overloaded]
    assert world.run(RetryPolicy(max_attempts=3, base_delay_s=10)) is SessionState.FAILED
    run = world.store.load(world.sid).run("1")
    assert run.state is TaskState.FAILED
    gaps = [
        (b.started_at - a.finished_at).total_seconds()
        for a, b in zip(run.attempts, run.attempts[1:], strict=False)
    ]  # type: ignore[operator]
    assert [g >= d for g, d in zip(gaps, (10, 20), strict=True)] == [True, True]
    assert "gave up after 3 attempts" in run.reason


def test_a_real_failure_is_not_retried() -> None:
    world = World("1")
    world.agent.scripts["1"] = [broken, ok]
    assert world.run() is SessionState.FAILED
    assert world.agent.ran() == ["1"]


def test_while_one_task_backs_off_the_others_run() -> None:
    world = World("1", "2")
    world.agent.scripts["1"] = [overloaded, ok]
    assert world.run(RetryPolicy(base_delay_s=60)) is SessionState.COMPLETED
    assert world.agent.ran() == ["1", "2", "1"]


def test_a_usage_limit_waits_for_its_reset_then_resumes_the_agent_session() -> None:
    world = World("1")
    reset = world.clock.now() + timedelta(hours=2)

    def limited(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(
            Outcome.RATE_LIMITED, reason="usage limit reached", retry_at=reset, agent_session_id="cc-7"
        )

    world.agent.scripts["1"] = [limited, ok]
    assert world.run() is SessionState.COMPLETED
    first, second = world.store.load(world.sid).run("1").attempts
    assert first.outcome is Outcome.RATE_LIMITED
    assert second.started_at >= reset
    assert world.agent.requests[1].resume_agent_session == "cc-7"
    reasons = [e.data.get("reason", "") for e in world.store.events(world.sid)]
    assert any(str(r).startswith("waiting until") and "usage limit reached" in str(r) for r in reasons)


@attrs.define
class PausingClock(FakeClock):
    """A clock whose first sleep is interrupted by a human pausing the session."""

    world: World | None = None

    def sleep(self, seconds: float) -> None:
        if self.world is not None:
            send_command(self.world.store, self.world.sid, Command.PAUSE, self)
            self.world = None
        super().sleep(seconds)


def test_a_pause_during_a_wait_stops_the_engine() -> None:
    clock = PausingClock()
    world = World("1", clock=clock)
    clock.world = world
    world.agent.scripts["1"] = [overloaded, ok]
    assert world.run(RetryPolicy(base_delay_s=600)) is SessionState.PAUSED
    assert world.store.load(world.sid).run("1").state is TaskState.INTERRUPTED
    send_command(world.store, world.sid, Command.RESUME, world.clock)
    assert world.run(RetryPolicy(base_delay_s=600)) is SessionState.COMPLETED
