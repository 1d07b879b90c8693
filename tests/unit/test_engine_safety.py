"""The engine's own safety layers: a forbidden tool call in the stream stops the
agent; a git ref that moved during a task fails it. Both are recorded as evidence."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.notify import Routing
from orchcore.ports.agent import (
    AgentRequest,
    AgentResult,
    EventSink,
    Refused,
    Said,
    ToolAction,
    ToolCall,
    ToolOutput,
)
from orchcore.ports.notifier import NotificationKind
from orchcore.records import Event, EventKind, Outcome
from orchcore.safety import DEFAULT_POLICY, SafetyPolicy
from orchcore.safety.events import SafetyEvent, SafetyLayer, recorded_safety_events, refusal
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds


@attrs.define
class FakeWorkspace:
    """Refs that an agent step may move; guard_env records what the engine asked for."""

    current: dict[str, str] = attrs.field(
        factory=lambda: {"HEAD": "ref: refs/heads/main", "refs/heads/main": "a" * 40}
    )
    guard_calls: list[str] = attrs.field(factory=list)
    refusals: list[SafetyEvent] = attrs.field(factory=list)

    def refs(self) -> Mapping[str, str]:
        return dict(self.current)

    def guard_env(self, policy: SafetyPolicy, base_path: str) -> Mapping[str, str]:
        self.guard_calls.append(base_path)
        return {"PATH": f"/guards/bin:{base_path}"}

    def take_refusals(self) -> list[SafetyEvent]:
        taken, self.refusals = self.refusals, []
        return taken


def shell_call(command: str, *, guarded: bool = False) -> ToolCall:
    """A shell tool call as any agent reports it (here under Claude's tool name)."""
    return ToolCall(
        "t1",
        "Bash",
        ToolAction.SHELL,
        f"Bash {command}",
        command=command,
        input={"command": command},
        guarded=guarded,
    )


def tries(command: str) -> object:
    def step(_: AgentRequest, sink: EventSink) -> AgentResult:
        stop = sink(shell_call(command))
        if stop is not None:
            return AgentResult(Outcome.STOPPED, reason=stop)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    return step


class World:
    def __init__(self, *tasks: str) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.agent = ScriptedAgent()
        self.workspace = FakeWorkspace()
        self.watched: list[Event] = []
        plan = Plan("today.md", tuple(Task(t, f"Task {t}", instruction="x") for t in tasks))
        self.sid = create_session(self.store, plan, SequentialIds(), self.clock).session.id
        send_command(self.store, self.sid, Command.START, self.clock)

    def run(self, policy: SafetyPolicy | None = DEFAULT_POLICY) -> SessionState:
        engine = Engine(
            self.store,
            self.agent,
            self.clock,
            SequentialIds("e"),
            MemoryLogs(),
            safety=policy,
            workspace=self.workspace,
            agent_path="/usr/bin:/bin",
            workdir="/work/project",
            routing=Routing(channels=("console",)),
            watch=self.watched.append,
        )
        return engine.run(self.sid).session.state

    def safety_events(self) -> list[str]:
        return [str(e.data["text"]) for e in self.store.events(self.sid) if e.kind is EventKind.SAFETY]


def test_a_streamed_git_commit_stops_the_agent_and_fails_the_task_while_others_go_on() -> None:
    world = World("1", "2")
    world.agent.scripts["1"] = [tries("cd sub && git -C . commit -am 'wip'")]
    world.agent.scripts["2"] = [tries("pytest -q")]
    assert world.run() is SessionState.FAILED
    snap = world.store.load(world.sid)
    one = snap.run("1")
    assert one.state is TaskState.FAILED
    assert one.reason.startswith("safety violation: forbidden")
    assert "git -C . commit" in one.reason
    assert snap.run("2").state is TaskState.COMPLETED  # a harmless command is not a violation
    assert len(world.safety_events()) == 1
    evidence = [
        e
        for e in world.store.events(world.sid)
        if e.kind is EventKind.AGENT and e.data.get("kind") == "tool_use"
    ]
    assert evidence[0].data["input"] == {"command": "cd sub && git -C . commit -am 'wip'"}


def test_the_agent_runs_with_the_guards_in_its_environment_and_the_policy_in_its_request() -> None:
    world = World("1")
    world.run()
    request = world.agent.requests[0]
    assert request.env["PATH"] == "/guards/bin:/usr/bin:/bin"
    assert request.safety == DEFAULT_POLICY
    assert world.workspace.guard_calls == ["/usr/bin:/bin"]


def test_a_ref_moved_during_a_task_fails_it_even_if_the_agent_reports_success() -> None:
    world = World("1")

    def sneaky(_: AgentRequest, __: EventSink) -> AgentResult:
        world.workspace.current["refs/heads/main"] = (
            "b" * 40
        )  # e.g. a commit from a script the matcher cannot see
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="All done?")

    world.agent.scripts["1"] = [sneaky]
    assert world.run() is SessionState.FAILED
    run = world.store.load(world.sid).run("1")
    assert run.state is TaskState.FAILED
    assert "git ref changed" in run.reason
    assert world.safety_events() == [
        "violation caught by refs: refs/heads/main moved aaaaaaa -> bbbbbbb (git ref changed)"
    ]


