"""The engine drives a stored session through the ports: order, gates, failures, cancel, crashes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from adapters.memory.store import InMemoryStore
from orchcore.decide import begin, record_result
from orchcore.engine import Engine, RunOutcome
from orchcore.errors import AgentUnavailable, OrchError, SessionBusy
from orchcore.policy import ApprovalMode, ApprovalPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, OutputLine, Tick, ToolAction, ToolCall
from orchcore.records import Event, EventKind, Gate, Outcome, Snapshot
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Priority, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds, succeed


def fail(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed")


@attrs.define
class World:
    plan: Plan
    auto_approve: bool = False
    policy: ApprovalPolicy = attrs.field(factory=ApprovalPolicy)
    store: InMemoryStore = attrs.field(factory=InMemoryStore)
    clock: FakeClock = attrs.field(factory=FakeClock)
    ids: SequentialIds = attrs.field(factory=SequentialIds)
    logs: MemoryLogs = attrs.field(factory=MemoryLogs)
    agent: ScriptedAgent = attrs.field(factory=ScriptedAgent)
    watched: list[Event] = attrs.field(factory=list)
    session_id: str = ""

    def __attrs_post_init__(self) -> None:
        snap = create_session(self.store, self.plan, self.ids, self.clock, auto_approve=self.auto_approve)
        self.session_id = snap.session.id
        self.send(Command.START)

    def engine(self) -> Engine:
        return Engine(
            self.store,
            self.agent,
            self.clock,
            self.ids,
            self.logs,
            policy=self.policy,
            watch=self.watched.append,
        )

    def run(self) -> RunOutcome:
        return self.engine().run(self.session_id)

    def send(self, command: Command, task_id: str | None = None) -> Snapshot:
        return send_command(self.store, self.session_id, command, self.clock, task_id=task_id)

    def load(self) -> Snapshot:
        return self.store.load(self.session_id)


def task(
    task_id: str,
    *deps: str,
    priority: Priority = Priority.MEDIUM,
    approval: bool = False,
    type: str = "backend",  # noqa: A002 - the task-file field is called type
) -> Task:
    return Task(
        id=task_id,
        title=f"task {task_id}",
        description="do it",
        depends_on=deps,
        priority=priority,
        requires_approval=approval,
        type=type,
    )


def plan(*tasks: Task) -> Plan:
    return Plan(source="today.md", tasks=tasks)


def states(snap: Snapshot) -> dict[str, TaskState]:
    return {t: r.state for t, r in snap.runs.items()}


def test_tasks_run_in_dependency_then_priority_then_file_order() -> None:
    world = World(
        plan(
            task("1", priority=Priority.LOW),
            task("2", "3", priority=Priority.HIGH),
            task("3"),
            task("4", priority=Priority.HIGH),
            task("5"),
        )
    )
    outcome = world.run()
    assert world.agent.ran() == ["4", "3", "2", "5", "1"]
    assert outcome.tasks_run == 5
    assert outcome.session.state is SessionState.COMPLETED
    assert outcome.session.reason == "all tasks done"
    snap = world.load()
    assert set(states(snap).values()) == {TaskState.COMPLETED}
    assert all(r.attempts[0].outcome is Outcome.SUCCEEDED for r in snap.runs.values())


def test_the_agent_gets_the_prompt_attempt_and_log_path_of_each_task() -> None:
    world = World(plan(task("1"), task("2", "1")))
    world.run()
    first, second = world.agent.requests
    assert (first.task_id, first.attempt, first.session_id) == ("1", 1, world.session_id)
    assert first.log_path == world.logs.path(world.session_id, "1", 1)
    assert "# Task 1: task 1" in first.prompt
    assert "Tasks 1 (task 1) are complete." in second.prompt


def test_a_planned_session_is_not_started_by_the_engine() -> None:
    world = World(plan(task("1")))
    snap = create_session(world.store, world.plan, world.ids, world.clock)
    outcome = world.engine().run(snap.session.id)
    assert outcome.session.state is SessionState.PLANNED
    assert world.agent.ran() == []


def test_the_engine_stops_before_a_task_that_requires_approval_and_goes_on_after_approve() -> None:
    world = World(plan(task("1"), task("2", "1", approval=True), task("3", "2")))
    outcome = world.run()
    assert world.agent.ran() == ["1"]
    assert outcome.session.state is SessionState.WAITING_APPROVAL
    assert (outcome.session.waiting_for, outcome.session.gate) == ("2", Gate.BEFORE)
    assert outcome.session.reason == "task 2 needs approval before it starts"
    assert world.load().run("2").state is TaskState.WAITING_APPROVAL
    needed = [e for e in world.watched if e.kind is EventKind.APPROVAL_NEEDED]
    assert [(e.task_id, e.data["gate"]) for e in needed] == [("2", "before")]

    world.send(Command.APPROVE, "2")
    world.send(Command.RESUME)
    assert world.run().session.state is SessionState.COMPLETED
    assert world.agent.ran() == ["1", "2", "3"]


def test_a_checkpoint_type_stops_for_review_after_the_task_and_goes_on_after_approve() -> None:
    world = World(
        plan(task("1", type="database"), task("2", "1")),
        policy=ApprovalPolicy(checkpoint_after={"Database"}),  # config case does not matter
    )
    outcome = world.run()
    assert world.agent.ran() == ["1"]
    assert outcome.session.state is SessionState.WAITING_APPROVAL
    assert (outcome.session.waiting_for, outcome.session.gate) == ("1", Gate.AFTER)
    assert world.load().run("1").state is TaskState.COMPLETED

    snap = world.send(Command.APPROVE)
    assert snap.run("1").reviewed
    world.send(Command.RESUME)
    assert world.run().session.state is SessionState.COMPLETED
    assert world.agent.ran() == ["1", "2"]  # the reviewed task is not run again


def test_rejecting_at_a_checkpoint_fails_the_task_and_blocks_its_dependents() -> None:
    world = World(
        plan(task("1", type="database"), task("2", "1")), policy=ApprovalPolicy(checkpoint_after={"database"})
    )
    world.run()
    world.send(Command.REJECT)
    outcome = world.run()
    assert outcome.session.state is SessionState.FAILED
    assert states(world.load()) == {"1": TaskState.FAILED, "2": TaskState.PENDING}
    assert world.agent.ran() == ["1"]


def test_auto_approve_skips_before_gates_but_not_checkpoints() -> None:
    world = World(
        plan(task("1", approval=True), task("2", "1", approval=True, type="docs"), task("3", "2")),
        auto_approve=True,
        policy=ApprovalPolicy(checkpoint_after={"docs"}),
    )
    outcome = world.run()
    assert world.agent.ran() == ["1", "2"]
    assert (outcome.session.state, outcome.session.waiting_for, outcome.session.gate) == (
        SessionState.WAITING_APPROVAL,
        "2",
        Gate.AFTER,
    )


@pytest.mark.parametrize(
    ("policy", "expected_gate"),
    [
        (ApprovalPolicy(mode=ApprovalMode.MANUAL), "1"),
        (ApprovalPolicy(mode=ApprovalMode.AUTO), None),
        (ApprovalPolicy(auto_approve={"Backend"}), None),
        (ApprovalPolicy(), "1"),
    ],
)
def test_the_approval_policy_decides_which_tasks_wait(
    policy: ApprovalPolicy, expected_gate: str | None
) -> None:
    world = World(plan(task("1", approval=True)), policy=policy)
    assert world.run().session.waiting_for == expected_gate


def test_a_failed_task_blocks_its_dependents_while_independent_tasks_still_run() -> None:
    world = World(plan(task("1"), task("2", "1"), task("3", "2"), task("4")))
    world.agent.scripts["1"] = [fail]
    outcome = world.run()
    assert world.agent.ran() == ["1", "4"]
    assert outcome.session.state is SessionState.FAILED
    assert outcome.session.reason == "task 1 failed; blocked: 2, 3"
    snap = world.load()
    assert states(snap) == {
        "1": TaskState.FAILED,
        "2": TaskState.PENDING,
        "3": TaskState.PENDING,
        "4": TaskState.COMPLETED,
    }
    assert snap.run("1").reason == "tests failed"
    assert snap.run("1").attempts[0].exit_code == 1


def test_an_agent_error_fails_the_task_with_its_message() -> None:
    def broken(_: AgentRequest, __: EventSink) -> AgentResult:
        raise OrchError("the agent's session file is corrupt")

    world = World(plan(task("1")))
    world.agent.scripts["1"] = [broken]
    assert world.run().session.state is SessionState.FAILED
    run = world.load().run("1")
    assert run.state is TaskState.FAILED
    assert run.attempts[0].outcome is Outcome.ERROR
    assert run.reason == "the agent's session file is corrupt"


def test_cancelling_while_the_agent_runs_stops_it_at_the_next_poll_and_cancels_the_task() -> None:
    world = World(plan(task("1"), task("2")))
    replies: list[str | None] = []

    def cancelled_midway(_: AgentRequest, sink: EventSink) -> AgentResult:
        replies.append(sink(Tick()))  # first poll: still running
        send_command(world.store, world.session_id, Command.CANCEL, world.clock, source="telegram")
        replies.append(sink(Tick()))  # too soon to look again
        world.clock.advance(1)
        reason = sink(Tick())
        replies.append(reason)
        return AgentResult(Outcome.STOPPED, reason=reason or "")

    world.agent.scripts["1"] = [cancelled_midway]
    outcome = world.run()
    assert replies == [None, None, "the session was cancelled"]
    assert outcome.session.state is SessionState.CANCELLED
    assert outcome.session.reason == "cancelled by telegram"
    snap = world.load()
    assert snap.run("1").state is TaskState.CANCELLED
    assert snap.run("1").attempts[0].outcome is Outcome.STOPPED
    assert world.agent.ran() == ["1"]  # nothing else starts


def test_pause_while_the_agent_runs_lets_it_finish_then_stops() -> None:
    world = World(plan(task("1"), task("2")))

    def paused_midway(_: AgentRequest, __: EventSink) -> AgentResult:
        send_command(world.store, world.session_id, Command.PAUSE, world.clock)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    world.agent.scripts["1"] = [paused_midway]
    outcome = world.run()
    assert outcome.session.state is SessionState.PAUSED
    assert states(world.load()) == {"1": TaskState.COMPLETED, "2": TaskState.PENDING}
    world.send(Command.RESUME)
    assert world.run().session.state is SessionState.COMPLETED
    assert world.agent.ran() == ["1", "2"]


def test_agent_events_are_stored_and_shown_except_those_not_persisted() -> None:
    world = World(plan(task("1")))
    world.agent.events = [
        ToolCall("c1", "Edit", ToolAction.EDIT, "Edit src/db.py", paths=("src/db.py",)),
        OutputLine("raw line"),
    ]
    world.run()
    stored = [e for e in world.store.events(world.session_id) if e.kind is EventKind.AGENT]
    assert [(e.task_id, e.attempt, e.data) for e in stored] == [
        (
            "1",
            1,
            {
                "kind": "tool_use",
                "text": "Edit src/db.py",
                "id": "c1",
                "name": "Edit",
                "action": "edit",
                "input": {},
            },
        )
    ]
    shown = [e.data["kind"] for e in world.watched if e.kind is EventKind.AGENT]
    assert shown == ["tool_use", "output"]


def test_a_task_running_when_the_engine_died_is_interrupted_and_run_again_as_the_next_attempt() -> None:
    world = World(plan(task("1"), task("2", "1"), task("3", "2")))
    sid = world.session_id
    # a previous engine finished task 1, committed "task 2 running", then died
    world.store.transact(sid, lambda s: begin(s, "1", world.clock.now()))
    world.store.transact(
        sid, lambda s: record_result(s, "1", AgentResult(Outcome.SUCCEEDED, exit_code=0), world.clock.now())
    )
    world.store.transact(sid, lambda s: begin(s, "2", world.clock.now()))
    assert world.load().run("2").state is TaskState.RUNNING

    outcome = world.run()
    assert outcome.session.state is SessionState.COMPLETED
    assert world.agent.ran() == ["2", "3"]  # completed task 1 is not run again
    assert [r.attempt for r in world.agent.requests] == [2, 1]
    attempts = world.load().run("2").attempts
    assert [a.outcome for a in attempts] == [Outcome.INTERRUPTED, Outcome.SUCCEEDED]
    assert attempts[0].reason == "the orchestrator stopped while the task ran"
    assert world.load().run("1").attempt == 1


def test_a_task_left_running_in_a_session_cancelled_meanwhile_is_cancelled_not_run_again() -> None:
    world = World(plan(task("1"), task("2")))
    world.store.transact(world.session_id, lambda s: begin(s, "1", world.clock.now()))
    world.send(Command.CANCEL)  # the engine died, then the user cancelled
    outcome = world.run()
    assert outcome.session.state is SessionState.CANCELLED
    assert states(world.load()) == {"1": TaskState.CANCELLED, "2": TaskState.PENDING}
    assert world.agent.ran() == []


def test_an_interrupted_task_that_needed_approval_is_not_asked_again() -> None:
    world = World(plan(task("1", approval=True)))
    world.run()
    world.send(Command.APPROVE)
    world.store.transact(world.session_id, lambda s: begin(s, "1", world.clock.now()))
    assert world.run().session.state is SessionState.COMPLETED
    assert [r.attempt for r in world.agent.requests] == [2]


def test_another_engine_holding_the_lease_makes_the_session_busy() -> None:
    world = World(plan(task("1")))
    world.store.acquire_lease(world.session_id, "engine-elsewhere")
    before = world.load()
    with pytest.raises(SessionBusy):
        world.run()
    assert world.load() == before
    assert world.store.lease_holder(world.session_id) == "engine-elsewhere"
    assert world.agent.ran() == []


def test_the_engine_gives_its_lease_back_when_it_stops() -> None:
    world = World(plan(task("1")))
    world.run()
    assert world.store.lease_holder(world.session_id) is None


def test_an_unavailable_agent_changes_nothing() -> None:
    world = World(plan(task("1")))
    world.agent.available = False
    before = world.load()
    events = world.store.events(world.session_id)
    with pytest.raises(AgentUnavailable):
        world.run()
    assert world.load() == before
    assert world.store.events(world.session_id) == events
    assert world.store.lease_holder(world.session_id) is None


def test_ctrl_c_while_the_agent_runs_leaves_the_task_interrupted_for_the_next_run() -> None:
    def interrupted(_: AgentRequest, __: EventSink) -> AgentResult:
        raise KeyboardInterrupt

    world = World(plan(task("1")))
    world.agent.scripts["1"] = [interrupted, succeed]
    with pytest.raises(KeyboardInterrupt):
        world.run()
    run = world.load().run("1")
    assert run.state is TaskState.INTERRUPTED
    assert run.attempts[0].outcome is Outcome.INTERRUPTED
    assert run.reason == "interrupted by the user (Ctrl-C)"
    assert world.store.lease_holder(world.session_id) is None
    world.run()  # the next run gives it a second attempt
    assert world.load().run("1").state is TaskState.COMPLETED
    assert world.agent.ran() == ["1", "1"]


def test_an_unexpected_error_while_a_task_runs_leaves_it_interrupted_not_running() -> None:
    """An I/O error or a bug below the engine must not leave a task `running` with no engine
    (orch serve's worker goes on; `orch status` must say what happened)."""

    def broken(_: AgentRequest, __: EventSink) -> AgentResult:
        raise OSError(36, "File name too long")

    world = World(plan(task("1")))
    world.agent.scripts["1"] = [broken, succeed]
    with pytest.raises(OSError, match="File name too long"):
        world.run()
    snap = world.load()
    run = snap.run("1")
    assert run.state is TaskState.INTERRUPTED
    assert "File name too long" in run.reason
    assert world.store.lease_holder(world.session_id) is None
    # the session says so too, and waits for a human: not `running` with nobody driving it
    assert snap.session.state is SessionState.PAUSED
    assert "File name too long" in snap.session.reason
    assert "orch resume" in snap.session.reason
    world.send(Command.RESUME)
    world.run()
    assert world.load().run("1").state is TaskState.COMPLETED


def test_cost_and_tokens_reported_by_the_agent_are_kept_on_the_attempt() -> None:
    def costly(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(
            Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.42"), input_tokens=1000, output_tokens=200
        )

    world = World(plan(task("1")))
    world.agent.scripts["1"] = [costly]
    world.clock.step = timedelta(seconds=5)
    world.run()
    attempt = world.load().run("1").attempts[0]
    assert (attempt.cost_usd, attempt.input_tokens, attempt.output_tokens) == (Decimal("0.42"), 1000, 200)
    assert attempt.finished_at is not None
    assert attempt.finished_at > attempt.started_at


def test_a_question_asked_while_the_session_was_paused_waits_for_its_answer_after_resume() -> None:
    """A pause sent while the agent works must not turn its question into a completed task."""
    world = World(plan(task("1"), task("2", "1")))

    def asks_after_a_pause(_: AgentRequest, __: EventSink) -> AgentResult:
        world.send(Command.PAUSE)  # the human pauses while the agent is still at work
        return AgentResult(
            Outcome.SUCCEEDED, exit_code=0, final_text="Done the parsing.\n\nShould ids be UUIDs?"
        )

    world.agent.scripts["1"] = [asks_after_a_pause, succeed]
    assert world.run().session.state is SessionState.PAUSED
    run = world.load().run("1")
    assert run.state is TaskState.WAITING_ANSWER
    assert run.question == "Should ids be UUIDs?"
    world.send(Command.RESUME)
    outcome = world.run()
    assert outcome.session.state is SessionState.WAITING_ANSWER
    assert outcome.session.reason == "task 1 asks: Should ids be UUIDs?"
    assert world.agent.ran() == ["1"]  # task 2 waits for the answer its dependency needs
