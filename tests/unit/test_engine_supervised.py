"""The engine with the supervisor: fakes for the agent, the store, the checks and the judge."""

from __future__ import annotations

import pytest

from adapters.memory.store import InMemoryStore
from orchcore.attempt_check import AttemptChecker
from orchcore.engine import Engine
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, Finished
from orchcore.ports.supervisor import JudgeUnavailable
from orchcore.records import EventKind, JsonObject, Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.supervise import DecisionConfig, SupervisorConfig
from orchcore.supervision import fix_history
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, ScriptedCheckRunner, SequentialIds
from orchcore.testing.fakes import Script
from orchcore.testing.supervisor import ScriptedSupervisor

TASK = Task(id="1", title="Docs", type="research", description="write it", checks=("make check",))


def said(text: str, session: str = "agent-s1") -> Script:
    def step(request: AgentRequest, sink: EventSink) -> AgentResult:
        del request, sink
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text=text, agent_session_id=session)

    return step


class World:
    def __init__(
        self, agent: ScriptedAgent, *, fix: int = 2, judge: ScriptedSupervisor | None = None
    ) -> None:
        self.store, self.clock, self.ids = InMemoryStore(), FakeClock(), SequentialIds()
        self.agent = agent
        self.checks = ScriptedCheckRunner(failing={"make check"})
        config = SupervisorConfig(decision=DecisionConfig(max_fix_attempts=fix))
        self.checker = AttemptChecker(self.checks, self.clock, config, judge)
        snap = create_session(self.store, Plan("t.md", (TASK,)), self.ids, self.clock, auto_approve=True)
        self.sid = snap.session.id
        send_command(self.store, self.sid, Command.START, self.clock)

    def run(self) -> SessionState:
        engine = Engine(self.store, self.agent, self.clock, self.ids, MemoryLogs(), checker=self.checker)
        return engine.run(self.sid).session.state

    def events(self, kind: EventKind) -> list[JsonObject]:
        return [e.data for e in self.store.events(self.sid) if e.kind is kind]


def test_a_failing_check_retries_in_the_same_agent_session_with_the_output_as_the_prompt() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}))

    def fixed(request: AgentRequest, sink: EventSink) -> AgentResult:
        world.checks.failing = set()
        return said("fixed")(request, sink)

    world.agent.scripts["1"].append(fixed)
    assert world.run() is SessionState.COMPLETED
    first, second = world.agent.requests
    assert first.resume_agent_session is None
    assert second.resume_agent_session == "agent-s1"
    assert "E   assert 1 == 2" in second.prompt
    assert second.prompt.startswith("Your last attempt was checked")
    actions = [d["action"] for d in world.events(EventKind.SUPERVISION)]
    assert actions == ["retry_with_feedback", "accept"]
    assert {d["name"] for d in world.events(EventKind.GATE)} >= {"check:make check"}


def test_still_failing_stops_for_review_and_reject_retries_with_the_reason() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=0)
    assert world.run() is SessionState.WAITING_APPROVAL
    snap = world.store.load(world.sid)
    assert snap.run("1").state is TaskState.WAITING_REVIEW
    assert "stopped for review: rule gate-still-failing" in snap.session.reason
    send_command(world.store, world.sid, Command.REJECT, world.clock, task_id="1", text="use the real data")
    assert world.store.load(world.sid).run("1").state is TaskState.PENDING
    world.checks.failing = set()
    assert world.run() is SessionState.COMPLETED
    assert "use the real data" in world.agent.requests[-1].prompt
    assert fix_history(world.store.events(world.sid), "1").fix_attempts == 1


def test_approving_a_stopped_attempt_completes_the_task_without_running_it_again() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=0)
    world.run()
    send_command(world.store, world.sid, Command.APPROVE, world.clock, task_id="1")
    assert world.run() is SessionState.COMPLETED
    assert len(world.agent.requests) == 1


def test_a_courtesy_question_after_the_work_does_not_wait_for_an_answer() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("Done. Anything else you would like me to add?")]}))
    world.checks.failing = set()
    assert world.run() is SessionState.COMPLETED


def test_a_real_question_waits_for_an_answer() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("Should the ids be UUIDs or integers?")]}))
    world.checks.failing = set()
    assert world.run() is SessionState.WAITING_ANSWER
    assert world.store.load(world.sid).run("1").question == "Should the ids be UUIDs or integers?"


def test_a_judge_that_cannot_answer_leaves_the_decision_to_the_gates_and_says_so() -> None:
    judge = ScriptedSupervisor.always(JudgeUnavailable("connection refused"))
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), judge=judge)
    world.checks.failing = set()
    assert world.run() is SessionState.COMPLETED
    (data,) = world.events(EventKind.SUPERVISION)
    assert data["judge"] == "unavailable: connection refused"
    assert len(judge.requests) == 1


