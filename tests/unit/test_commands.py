"""Human commands (approve, reject, skip, retry, pause, resume, cancel) applied to a stored session."""

from __future__ import annotations

import attrs
import pytest

from adapters.memory.store import InMemoryStore
from orchcore.decide import blocked_tasks
from orchcore.engine import Engine
from orchcore.errors import IllegalTransition, NotFound
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import EventKind, Gate, Outcome, Snapshot
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds, succeed


def fail(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed")


@attrs.define
class World:
    """One session in an in-memory store, an engine to drive it and a way to send commands."""

    plan: Plan
    store: InMemoryStore = attrs.field(factory=InMemoryStore)
    clock: FakeClock = attrs.field(factory=FakeClock)
    ids: SequentialIds = attrs.field(factory=SequentialIds)
    logs: MemoryLogs = attrs.field(factory=MemoryLogs)
    agent: ScriptedAgent = attrs.field(factory=ScriptedAgent)
    policy: ApprovalPolicy = attrs.field(factory=ApprovalPolicy)
    session_id: str = ""

    def __attrs_post_init__(self) -> None:
        snap = create_session(self.store, self.plan, self.ids, self.clock)
        self.session_id = snap.session.id
        self.send(Command.START)

    def send(self, command: Command, task_id: str | None = None, text: str = "") -> Snapshot:
        return send_command(self.store, self.session_id, command, self.clock, task_id=task_id, text=text)

    def run(self) -> Snapshot:
        Engine(self.store, self.agent, self.clock, self.ids, self.logs, policy=self.policy).run(
            self.session_id
        )
        return self.load()

    def load(self) -> Snapshot:
        return self.store.load(self.session_id)

    def refused(self, command: Command, task_id: str | None = None) -> IllegalTransition:
        """Send a command that must be refused; check that nothing changed."""
        before = self.load()
        events = self.store.events(self.session_id)
        with pytest.raises(IllegalTransition) as caught:
            self.send(command, task_id)
        assert self.load() == before
        assert self.store.events(self.session_id) == events
        return caught.value


def task(task_id: str, *deps: str, approval: bool = False) -> Task:
    return Task(
        id=task_id, title=f"task {task_id}", description="do it", depends_on=deps, requires_approval=approval
    )


def plan(*tasks: Task) -> Plan:
    return Plan(source="today.md", tasks=tasks)


@pytest.fixture
def gated() -> World:
    """Task 1 needs approval, 2 depends on it, 3 does not; the session waits on 1."""
    world = World(plan(task("1", approval=True), task("2", "1"), task("3")))
    snap = world.run()
    assert snap.session.state is SessionState.WAITING_APPROVAL
    assert (snap.session.waiting_for, snap.session.gate) == ("1", Gate.BEFORE)
    assert world.agent.ran() == []
    return world


def test_approve_when_nothing_waits_changes_nothing() -> None:
    world = World(plan(task("1")))
    error = world.refused(Command.APPROVE)
    assert str(error) == (
        "cannot approve: the session is running (allowed in this state: pause, resume, skip, retry, cancel)"
    )


def test_approve_with_the_wrong_task_id_names_the_task_that_waits(gated: World) -> None:
    error = gated.refused(Command.APPROVE, "3")
    assert (
        str(error)
        == "cannot approve: task 3 is pending (allowed in this state: approve 1 (the task waiting))"
    )


def test_approve_of_an_unknown_task_is_not_found_and_changes_nothing(gated: World) -> None:
    before = gated.load()
    with pytest.raises(NotFound, match="task 9 is not in this session"):
        gated.send(Command.APPROVE, "9")
    assert gated.load() == before


def test_approve_lets_the_waiting_task_start(gated: World) -> None:
    snap = gated.send(Command.APPROVE, "1")
    assert snap.session.state is SessionState.RUNNING
    assert snap.session.waiting_for is None
    assert snap.run("1").state is TaskState.PENDING
    assert snap.run("1").approved
    assert gated.run().session.state is SessionState.COMPLETED
    assert gated.agent.ran() == ["1", "2", "3"]


def test_approve_without_a_task_id_approves_the_task_that_waits(gated: World) -> None:
    assert gated.send(Command.APPROVE).run("1").approved


def test_reject_fails_the_task_and_its_dependents_are_reported_blocked(gated: World) -> None:
    snap = gated.send(Command.REJECT, "1", text="wrong table name")
    assert snap.run("1").state is TaskState.FAILED
    assert snap.run("1").reason == "rejected by cli: wrong table name"
    assert snap.session.state is SessionState.RUNNING

    snap = gated.run()
    assert gated.agent.ran() == ["3"]  # the independent task still runs
    assert snap.session.state is SessionState.FAILED
    assert snap.session.reason == "task 1 failed; blocked: 2"
    assert blocked_tasks(snap, TaskGraph(snap.plan.tasks)) == {"2": "1"}


def test_skip_of_the_waited_on_task_ungates_the_session(gated: World) -> None:
    snap = gated.send(Command.SKIP, "1")
    assert snap.session.state is SessionState.RUNNING
    assert (snap.session.waiting_for, snap.session.gate) == (None, None)
    assert snap.run("1").state is TaskState.SKIPPED
    assert snap.run("1").reason == "skipped by cli"

    snap = gated.run()
    assert snap.session.state is SessionState.COMPLETED
    assert gated.agent.ran() == ["2", "3"]  # a skipped dependency counts as done


def test_skip_of_another_task_keeps_the_session_waiting(gated: World) -> None:
    snap = gated.send(Command.SKIP, "3")
    assert snap.session.state is SessionState.WAITING_APPROVAL
    assert snap.session.waiting_for == "1"
    assert snap.run("3").state is TaskState.SKIPPED


def test_retry_of_a_failed_task_makes_a_failed_session_running_again() -> None:
    world = World(plan(task("1"), task("2", "1")))
    world.agent.scripts["1"] = [fail, succeed]
    assert world.run().session.state is SessionState.FAILED

    snap = world.send(Command.RETRY, "1")
    assert snap.session.state is SessionState.RUNNING
    assert snap.session.reason == ""
    assert snap.run("1").state is TaskState.PENDING

    snap = world.run()
    assert snap.session.state is SessionState.COMPLETED
    assert world.agent.ran() == ["1", "1", "2"]
    assert [a.outcome for a in snap.run("1").attempts] == [Outcome.FAILED, Outcome.SUCCEEDED]


def test_retry_of_a_task_that_did_not_fail_is_refused() -> None:
    world = World(plan(task("1")))
    world.run()
    error = world.refused(Command.RETRY, "1")
    # the session is completed: nothing is allowed any more
    assert "the session is completed" in str(error)


def test_retry_or_skip_without_a_task_is_refused(gated: World) -> None:
    gated.send(Command.PAUSE)
    error = gated.refused(Command.RETRY)
    assert "retry TASK" in str(error)
    error = gated.refused(Command.SKIP)
    assert "skip TASK" in str(error)


def test_retry_needs_approval_again_for_a_task_that_requires_it() -> None:
    world = World(plan(task("1", approval=True)))
    world.agent.scripts["1"] = [fail, succeed]
    world.run()
    world.send(Command.APPROVE, "1")
    assert world.run().session.state is SessionState.FAILED
    world.send(Command.RETRY, "1")
    snap = world.run()
    assert snap.session.state is SessionState.WAITING_APPROVAL
    assert snap.session.waiting_for == "1"


def test_pause_during_waiting_approval_then_resume_regates_the_same_task(gated: World) -> None:
    snap = gated.send(Command.PAUSE)
    assert snap.session.state is SessionState.PAUSED
    assert snap.session.waiting_for == "1"  # status still says what it waits for
    assert gated.refused(Command.APPROVE).allowed == ("resume", "skip", "retry", "cancel")

    assert gated.send(Command.RESUME).session.state is SessionState.RUNNING
    snap = gated.run()
    assert snap.session.state is SessionState.WAITING_APPROVAL
    assert (snap.session.waiting_for, snap.session.gate) == ("1", Gate.BEFORE)
    assert gated.agent.ran() == []


def test_skip_while_paused_releases_the_wait_but_stays_paused(gated: World) -> None:
    gated.send(Command.PAUSE)
    snap = gated.send(Command.SKIP, "1")
    assert snap.session.state is SessionState.PAUSED
    assert snap.session.waiting_for is None
    gated.send(Command.RESUME)
    assert gated.run().session.state is SessionState.COMPLETED


def test_cancel_ends_the_session_for_good(gated: World) -> None:
    snap = gated.send(Command.CANCEL)
    assert snap.session.state is SessionState.CANCELLED
    assert snap.session.reason == "cancelled by cli"
    for command in Command:
        assert gated.refused(command).allowed == ()
    assert gated.run().session.state is SessionState.CANCELLED
    assert gated.agent.ran() == []


def test_each_accepted_command_adds_one_version_and_records_who_sent_it(gated: World) -> None:
    version = gated.load().session.version
    seen = len(gated.store.events(gated.session_id))
    snap = send_command(gated.store, gated.session_id, Command.APPROVE, gated.clock, source="telegram")
    assert snap.session.version == version + 1
    new = gated.store.events(gated.session_id, after=seen)
    assert [e.kind for e in new] == [EventKind.COMMAND, EventKind.TASK_STATE, EventKind.SESSION_STATE]
    assert new[0].data == {"command": "approve", "source": "telegram"}
    assert new[0].task_id == "1"


def test_a_command_on_an_unknown_session_is_not_found() -> None:
    store = InMemoryStore()
    with pytest.raises(NotFound):
        send_command(store, "nope", Command.PAUSE, FakeClock())