def test_with_safety_switched_off_nothing_is_checked() -> None:
    world = World("1")
    world.agent.scripts["1"] = [tries("git push --force")]
    assert world.run(SafetyPolicy(enabled=False)) is SessionState.COMPLETED
    assert world.agent.requests[0].safety is None
    assert world.safety_events() == []


def test_the_report_lists_the_violation() -> None:
    from orchcore.service import build_report

    world = World("1")
    world.agent.scripts["1"] = [tries("git push --force origin main")]
    world.run()
    report = build_report(world.store, MemoryLogs(), world.clock, world.sid)
    assert "## Safety" in report
    assert "- Task 1 (attempt 1) — VIOLATION by **stream-guard** `Bash git push" in report
    assert "git push --force origin main" in report


def refused_by_its_own_hook(command: str, layer: str = "hook") -> object:
    """An agent whose own pre-tool check refuses ``command``: call, refusal, error result, and success."""

    def step(_: AgentRequest, sink: EventSink) -> AgentResult:
        for event in (
            shell_call(command, guarded=True),
            Refused(SafetyLayer(layer), f"Bash {command}", "no", call_id="t1"),
            ToolOutput("t1", "no", is_error=True),
        ):
            stop = sink(event)
            if stop is not None:
                return AgentResult(Outcome.STOPPED, reason=stop)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="I could not commit; the edit is done.")

    return step


def test_a_call_the_agents_own_hook_refuses_is_a_refusal_and_the_task_still_completes() -> None:
    world = World("1")
    world.agent.scripts["1"] = [refused_by_its_own_hook("git commit -am wip")]
    assert world.run() is SessionState.COMPLETED
    (found,) = recorded_safety_events(world.store.events(world.sid))
    assert (found.task_id, found.attempt) == ("1", 1)
    assert found.event == refusal(SafetyLayer.HOOK, "Bash git commit -am wip", "no")
    kinds = [e.notification.kind for e in world.store.undelivered(world.sid)]
    assert NotificationKind.SAFETY_REFUSAL in kinds
    assert NotificationKind.SAFETY_VIOLATION not in kinds
    assert NotificationKind.TASK_COMPLETED in kinds


def test_a_call_the_agent_should_have_refused_but_ran_is_a_stream_guard_violation() -> None:
    world = World("1")

    def ran_anyway(_: AgentRequest, sink: EventSink) -> AgentResult:
        assert sink(shell_call("git push --force", guarded=True)) is None
        stop = sink(ToolOutput("t1", "pushed"))
        return AgentResult(Outcome.STOPPED, reason=str(stop))

    world.agent.scripts["1"] = [ran_anyway]
    assert world.run() is SessionState.FAILED
    run = world.store.load(world.sid).run("1")
    assert run.state is TaskState.FAILED
    assert run.reason.startswith("safety violation: forbidden (git-push)")
    (found,) = recorded_safety_events(world.store.events(world.sid))
    assert (found.event.layer, found.event.refused) == (SafetyLayer.STREAM_GUARD, False)
    kinds = [e.notification.kind for e in world.store.undelivered(world.sid)]
    assert NotificationKind.SAFETY_VIOLATION in kinds


