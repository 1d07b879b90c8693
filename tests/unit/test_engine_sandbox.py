"""The engine and the sandbox: every request carries the boundary, the attempt's processes are
recorded as soon as they run, a crashed attempt's are killed before the next, the status is told."""

from __future__ import annotations

import attrs

from adapters.memory.store import InMemoryStore
from orchcore.decide import begin
from orchcore.engine import Engine
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, ProcessStarted
from orchcore.records import AttemptProcess, EventKind, Outcome
from orchcore.sandbox import SandboxPolicy, SandboxStatus, record_process, sandbox_line
from orchcore.service import create_session, send_command
from orchcore.state import Command, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

PROCESS = AttemptProcess(group=4242, leader_start=99, marker="m1")
POLICY = SandboxPolicy(writable=["/work"], hidden=["/work/.orch"])


@attrs.define
class World:
    store: InMemoryStore = attrs.field(factory=InMemoryStore)
    clock: FakeClock = attrs.field(factory=FakeClock)
    agent: ScriptedAgent = attrs.field(factory=ScriptedAgent)
    reaped: list[tuple[AttemptProcess, TaskState]] = attrs.field(factory=list)
    session_id: str = ""

    def __attrs_post_init__(self) -> None:
        plan = Plan("today.md", (Task(id="1", title="one", description="do it"),))
        snap = create_session(self.store, plan, SequentialIds(), self.clock, auto_approve=True)
        self.session_id = snap.session.id
        send_command(self.store, self.session_id, Command.START, self.clock)

    def reap(self, process: AttemptProcess) -> None:
        # what the task's state is at the moment of the kill: it must still say running
        self.reaped.append((process, self.store.load(self.session_id).run("1").state))

    def engine(self, status: SandboxStatus | None = None) -> Engine:
        return Engine(
            self.store,
            self.agent,
            self.clock,
            SequentialIds(),
            MemoryLogs(),
            sandbox=POLICY,
            sandbox_status=status,
            reap=self.reap,
        )


def test_every_request_carries_the_sandbox_policy() -> None:
    world = World()
    world.engine().run(world.session_id)
    assert [r.sandbox for r in world.agent.requests] == [POLICY]


def test_the_process_an_agent_reports_is_stored_before_the_attempt_ends() -> None:
    world = World()
    seen: list[AttemptProcess | None] = []

    def reports_then_looks(request: AgentRequest, on_event: EventSink) -> AgentResult:
        on_event(ProcessStarted(PROCESS.group, PROCESS.leader_start, PROCESS.marker))
        seen.append(world.store.load(world.session_id).run("1").attempts[-1].process)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    world.agent.scripts["1"] = [reports_then_looks]
    world.engine().run(world.session_id)

    assert seen == [PROCESS]
    assert world.store.load(world.session_id).run("1").attempts[-1].process == PROCESS
    assert not [e for e in world.store.events(world.session_id) if e.data.get("kind") == "process"]


def test_a_crashed_attempts_processes_are_reaped_before_it_is_marked_interrupted_and_run_again() -> None:
    world = World()
    sid = world.session_id
    world.store.transact(sid, lambda s: begin(s, "1", world.clock.now()))
    world.store.transact(sid, lambda s: record_process(s, "1", 1, PROCESS))  # then the engine died

    world.engine().run(sid)

    assert world.reaped == [(PROCESS, TaskState.RUNNING)]
    attempts = world.store.load(sid).run("1").attempts
    assert [a.outcome for a in attempts] == [Outcome.INTERRUPTED, Outcome.SUCCEEDED]


def test_nothing_is_reaped_when_no_attempt_was_left_running() -> None:
    world = World()
    world.engine().run(world.session_id)
    world.engine().run(world.session_id)
    assert world.reaped == []


def test_the_sandbox_status_is_a_session_event_of_the_run() -> None:
    world = World()
    world.engine(SandboxStatus(False, "bubblewrap (bwrap) is not installed")).run(world.session_id)

    (event,) = [e for e in world.store.events(world.session_id) if e.kind is EventKind.SANDBOX]
    assert event.data["text"] == "sandbox: off (bubblewrap (bwrap) is not installed)"
    assert event.data["active"] is False


def test_status_and_report_read_the_latest_runs_sandbox_line() -> None:
    world = World()
    world.engine(SandboxStatus(True, "bubblewrap, network open")).run(world.session_id)
    assert sandbox_line(world.store.events(world.session_id)) == "sandbox: on (bubblewrap, network open)"

    world.engine(SandboxStatus(False, "turned off in the config", wanted=False)).run(world.session_id)
    assert sandbox_line(world.store.events(world.session_id)) == "sandbox: off (turned off in the config)"
    assert sandbox_line([]) is None
