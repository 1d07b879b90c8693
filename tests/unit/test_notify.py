"""Which committed events become notifications, with which keys, titles and actions; and that
the engine and the command use case queue them in the very transaction of their transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from adapters.memory.store import InMemoryStore
from orchcore.budget import BudgetStatus, Level
from orchcore.decide import Halt, budget_event, halt, record_result
from orchcore.engine import Engine
from orchcore.notify import DEFAULT_KINDS, Routing, notification_key, notifications_for, with_outbox
from orchcore.policy import ApprovalPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.ports.notifier import NotificationKind
from orchcore.records import (
    Attempt,
    Event,
    EventKind,
    Mutation,
    OutboxEntry,
    Outcome,
    Session,
    Snapshot,
    TaskRun,
)
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EVERYTHING = Routing(channels=("n8n",), kinds=frozenset(NotificationKind))


def exit_1(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed")


def _plan(*tasks: Task) -> Plan:
    return Plan("/home/me/tasks/today.md", tasks or (Task("1", "Users table"), Task("2", "Endpoint")))


@attrs.define
class World:
    plan: Plan = attrs.field(factory=_plan)
    routing: Routing = EVERYTHING
    agent: ScriptedAgent = attrs.field(factory=ScriptedAgent)
    store: InMemoryStore = attrs.field(factory=InMemoryStore)
    clock: FakeClock = attrs.field(factory=lambda: FakeClock(step=timedelta(seconds=1)))
    session_id: str = ""

    def __attrs_post_init__(self) -> None:
        self.session_id = create_session(self.store, self.plan, SequentialIds(), self.clock).session.id

    def send(self, command: Command, task_id: str | None = None) -> Snapshot:
        return send_command(
            self.store, self.session_id, command, self.clock, task_id=task_id, routing=self.routing
        )

    def run(self, policy: ApprovalPolicy | None = None) -> None:
        engine = Engine(
            self.store,
            self.agent,
            self.clock,
            SequentialIds("e"),
            MemoryLogs(),
            policy=policy or ApprovalPolicy(),
            routing=self.routing,
        )
        engine.run(self.session_id)

    def outbox(self) -> list[OutboxEntry]:
        return self.store.undelivered(self.session_id)

    def titles(self) -> list[str]:
        return [e.notification.title for e in self.outbox()]


def test_a_run_queues_one_notification_per_event_worth_telling_in_commit_order() -> None:
    world = World(agent=ScriptedAgent(scripts={"2": [exit_1]}))
    world.send(Command.START)
    world.run()
    assert world.titles() == [
        "Session s1 started: 2 tasks",
        "Task 1 started: Users table",
        "Task 1 completed",
        "Task 2 started: Endpoint",
        "Task 2 failed: exit code 1",
        "Session s1 failed: task 2 failed",
    ]
    failed = world.outbox()[4].notification
    assert failed.kind is NotificationKind.TASK_FAILED
    assert failed.task_id == "2"
    assert failed.actions == ("logs 2", "retry 2", "skip 2")
    assert 'Task 2 "Endpoint" failed' in failed.text
    assert "tests failed" in failed.text
    assert "session s1 (today.md)" in failed.text
    assert failed.data["exit_code"] == 1
    assert failed.data["attempt"] == 1


def test_keys_are_session_version_index_and_kind_unique_across_the_run() -> None:
    world = World()
    world.send(Command.START)
    world.run()
    keys = [e.key for e in world.outbox()]
    assert len(set(keys)) == len(keys)
    assert keys[0] == "s1:2:1:session_started"  # version 2: the first commit after create; its event 1
    versions = [int(k.split(":")[1]) for k in keys]
    assert versions == sorted(versions)
    assert world.store.session(world.session_id).version >= versions[-1]


def test_the_same_change_on_the_same_state_gives_the_same_keys() -> None:
    world = World()
    before = world.store.load(world.session_id)
    from orchcore.commands import apply_command

    mutation = apply_command(before, Command.START, T0)
    assert notifications_for(before, mutation) == notifications_for(before, mutation)
    assert notification_key("s1", 2, 0, NotificationKind.SESSION_STARTED) == "s1:2:0:session_started"


def test_an_approval_carries_approve_and_reject_actions() -> None:
    world = World(plan=_plan(Task("1", "Drop the old table", requires_approval=True)))
    world.send(Command.START)
    world.run()
    approval = world.outbox()[-1].notification
    assert approval.kind is NotificationKind.APPROVAL_NEEDED
    assert approval.title == "Task 1 needs approval: Drop the old table"
    assert approval.actions == ("approve 1", "reject 1")
    assert world.store.session(world.session_id).state is SessionState.WAITING_APPROVAL


def test_a_checkpoint_review_asks_to_review_the_done_task() -> None:
    world = World(plan=_plan(Task("1", "Migrate", type="database")))
    world.send(Command.START)
    world.run(ApprovalPolicy(checkpoint_after=frozenset({"database"})))
    review = world.outbox()[-1].notification
    assert review.title == "Task 1 is done: review it"
    assert review.actions == ("approve 1", "reject 1")


def test_a_question_carries_the_question_and_an_answer_action() -> None:
    def asks(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(
            Outcome.SUCCEEDED, exit_code=0, final_text="QUESTION: Which database,\nPG or MySQL?"
        )

    world = World(agent=ScriptedAgent(scripts={"1": [asks]}))
    world.send(Command.START)
    world.run()
    kinds = [e.notification.kind for e in world.outbox()]
    assert NotificationKind.TASK_COMPLETED not in kinds  # the task did not complete: it asked
    question = world.outbox()[-1].notification
    assert question.kind is NotificationKind.QUESTION_ASKED
    assert "\n" not in question.title
    assert question.title.startswith("Task 1 asks: ")
    assert question.actions == ('answer "..."', "skip 1")


def test_the_default_kinds_leave_out_task_started_and_settings_can_narrow_them() -> None:
    world = World(routing=Routing(channels=("n8n",)))
    world.send(Command.START)
    world.run()
    assert NotificationKind.TASK_STARTED not in DEFAULT_KINDS
    assert [e.notification.kind for e in world.outbox()] == [
        NotificationKind.SESSION_STARTED,
        NotificationKind.TASK_COMPLETED,
        NotificationKind.TASK_COMPLETED,
        NotificationKind.SESSION_COMPLETED,
    ]
    narrow = World(routing=Routing(channels=("n8n",), kinds=frozenset({NotificationKind.SESSION_COMPLETED})))
    narrow.send(Command.START)
    narrow.run()
    assert narrow.titles() == ["Session s1 completed: 2 tasks (2 completed)"]


def test_each_channel_gets_its_own_entry_of_every_notification() -> None:
    world = World(routing=Routing(channels=("console", "n8n")))
    world.send(Command.START)
    (console, n8n) = world.outbox()
    assert (console.key, console.channel, n8n.key, n8n.channel) == (n8n.key, "console", console.key, "n8n")
    assert console.next_attempt_at == console.notification.created_at
    assert (console.attempts, console.delivered_at, console.gave_up) == (0, None, False)


def test_without_routing_nothing_is_queued() -> None:
    world = World(routing=Routing())
    send_command(world.store, world.session_id, Command.START, world.clock)  # no routing given
    world.run()
    assert world.outbox() == []


def test_commands_other_than_start_queue_nothing() -> None:
    world = World(plan=_plan(Task("1", "A", requires_approval=True)))
    world.send(Command.START)
    world.run()
    queued = len(world.outbox())
    world.send(Command.APPROVE, "1")
    world.send(Command.PAUSE)
    world.send(Command.RESUME)
    assert len(world.outbox()) == queued


def _snapshot(state: SessionState = SessionState.RUNNING, version: int = 7) -> Snapshot:
    plan = _plan()
    session = Session("s1", plan.source, state, T0, T0, version=version)
    return Snapshot(session, plan, {t: TaskRun(t, TaskState.COMPLETED) for t in plan.ids})


def test_a_budget_halt_is_told_once_as_a_budget_halt() -> None:
    before = _snapshot()
    spent = BudgetStatus(Decimal("10.5"), Decimal(10), Level.EXCEEDED, "day")
    mutation = halt(before, Halt(spent), T0, T0 + timedelta(hours=15))
    (only,) = notifications_for(before, mutation)
    assert only.kind is NotificationKind.BUDGET_HALT
    assert only.key == "s1:8:0:budget_halt"
    assert only.title.startswith("Budget reached, session s1 halted: day budget: $10.5000 of $10")


def test_a_budget_warning_is_told_and_a_crossing_inside_an_attempt_waits_for_the_halt() -> None:
    before = _snapshot()
    warn = budget_event(T0, BudgetStatus(Decimal("7.5"), Decimal(10), Level.WARN, "day"), "1")
    over = budget_event(T0, BudgetStatus(Decimal(11), Decimal(10), Level.EXCEEDED, "day"), "2")
    (warning,) = notifications_for(before, Mutation(events=(warn, over)))
    assert warning.kind is NotificationKind.BUDGET_WARNING
    assert warning.title == "Budget warning: day budget: $7.5000 of $10 (75%)"


def test_a_session_halted_for_another_reason_says_halted() -> None:
    before = _snapshot()
    event = Event(EventKind.SESSION_STATE, T0, data={"state": "halted", "reason": "too many failures"})
    (only,) = notifications_for(before, Mutation(events=(event,)))
    assert (only.kind, only.title) == (
        NotificationKind.SESSION_HALTED,
        "Session s1 halted: too many failures",
    )


def test_a_safety_violation_is_told_once_instead_of_the_task_failure_it_causes() -> None:
    before = _snapshot()
    run = attrs.evolve(before.run("2"), state=TaskState.RUNNING, attempts=(Attempt(1, T0),))
    before = attrs.evolve(before, runs={**before.runs, "2": run})
    result = AgentResult(Outcome.FAILED, exit_code=1, reason="safety violation: forbidden command: git push")
    violation = Event(
        EventKind.SAFETY,
        T0,
        task_id="2",
        attempt=1,
        data={"violations": ["forbidden command: git push"], "text": "forbidden command: git push"},
    )
    mutation = record_result(before, "2", result, T0, extra=(violation,))
    (only,) = notifications_for(before, mutation)
    assert only.kind is NotificationKind.SAFETY_VIOLATION
    assert only.title == "Task 2 failed a safety rule: forbidden command: git push"
    assert only.actions == ("logs 2", "retry 2", "skip 2")
    assert only.key == "s1:8:1:safety_violation"


def test_titles_are_one_short_line_whatever_the_reason() -> None:
    before = _snapshot()
    reason = "line one\nline two " + "x" * 500
    event = Event(
        EventKind.TASK_FINISHED, T0, task_id="1", attempt=2, data={"state": "failed", "reason": reason}
    )
    (only,) = notifications_for(before, Mutation(events=(event,)))
    assert "\n" not in only.title
    assert len(only.title) <= 200
    assert only.title.startswith("Task 1 failed: line one line two xxx")
    assert only.title.endswith("…")


@pytest.mark.parametrize("state", ["interrupted", "cancelled", "waiting_answer"])
def test_task_endings_that_are_not_the_tasks_verdict_are_not_told(state: str) -> None:
    event = Event(EventKind.TASK_FINISHED, T0, task_id="1", attempt=1, data={"state": state})
    assert notifications_for(_snapshot(), Mutation(events=(event,))) == ()


def test_with_outbox_leaves_a_mutation_without_events_alone() -> None:
    mutation = Mutation(runs=(TaskRun("1", TaskState.SKIPPED),))
    assert with_outbox(_snapshot(), mutation, EVERYTHING) is mutation


def test_a_refusal_is_told_as_a_refusal_and_the_task_completion_is_still_told() -> None:
    from orchcore.safety.events import SafetyLayer, refusal

    before = _snapshot()
    run = attrs.evolve(before.run("2"), state=TaskState.RUNNING, attempts=(Attempt(1, T0),))
    before = attrs.evolve(before, runs={**before.runs, "2": run})
    refused = refusal(SafetyLayer.CLI_PERMISSIONS, "Write /etc/passwd", "not granted")
    event = Event(EventKind.SAFETY, T0, task_id="2", attempt=1, data=refused.as_data())
    result = AgentResult(Outcome.SUCCEEDED, exit_code=0)
    mutation = record_result(before, "2", result, T0, extra=(event,))

    told = notifications_for(before, mutation)

    kinds = [n.kind for n in told]
    assert NotificationKind.SAFETY_REFUSAL in kinds
    assert NotificationKind.SAFETY_VIOLATION not in kinds
    assert NotificationKind.TASK_COMPLETED in kinds
    (note,) = [n for n in told if n.kind is NotificationKind.SAFETY_REFUSAL]
    assert "cli-permissions refused Write /etc/passwd" in note.title
    assert note.data["layer"] == "cli-permissions"


def test_costs_in_notifications_are_shown_to_four_places() -> None:
    def noisy(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.15000000000000002"))

    world = World(agent=ScriptedAgent(scripts={"1": [noisy], "2": [noisy]}))
    world.send(Command.START)
    world.run()
    texts = [e.notification.text for e in world.outbox()]
    assert not [t for t in texts if "0.15000000000000002" in t or "0.30000000000000004" in t]
    assert any(", cost $0.1500" in t for t in texts)
    assert any("Cost: $0.3000." in t for t in texts)
