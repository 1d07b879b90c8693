"""The session and task state machines: every illegal pair is refused with a useful message,
and random interleavings of human commands and engine runs keep the invariants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.memory.store import InMemoryStore
from orchcore.attempt_check import AttemptChecker
from orchcore.commands import apply_command
from orchcore.decide import StartTask, begin, decide
from orchcore.engine import Engine
from orchcore.errors import IllegalTransition, NotFound
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, Tick
from orchcore.records import Gate, Outcome, Session, Snapshot, TaskRun
from orchcore.service import create_session, send_command
from orchcore.state import (
    SESSION_TRANSITIONS,
    TASK_TRANSITIONS,
    TERMINAL_SESSION,
    Command,
    SessionState,
    Step,
    TaskState,
    allowed_commands,
    allowed_task_commands,
    next_task_state,
)
from orchcore.supervise import DecisionConfig, SupervisorConfig, ValidatorConfig
from orchcore.tasks import Plan, Priority, Task
from orchcore.testing import ScriptedCheckRunner
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# --- every pair outside the tables -------------------------------------------------------------

_PLAN = Plan(source="t.md", tasks=(Task(id="1", title="one", description="x"),))


def _snapshot(state: SessionState, task_state: TaskState = TaskState.PENDING) -> Snapshot:
    waiting = state in (SessionState.WAITING_APPROVAL, SessionState.WAITING_ANSWER)
    session = Session(
        id="s1",
        source="t.md",
        state=state,
        created_at=NOW,
        updated_at=NOW,
        waiting_for="1" if waiting else None,
        gate=Gate.ANSWER if state is SessionState.WAITING_ANSWER else (Gate.BEFORE if waiting else None),
        version=3,
    )
    return Snapshot(session, _PLAN, {"1": TaskRun("1", state=task_state)})


_ILLEGAL_SESSION_PAIRS = [(s, c) for s in SessionState for c in Command if (s, c) not in SESSION_TRANSITIONS]
_ILLEGAL_TASK_PAIRS = [(t, c) for t in TaskState for c in Command if (t, c) not in TASK_TRANSITIONS]


@pytest.mark.parametrize(("state", "command"), _ILLEGAL_SESSION_PAIRS, ids=lambda v: str(v))
def test_a_command_outside_the_session_table_names_the_state_and_the_allowed_commands(
    state: SessionState, command: Command
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        apply_command(_snapshot(state), command, NOW, task_id="1")
    message = str(caught.value)
    assert message.startswith(f"cannot {command.value}: the session is {state.value}")
    allowed = [c.value for c in allowed_commands(state)]
    assert caught.value.allowed == tuple(allowed)
    assert message.endswith(f"(allowed in this state: {', '.join(allowed) or 'none'})")


@pytest.mark.parametrize(("state", "command"), _ILLEGAL_TASK_PAIRS, ids=lambda v: str(v))
def test_a_command_outside_the_task_table_names_the_task_state_and_the_allowed_commands(
    state: TaskState, command: Command
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_task_state("1", state, command)
    allowed = [c.value for c in allowed_task_commands(state)]
    assert str(caught.value) == (
        f"cannot {command.value}: task 1 is {state.value} (allowed in this state: {', '.join(allowed) or 'none'})"
    )


@pytest.mark.parametrize(
    ("task_state", "command"),
    [(t, c) for t, c in _ILLEGAL_TASK_PAIRS if c in (Command.SKIP, Command.RETRY)],
    ids=lambda v: str(v),
)
def test_skip_or_retry_of_a_task_in_the_wrong_state_names_the_task_state(
    task_state: TaskState, command: Command
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        apply_command(_snapshot(SessionState.RUNNING, task_state), command, NOW, task_id="1")
    assert f"task 1 is {task_state.value}" in str(caught.value)


@pytest.mark.parametrize("state", sorted(TERMINAL_SESSION))
def test_completed_and_cancelled_sessions_accept_no_command(state: SessionState) -> None:
    assert allowed_commands(state) == []
    for command in Command:
        with pytest.raises(IllegalTransition, match=r"allowed in this state: none"):
            apply_command(_snapshot(state), command, NOW, task_id="1")


@pytest.mark.parametrize(
    ("state", "step"),
    [(t, s) for t in TaskState for s in Step if (t, s) not in TASK_TRANSITIONS],
    ids=lambda v: str(v),
)
def test_an_engine_step_outside_the_task_table_is_refused(state: TaskState, step: Step) -> None:
    with pytest.raises(IllegalTransition, match=f"task 1 is {state.value}"):
        next_task_state("1", state, step)


# --- random interleavings of commands and engine runs ------------------------------------------


@st.composite
def small_plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 4))
    ids = [str(i + 1) for i in range(n)]
    tasks = []
    for i, tid in enumerate(ids):
        deps = draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=2)) if i else []
        tasks.append(
            Task(
                id=tid,
                title=f"task {tid}",
                type=draw(st.sampled_from(["backend", "docs"])),
                priority=draw(st.sampled_from(Priority)),
                requires_approval=draw(st.booleans()),
                description="do it",
                depends_on=tuple(deps),
            )
        )
    return Plan(source="today.md", tasks=tuple(tasks))


# cancel ends the session for good, so it is drawn less often than the other commands
_COMMANDS = st.sampled_from([c for c in Command if c is not Command.CANCEL] * 3 + [Command.CANCEL])
_DONE = (TaskState.COMPLETED, TaskState.SKIPPED)
_RUNNABLE = (TaskState.PENDING, TaskState.INTERRUPTED)


class SessionMachine(RuleBasedStateMachine):
    """Commands and engine runs in any order against one stored session."""

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.ids = SequentialIds()
        self.logs = MemoryLogs()
        self.failing: set[str] = set()
        self.cancel_during: str | None = None
        self.agent = ScriptedAgent()
        self.policy = ApprovalPolicy()
        self.session_id = ""
        self.plan_ids: list[str] = []
        self.begun_by_crash: dict[str, int] = {}
        self.last_version = 0
        self.ended: Snapshot | None = None
        # docs tasks are checked; the check fails while `check_fails` (then they stop for review)
        self.checks = ScriptedCheckRunner()

    def _script(self, request: AgentRequest, sink: EventSink) -> AgentResult:
        if request.task_id == self.cancel_during:
            send_command(self.store, self.session_id, Command.CANCEL, self.clock, source="test")
            self.clock.advance(1)
            reason = sink(Tick())
            assert reason is not None, "a cancelled session must stop its agent at the next poll"
            return AgentResult(Outcome.STOPPED, reason=reason)
        if request.task_id in self.failing:
            return AgentResult(Outcome.FAILED, exit_code=1, reason="tests failed")
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    @initialize(
        plan=small_plans(),
        auto_approve=st.booleans(),
        checkpoint=st.sampled_from([frozenset(), frozenset({"docs"})]),
        start=st.sampled_from([True, True, True, False]),
    )
    def create(self, plan: Plan, auto_approve: bool, checkpoint: frozenset[str], start: bool) -> None:
        self.plan_ids = list(plan.ids)
        self.agent = ScriptedAgent(scripts={t: [self._script] for t in plan.ids})
        self.policy = ApprovalPolicy(checkpoint_after=checkpoint)
        snap = create_session(self.store, plan, self.ids, self.clock, auto_approve=auto_approve)
        self.session_id = snap.session.id
        if start:
            snap = send_command(self.store, self.session_id, Command.START, self.clock)
        self.last_version = snap.session.version

    def load(self) -> Snapshot:
        return self.store.load(self.session_id)

    @rule(command=_COMMANDS, task_id=st.sampled_from([None, None, "1", "2", "3", "4", "nope"]))
    def send(self, command: Command, task_id: str | None) -> None:
        before = self.load()
        events_before = self.store.events(self.session_id)
        try:
            after = send_command(self.store, self.session_id, command, self.clock, task_id=task_id)
        except (IllegalTransition, NotFound):
            assert self.load() == before
            assert self.store.events(self.session_id) == events_before
            return
        assert before.session.state not in TERMINAL_SESSION, "a terminal session accepted a command"
        assert after.session.version == before.session.version + 1
        assert task_id is None or task_id in before.runs
        self._check_model(before, after, command, task_id)

    def _check_model(self, before: Snapshot, after: Snapshot, command: Command, task_id: str | None) -> None:
        state = before.session.state
        new_state = after.session.state
        if command in (Command.SKIP, Command.RETRY):
            assert task_id is not None
            expected_task = TASK_TRANSITIONS[(before.run(task_id).state, command)]
            assert after.run(task_id).state is expected_task
            ungates = before.session.waiting_for == task_id and state is not SessionState.PAUSED
            if state is SessionState.FAILED or ungates:
                assert new_state is SESSION_TRANSITIONS[(state, command)]
            else:
                assert new_state is state
        else:
            assert new_state is SESSION_TRANSITIONS[(state, command)]
        if command in (Command.APPROVE, Command.REJECT):
            waited = before.session.waiting_for
            assert waited is not None
            assert task_id in (None, waited)
            assert after.run(waited).state is TASK_TRANSITIONS[(before.run(waited).state, command)]
        changed = {t for t in self.plan_ids if after.run(t) != before.run(t)}
        assert len(changed) <= 1, "a command changes at most one task"

    @rule(
        failing=st.sets(st.sampled_from(["1", "2", "3", "4"]), max_size=2),
        # most runs are not cancelled half-way
        cancel_during=st.sampled_from([None] * 8 + ["1", "2", "3", "4"]),
        check_fails=st.booleans(),
    )
    def drive(self, failing: set[str], cancel_during: str | None, check_fails: bool) -> None:
        self.failing, self.cancel_during = failing, cancel_during
        self.checks.failing = {"make check"} if check_fails else set()
        before = self.load()
        seen = len(self.agent.requests)
        engine = Engine(
            self.store,
            self.agent,
            self.clock,
            self.ids,
            self.logs,
            policy=self.policy,
            checker=self.checker(),
        )
        outcome = engine.run(self.session_id)
        after = self.load()
        requests = self.agent.requests[seen:]
        ran = [r.task_id for r in requests]
        assert len(ran) == len(set(ran)), "one engine run never runs a task twice"
        completed = {t for t in self.plan_ids if before.run(t).state is TaskState.COMPLETED}
        assert not completed & set(ran), "a completed task ran again"
        assert outcome.tasks_run == len(ran)
        for request in requests:
            run = before.run(request.task_id)
            assert run.state in (*_RUNNABLE, TaskState.RUNNING), f"ran task {request.task_id} in {run.state}"
            assert request.attempt == run.attempt + 1
        if before.session.state in TERMINAL_SESSION:
            assert after.session.state is before.session.state
        if before.session.state is not SessionState.RUNNING:
            assert ran == [], "only a running session runs tasks"
        assert outcome.session == after.session
        assert after.session.state is not SessionState.RUNNING
        assert after.session.state is not SessionState.WAITING_APPROVAL or after.session.waiting_for

    def checker(self) -> AttemptChecker:
        """Checks docs tasks with no retry: a failing check (or an agent's failure) stops for review."""
        config = SupervisorConfig(
            validator=ValidatorConfig(no_change_types=frozenset({"docs"})),
            decision=DecisionConfig(max_fix_attempts=0),
            checks_by_type={"docs": ("make check",)},
        )
        return AttemptChecker(self.checks, self.clock, config)

    @rule()
    def crash_while_running(self) -> None:
        """An engine committed 'task running' and died before the agent finished."""
        snap = self.load()
        if snap.session.state is not SessionState.RUNNING:
            return
        action = decide(snap, self.policy, TaskGraph(snap.plan.tasks))
        if not isinstance(action, StartTask):
            return
        self.store.transact(self.session_id, lambda s: begin(s, action.task_id, self.clock.now()))
        self.begun_by_crash[action.task_id] = self.begun_by_crash.get(action.task_id, 0) + 1

    @invariant()
    def version_never_goes_back(self) -> None:
        version = self.store.session(self.session_id).version
        assert version >= self.last_version
        self.last_version = version

    @invariant()
    def terminal_sessions_never_change(self) -> None:
        """Once completed or cancelled, nothing changes but the clean-up of a task an engine
        left running when it died: that task is cancelled, never run again."""
        snap = self.load()
        if self.ended is None:
            if snap.session.state in TERMINAL_SESSION:
                self.ended = snap
            return
        assert snap.session.state is self.ended.session.state
        for task_id in self.plan_ids:
            was, now = self.ended.run(task_id), snap.run(task_id)
            if was.state is TaskState.RUNNING:
                assert now.state in (TaskState.RUNNING, TaskState.CANCELLED)
                assert now.attempt == was.attempt
            else:
                assert now == was

    @invariant()
    def every_attempt_is_a_request_or_a_crash(self) -> None:
        snap = self.load()
        for task_id in self.plan_ids:
            run = snap.run(task_id)
            requested = [r.attempt for r in self.agent.requests if r.task_id == task_id]
            assert run.attempt == len(requested) + self.begun_by_crash.get(task_id, 0)
            assert [a.number for a in run.attempts] == list(range(1, run.attempt + 1))
            assert sorted(requested) == requested

    @invariant()
    def task_states_agree_with_their_attempts(self) -> None:
        snap = self.load()
        for task_id in self.plan_ids:
            run = snap.run(task_id)
            if run.state is TaskState.COMPLETED:  # or a human accepted a stopped attempt
                assert run.attempts[-1].outcome is Outcome.SUCCEEDED or run.reviewed
            if run.state is TaskState.WAITING_REVIEW:
                assert snap.plan.task(task_id).type == "docs", "only checked tasks stop for review"
                waits = snap.session.state is SessionState.WAITING_APPROVAL
                assert not waits or snap.session.waiting_for == task_id
                ended = snap.session.state in (SessionState.COMPLETED, SessionState.FAILED)
                assert not ended, "a session ended with a task waiting for review"
            if run.state is TaskState.INTERRUPTED:
                assert run.attempts[-1].outcome is Outcome.INTERRUPTED
            if run.state is TaskState.PENDING and snap.session.state is SessionState.COMPLETED:
                pytest.fail(f"session completed with task {task_id} pending")
        if snap.session.state is SessionState.COMPLETED:
            assert all(snap.run(t).state in _DONE for t in self.plan_ids)


SessionMachine.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionMachine = SessionMachine.TestCase