def test_what_the_workspace_guards_refused_during_the_attempt_is_recorded_and_fails_nothing() -> None:
    world = World("1")

    def shimmed(_: AgentRequest, __: EventSink) -> AgentResult:
        world.workspace.refusals.append(
            refusal(SafetyLayer.SHIM, "git commit -am x", "forbidden (git-commit)")
        )
        world.workspace.refusals.append(refusal(SafetyLayer.GIT_HOOK, "git commit", "commit is forbidden"))
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")

    world.agent.scripts["1"] = [shimmed]
    assert world.run() is SessionState.COMPLETED
    found = recorded_safety_events(world.store.events(world.sid))
    assert [(f.event.layer, f.event.refused, f.attempt) for f in found] == [
        (SafetyLayer.SHIM, True, 1),
        (SafetyLayer.GIT_HOOK, True, 1),
    ]
    assert world.workspace.refusals == []


def test_refusals_left_by_an_attempt_that_died_are_recorded_before_the_next_one_starts() -> None:
    world = World("1")
    world.workspace.refusals.append(refusal(SafetyLayer.SHIM, "git push", "forbidden (git-push)"))

    def shimmed_again(_: AgentRequest, __: EventSink) -> AgentResult:
        world.workspace.refusals.append(refusal(SafetyLayer.SHIM, "git commit", "forbidden (git-commit)"))
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")

    world.agent.scripts["1"] = [shimmed_again]
    assert world.run() is SessionState.COMPLETED
    found = recorded_safety_events(world.store.events(world.sid))
    assert [f.event.command for f in found] == ["git push", "git commit"]  # the old one first
    told = [e.notification for e in world.store.undelivered(world.sid)]
    assert len([n for n in told if n.kind is NotificationKind.SAFETY_REFUSAL]) == 2


def test_refusals_by_one_layer_in_one_attempt_are_all_recorded_and_told_once() -> None:
    world = World("1")

    def stubborn(_: AgentRequest, sink: EventSink) -> AgentResult:
        for n, layer in enumerate(["cli-permissions", "cli-permissions", "cli-permissions", "sandbox"]):
            assert sink(Refused(SafetyLayer(layer), f"Write /etc/x{n}", "no", call_id=f"t{n}")) is None
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")

    world.agent.scripts["1"] = [stubborn]
    assert world.run() is SessionState.COMPLETED
    assert len(recorded_safety_events(world.store.events(world.sid))) == 4
    told = [e.notification for e in world.store.undelivered(world.sid)]
    refusals = [n.data["layer"] for n in told if n.kind is NotificationKind.SAFETY_REFUSAL]
    assert refusals == ["cli-permissions", "sandbox"]


def tool_calls(events: list[Event]) -> list[object]:
    return [e.data["input"] for e in events if e.kind is EventKind.AGENT and e.data.get("kind") == "tool_use"]


def test_with_safety_on_an_allowed_tool_call_is_stored_and_shown() -> None:
    world = World("1")
    world.agent.scripts["1"] = [tries("pytest -q")]
    assert world.run() is SessionState.COMPLETED
    assert tool_calls(world.store.events(world.sid)) == [{"command": "pytest -q"}]
    assert tool_calls(world.watched) == [{"command": "pytest -q"}]


def test_with_safety_on_a_forbidden_tool_call_is_stored_shown_and_stops_the_agent() -> None:
    world = World("1")
    world.agent.scripts["1"] = [tries("git push")]
    assert world.run() is SessionState.FAILED
    assert tool_calls(world.store.events(world.sid)) == [{"command": "git push"}]
    assert tool_calls(world.watched) == [{"command": "git push"}]
    assert world.store.load(world.sid).run("1").state is TaskState.FAILED


def test_with_safety_on_text_events_are_stored_and_shown_like_tool_calls() -> None:
    world = World("1")

    def talks(_: AgentRequest, sink: EventSink) -> AgentResult:
        sink(Said("looking at the tests"))
        sink(
            ToolCall("t2", "Read", ToolAction.READ, "Read a.py", paths=("a.py",), input={"file_path": "a.py"})
        )
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    world.agent.scripts["1"] = [talks]
    world.run()
    for events in (world.store.events(world.sid), world.watched):
        kinds = [e.data.get("kind") for e in events if e.kind is EventKind.AGENT]
        assert kinds == ["text", "tool_use"]