def test_without_the_supervisor_a_courtesy_question_after_the_work_completes_the_task() -> None:
    store, clock, ids = InMemoryStore(), FakeClock(), SequentialIds()
    plan = Plan("t.md", (Task(id="1", title="Docs", description="write it"),))
    sid = create_session(store, plan, ids, clock, auto_approve=True).session.id
    send_command(store, sid, Command.START, clock)
    agent = ScriptedAgent(
        scripts={"1": [said("I wrote docs/a.md.\n\nWould you like me to add more examples?")]}
    )
    assert Engine(store, agent, clock, ids, MemoryLogs()).run(sid).session.state is SessionState.COMPLETED


def test_a_stop_for_review_notifies_the_rule_and_the_confidence_not_done() -> None:
    from orchcore.notify import Routing
    from orchcore.ports.notifier import NotificationKind

    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=0)
    engine = Engine(
        world.store,
        world.agent,
        world.clock,
        world.ids,
        MemoryLogs(),
        checker=world.checker,
        routing=Routing(channels=("n8n",), kinds=frozenset(NotificationKind)),
    )
    engine.run(world.sid)
    told = [e.notification for e in world.store.undelivered(world.sid)]
    assert not [n for n in told if n.kind is NotificationKind.TASK_COMPLETED]
    review = told[-1]
    assert review.kind is NotificationKind.APPROVAL_NEEDED
    assert review.title.startswith("Task 1 stopped for review: rule gate-still-failing, confidence 0.")
    assert "orch approve" not in review.text
    assert "runs it again with the reason as feedback" in review.text
    assert review.actions == ("approve 1", "reject 1")


def test_the_feedback_survives_a_crash_of_the_attempt_that_got_it() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=1)

    def crash(request: AgentRequest, sink: EventSink) -> AgentResult:
        raise RuntimeError("orch died")

    world.agent.scripts["1"].append(crash)
    with pytest.raises(RuntimeError, match="orch died"):
        world.run()
    assert world.store.load(world.sid).run("1").state is TaskState.INTERRUPTED
    send_command(world.store, world.sid, Command.RESUME, world.clock)  # orch paused it on the error
    world.agent.scripts["1"].append(said("fixed"))
    world.checks.failing = set()
    assert world.run() is SessionState.COMPLETED
    _, second, third = world.agent.requests
    assert "E   assert 1 == 2" in second.prompt
    assert "E   assert 1 == 2" in third.prompt  # the crashed attempt's feedback is given again


def test_feedback_already_judged_is_not_given_again() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=0)
    world.run()  # stopped for review, no retry
    send_command(world.store, world.sid, Command.REJECT, world.clock, task_id="1", text="redo it")
    world.run()  # rejected: runs again with the reason, still failing: stopped again
    send_command(world.store, world.sid, Command.REJECT, world.clock, task_id="1", text="once more")
    world.checks.failing = set()
    assert world.run() is SessionState.COMPLETED
    prompts = [r.prompt for r in world.agent.requests]
    assert "redo it" in prompts[1]
    assert "once more" in prompts[2]
    assert "redo it" not in prompts[2]


def test_without_checkpoints_a_deliverable_that_is_there_is_not_called_unchanged() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}))
    world.store = InMemoryStore()
    task = Task(id="1", title="Docs", type="research", description="d", deliverables=("./docs/a.md",))
    world.sid = create_session(
        world.store, Plan("t.md", (task,)), world.ids, world.clock, auto_approve=True
    ).session.id
    send_command(world.store, world.sid, Command.START, world.clock)
    world.checker.every_task = True
    world.checks.files = {"docs/a.md": "# A\n\nThe real text.\n"}
    world.run()  # nothing is known to have changed: something-changed fails, but not the deliverable
    deliverables = [d for d in world.events(EventKind.GATE) if d["name"] == "deliverables"]
    assert deliverables
    assert all(d["passed"] for d in deliverables), deliverables


def test_the_turns_the_agent_reports_when_it_finishes_are_the_evidence_of_its_attempt() -> None:
    def finished_in_four_turns(request: AgentRequest, sink: EventSink) -> AgentResult:
        sink(Finished("done", turns=4, agent_session_id="agent-s1"))  # the stream says; the result does not
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")

    world = World(ScriptedAgent(scripts={"1": [finished_in_four_turns]}))
    world.checks.failing = set()
    world.run()
    (supervision,) = world.events(EventKind.SUPERVISION)
    assert supervision["turns"] == 4
    assert world.store.load(world.sid).run("1").attempts[-1].agent_session_id == "agent-s1"
