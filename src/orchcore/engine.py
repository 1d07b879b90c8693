"""The engine: gather state, decide, act through the ports, record. Repeat.

Every decision is made inside a store transaction on the freshest state, and
the state it permits (``task running``) is committed before the side effect
(the agent) begins. Front ends never talk to the engine: they change stored
state, which the engine re-reads between steps and while an agent runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs

from orchcore.decide import (
    Action,
    AwaitApproval,
    Finish,
    StartTask,
    begin,
    decide,
    finish,
    gate,
    interrupt_running,
    record_result,
)
from orchcore.errors import OrchError
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy
from orchcore.ports.agent import Agent, AgentEvent, AgentRequest, AgentResult
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.ports.store import Store
from orchcore.prompt import build_prompt
from orchcore.records import Event, EventKind, Mutation, Outcome, Session, Snapshot
from orchcore.state import SessionState

Watcher = Callable[[Event], None]


def _ignore(_: Event) -> None:
    return None


@attrs.frozen
class RunOutcome:
    """Where a session stands when the engine stops driving it."""

    session: Session
    tasks_run: int


@attrs.define
class Engine:
    """Drives one session at a time to its next stop (done, approval, pause, failure)."""

    store: Store
    agent: Agent
    clock: Clock
    ids: Ids
    logs: TaskLogs
    policy: ApprovalPolicy = attrs.field(factory=ApprovalPolicy)
    workdir: str = "."
    timeout_s: float = 1800.0
    watch: Watcher = _ignore
    poll_interval_s: float = 0.5
    event_batch: int = 64

    def run(self, session_id: str) -> RunOutcome:
        """Drive ``session_id`` until it cannot go on without a human, or ends.

        Raises SessionBusy if another engine drives it, AgentUnavailable before
        anything changes if the agent cannot start.
        """
        self.agent.check()
        owner = f"engine-{self.ids.new_id()}"
        self.store.acquire_lease(session_id, owner)
        try:
            return self._drive(session_id)
        finally:
            self.store.release_lease(session_id, owner)

    def _commit(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        captured: list[Mutation] = []

        def wrapped(snap: Snapshot) -> Mutation:
            mutation = change(snap)
            captured[:] = [mutation]
            return mutation

        snap = self.store.transact(session_id, wrapped)
        for event in captured[0].events if captured else ():
            self.watch(event)
        return snap

    def _drive(self, session_id: str) -> RunOutcome:
        snap = self._commit(session_id, lambda s: interrupt_running(s, self.clock.now()))
        graph = TaskGraph(snap.plan.tasks)
        tasks_run = 0
        while True:
            action, snap = self._next(session_id, graph)
            if isinstance(action, StartTask):
                tasks_run += 1
                self._run_task(snap, action)
                continue
            return RunOutcome(snap.session, tasks_run)

    def _next(self, session_id: str, graph: TaskGraph) -> tuple[Action, Snapshot]:
        """Decide and commit the next step in one transaction, on the freshest state."""
        chosen: list[Action] = []

        def step(s: Snapshot) -> Mutation:
            action = decide(s, self.policy, graph)
            chosen[:] = [action]
            now = self.clock.now()
            if isinstance(action, StartTask):
                return begin(s, action.task_id, now)
            if isinstance(action, AwaitApproval):
                return gate(s, action, now)
            if isinstance(action, Finish):
                return finish(s, action, now)
            return Mutation()

        snap = self._commit(session_id, step)
        return chosen[0], snap

    def _run_task(self, snap: Snapshot, action: StartTask) -> None:
        session_id = snap.session.id
        task = snap.plan.task(action.task_id)
        request = AgentRequest(
            session_id=session_id,
            task_id=task.id,
            attempt=action.attempt,
            prompt=build_prompt(snap.plan, task),
            workdir=self.workdir,
            log_path=self.logs.path(session_id, task.id, action.attempt),
            timeout_s=self.timeout_s,
        )
        sink = _Sink(self, session_id, task.id, action.attempt)
        try:
            result = self.agent.run(request, sink)
        except OrchError as exc:
            result = AgentResult(Outcome.ERROR, reason=str(exc))
        except KeyboardInterrupt:
            sink.flush()
            self._commit(
                session_id,
                lambda s: interrupt_running(s, self.clock.now(), "interrupted by the user (Ctrl-C)"),
            )
            raise
        sink.flush()
        self._commit(session_id, lambda s: record_result(s, task.id, result, self.clock.now()))


@attrs.define
class _Sink:
    """Receives agent events: stores them in batches, shows them, and says stop
    when the session was cancelled meanwhile."""

    engine: Engine
    session_id: str
    task_id: str
    attempt: int
    pending: list[Event] = attrs.field(factory=list)
    last_poll: datetime | None = None

    def __call__(self, event: AgentEvent) -> str | None:
        engine = self.engine
        if event.kind != "tick":
            stored = Event(
                EventKind.AGENT,
                engine.clock.now(),
                task_id=self.task_id,
                attempt=self.attempt,
                data={"kind": event.kind, "text": event.text, **event.data},
            )
            engine.watch(stored)
            if event.persist:
                self.pending.append(stored)
                if len(self.pending) >= engine.event_batch:
                    self.flush()
        now = engine.clock.now()
        if self.last_poll is not None and (now - self.last_poll).total_seconds() < engine.poll_interval_s:
            return None
        self.last_poll = now
        self.flush()
        if engine.store.session(self.session_id).state is SessionState.CANCELLED:
            return "the session was cancelled"
        return None

    def flush(self) -> None:
        if self.pending:
            self.engine.store.append_events(self.session_id, self.pending)
            self.pending = []
