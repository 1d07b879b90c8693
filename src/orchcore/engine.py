"""The engine: gather state, decide, act through the ports, record. Repeat.

Every decision is made inside a store transaction on the freshest state, and
the state it permits (``task running``) is committed before the side effect
(the agent) begins. Front ends never talk to the engine: they change stored
state, which the engine re-reads between steps and while an agent runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from orchcore.budget import BudgetPolicy, BudgetStatus, RunningCost, Usage, status, total, usd
from orchcore.checkpoints import AttemptCheck, check_attempt
from orchcore.decide import (
    Action,
    AwaitAnswer,
    AwaitApproval,
    Finish,
    Halt,
    StartTask,
    Wait,
    await_answer,
    begin,
    budget_crossings,
    decide,
    finish,
    gate,
    halt,
    interrupt_running,
    record_result,
    wait,
)
from orchcore.errors import OrchError
from orchcore.graph import TaskGraph
from orchcore.notify import Routing, with_outbox
from orchcore.policy import ApprovalPolicy, RetryPolicy
from orchcore.ports.agent import Agent, AgentEvent, AgentRequest, AgentResult
from orchcore.ports.checkpoints import Checkpoint, Checkpoints, Moment
from orchcore.ports.checks import CheckRunner
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.ports.questions import QuestionBox
from orchcore.ports.store import Store
from orchcore.ports.workspace import Workspace
from orchcore.progress import Progress
from orchcore.prompt import ContextFile, Prompter
from orchcore.questions import question_in
from orchcore.records import Event, EventKind, JsonObject, Mutation, Outcome, Session, Snapshot
from orchcore.safety import SafetyPolicy, ref_changes
from orchcore.safety.events import SafetyEvent, SafetyLayer, violation
from orchcore.safety.stream_guard import StreamGuard
from orchcore.sandbox import (
    NO_REAPER,
    ProcessReaper,
    SandboxPolicy,
    SandboxStatus,
    left_running,
    process_from_data,
    record_process,
    sandbox_event,
)
from orchcore.state import SessionState
from orchcore.tasks import Task

if TYPE_CHECKING:  # the supervisor's modules load only when a run has one
    from orchcore.attempt_check import AttemptChecker

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
    budget: BudgetPolicy = attrs.field(factory=BudgetPolicy)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    questions: QuestionBox | None = None
    safety: SafetyPolicy | None = None
    workspace: Workspace | None = None
    checkpoints: Checkpoints | None = None  # a snapshot before every attempt, compared after it
    agent_path: str = ""  # the PATH agents get: the guards put their shims in front of it
    workdir: str = "."
    timeout_s: float = 1800.0
    watch: Watcher = _ignore
    poll_interval_s: float = 0.5
    wait_step_s: float = 5.0
    event_batch: int = 64
    routing: Routing = attrs.field(factory=Routing)  # which notifications each commit queues
    sandbox: SandboxPolicy | None = None  # the OS boundary every attempt runs in (None: not sandboxed)
    sandbox_status: SandboxStatus | None = None  # recorded as a session event when a run starts
    reap: ProcessReaper = NO_REAPER  # kills what a crashed attempt left running
    checker: AttemptChecker | None = None  # the supervisor: checks attempts before they are done
    prompter: Prompter = attrs.field(factory=Prompter)  # templates, house rules, the context budget
    context_files: CheckRunner | None = None  # reads the context files a task names (read_text)
    # the decision index of the session being driven: a step costs what changed, not the plan
    _progress: Progress | None = attrs.field(default=None, init=False, repr=False)

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
        except Exception as exc:  # an I/O error or a bug: never leave a task `running` with no engine
            why = f"orch stopped on an error while the task ran: {type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # the store itself may be what failed
                self._commit(session_id, lambda s: interrupt_running(s, self.clock.now(), why))
            raise
        finally:
            self.store.release_lease(session_id, owner)

    def _commit(self, session_id: str, change: Callable[[Snapshot], Mutation]) -> Snapshot:
        captured: list[Mutation] = []

        def wrapped(snap: Snapshot) -> Mutation:
            # the notifications go in the same transaction: queued iff the transition commits
            mutation = with_outbox(snap, change(snap), self.routing)
            captured[:] = [mutation]
            return mutation

        snap = self.store.transact(session_id, wrapped)
        for event in captured[0].events if captured else ():
            self.watch(event)
        return snap

    def _drive(self, session_id: str) -> RunOutcome:
        # what a crashed orch left running dies before its task is marked for another attempt
        for process in left_running(self.store.load(session_id)):
            self.reap(process)
        snap = self._commit(session_id, self._interrupt_and_note_sandbox)
        graph = TaskGraph(snap.plan.tasks)
        self._progress = Progress(snap.plan, graph, self.policy, snap.runs)
        tasks_run = 0
        while True:
            action, snap = self._next(session_id, graph)
            if isinstance(action, StartTask):
                tasks_run += 1
                self._run_task(snap, action)
                continue
            if isinstance(action, Wait):
                # short steps: a pause or cancel sent meanwhile is seen at the next decision
                remaining = (action.until - self.clock.now()).total_seconds()
                self.clock.sleep(min(max(remaining, 0.0), self.wait_step_s))
                continue
            return RunOutcome(snap.session, tasks_run)

    def _interrupt_and_note_sandbox(self, snap: Snapshot) -> Mutation:
        now = self.clock.now()
        mutation = interrupt_running(snap, now)
        if self.sandbox_status is None:
            return mutation
        return attrs.evolve(mutation, events=(*mutation.events, sandbox_event(self.sandbox_status, now)))

    def _spent_today(self) -> Decimal:
        """What every session spent today (the ledger); zero when no daily limit is set."""
        if self.budget.daily_limit_usd is None:
            return Decimal(0)
        start = self.budget.day_start(self.clock.now())
        return total(record.attempt.cost_usd for record in self.store.attempts_since(start))

    def _budget_status(
        self, snap: Snapshot, spent_today: Decimal, extra: Decimal = Decimal(0)
    ) -> BudgetStatus:
        if snap.plan.max_cost_usd is None:  # what the session spent binds nothing: not counted
            return status(
                self.budget, spent_today=spent_today + extra, spent_session=Decimal(0), session_limit=None
            )
        progress = self._progress
        if progress is not None and progress.plan is snap.plan:
            spent_session = progress.sync(snap.runs).spent  # a running total
        else:
            spent_session = total(a.cost_usd for run in snap.runs.values() for a in run.attempts)
        return status(
            self.budget,
            spent_today=spent_today + extra,
            spent_session=spent_session + extra,
            session_limit=snap.plan.max_cost_usd,
        )

    def _next(self, session_id: str, graph: TaskGraph) -> tuple[Action, Snapshot]:
        """Decide and commit the next step in one transaction, on the freshest state."""
        chosen: list[Action] = []
        spent_today = self._spent_today()

        def step(s: Snapshot) -> Mutation:
            now = self.clock.now()
            action = decide(s, self.policy, graph, self._budget_status(s, spent_today), now, self._progress)
            chosen[:] = [action]
            if isinstance(action, StartTask):
                return begin(s, action.task_id, now)
            if isinstance(action, AwaitApproval):
                return gate(s, action, now)
            if isinstance(action, Finish):
                return finish(s, action, now)
            if isinstance(action, Halt):
                return halt(s, action, now, self.budget.next_day(now))
            if isinstance(action, Wait):
                return wait(s, action, now)
            if isinstance(action, AwaitAnswer):
                return await_answer(s, action, now)
            return Mutation()

        snap = self._commit(session_id, step)
        return chosen[0], snap

    def _run_task(self, snap: Snapshot, action: StartTask) -> None:
        session_id = snap.session.id
        task = snap.plan.task(action.task_id)
        run = snap.run(task.id)
        resume = _resumable(snap, task.id)
        answered = len(run.attempts) >= 2 and run.attempts[-2].outcome is Outcome.ASKED and bool(run.answer)
        if answered and self.questions is not None:
            self.questions.answer(task.id, run.answer)
        if answered and resume is not None:
            prompt = self.prompter.answer(run.question, run.answer)
        elif answered:
            prompt = self._task_prompt(snap, task, action.attempt, question=run.question, answer=run.answer)
        else:
            prompt = self._task_prompt(snap, task, action.attempt)
        if self.checker is not None:  # after a retry decision or a rejection: the feedback
            prompt, resume = self.checker.next_prompt(
                self.store,
                snap,
                task,
                prompt,
                resume,
                rebuild=lambda feedback: self._task_prompt(snap, task, action.attempt, feedback=feedback),
            )
        policy = self.safety if self.safety is not None and self.safety.enabled else None
        guarded = self.workspace if policy is not None else None
        refs_before = guarded.refs() if guarded is not None else None
        stale = guarded.take_refusals() if guarded is not None else ()  # of an attempt that died
        guard_env = dict(guarded.guard_env(policy, self.agent_path)) if guarded is not None and policy else {}
        request = AgentRequest(
            session_id=session_id,
            task_id=task.id,
            attempt=action.attempt,
            prompt=prompt,
            workdir=self.workdir,
            log_path=self.logs.path(session_id, task.id, action.attempt),
            timeout_s=self.timeout_s,
            resume_agent_session=resume,
            env=guard_env,
            safety=policy,
            sandbox=self.sandbox,
        )
        spent_today = self._spent_today()
        before = self._budget_status(snap, spent_today)
        sink = _Sink(
            self,
            session_id,
            task.id,
            action.attempt,
            before,
            RunningCost(self.budget.prices),
            StreamGuard(policy, self.workdir, sandbox=self.sandbox),
            guarded,
        )
        sink.record(tuple(stale), attempt=max(action.attempt - 1, 1))
        checkpoint: Checkpoint | None = None
        try:
            if self.checkpoints is not None:  # no agent starts without its checkpoint
                checkpoint = self.checkpoints.take(session_id, task.id, action.attempt, Moment.BEFORE)
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
        if result.cost_usd is None and sink.cost.by_message:
            result = attrs.evolve(result, cost_usd=sink.cost.so_far)  # priced from the streamed usage
        after = self._budget_status(snap, spent_today, result.cost_usd or Decimal(0))
        sink.take_guard_refusals()
        violations = [sink.guard.violation] if sink.guard.violation is not None else []
        if guarded is not None and refs_before is not None:
            violations += [
                violation(SafetyLayer.REFS, line, "git ref changed")
                for line in ref_changes(refs_before, guarded.refs())
            ]
        checked = (
            check_attempt(self.checkpoints, checkpoint, guard=guarded is not None)
            if self.checkpoints is not None and checkpoint is not None
            else AttemptCheck()
        )
        violations += [violation(SafetyLayer.CHECKPOINT, "", text) for text in checked.violations]
        restored = (
            f" (restored from the checkpoint: {', '.join(checked.restored)})" if checked.restored else ""
        )
        safety_events: tuple[Event, ...] = ()
        if violations:
            # whatever the agent says, a forbidden attempt fails the task: a human must look
            result = attrs.evolve(
                result,
                outcome=Outcome.FAILED,
                reason=f"safety violation: {violations[0].failure}{restored}",
                retryable=False,
                retry_at=None,
                final_text="",
            )
            safety_events = tuple(
                Event(
                    EventKind.SAFETY,
                    self.clock.now(),
                    task.id,
                    action.attempt,
                    attrs.evolve(v, reason=v.reason + restored).as_data()
                    | {"restored": list(checked.restored)},
                )
                for v in violations
            )
        # the supervisor's decision; an explicit question in the question box waits as today
        supervised = None
        if self.checker is not None and not violations and not sink.budget_stop:
            asked = self.questions.question(task.id) if self.questions is not None else None
            if asked is None:
                supervised = self.checker.check_if_due(
                    self.store, snap, task, result, self.checkpoints, self.sandbox
                )
        question = None
        if result.outcome is Outcome.SUCCEEDED:
            question = (
                self.questions.question(task.id) if self.questions is not None else None
            ) or question_in(result.final_text)
            if question is not None and supervised is None:
                from orchcore.supervise.validator import is_courtesy_question

                if is_courtesy_question(question):  # "Anything else?" after the work: it is done
                    question = None
        ended = self.clock.now()
        crossings = budget_crossings(before, after, ended, task.id)
        if supervised is not None:
            from orchcore.supervision import record_checked

            self._commit(
                session_id, lambda s: record_checked(s, task.id, result, ended, supervised, extra=crossings)
            )
            return
        self._commit(
            session_id,
            lambda s: record_result(
                s,
                task.id,
                result,
                ended,
                interrupted=sink.budget_stop,
                extra=(*crossings, *safety_events),
                retry=self.retry,
                question=question,
            ),
        )

    def _task_prompt(self, snap: Snapshot, task: Task, attempt: int, **extra: str) -> str:
        """The task's whole prompt with its context files read now; what the budget cut is recorded."""
        reader = self.context_files
        context = tuple(
            ContextFile(path, reader.read_text(path) if reader is not None else None)
            for path in task.context_files
        )
        built = self.prompter.task(snap.plan, task, context=context, **extra)
        if built.cuts:
            told = "; ".join(f"{c.lines:,} lines of {c.part}" for c in built.cuts)
            data: JsonObject = {
                "text": f"the context budget cut {told}",
                "cuts": [c.as_data() for c in built.cuts],
                "tokens": built.tokens,
            }
            event = Event(EventKind.PROMPT, self.clock.now(), task.id, attempt, data)
            self.store.append_events(snap.session.id, [event])
        return built.text


def _resumable(snap: Snapshot, task_id: str) -> str | None:
    """The agent session to continue: that of an attempt that asked a question, or
    was cut off by a limit, a transient error or a budget stop (the task itself was fine)."""
    run = snap.run(task_id)
    if len(run.attempts) < 2:
        return None
    previous = run.attempts[-2]
    if (
        previous.outcome in (Outcome.RATE_LIMITED, Outcome.STOPPED, Outcome.ASKED)
        or previous.retry_at is not None
    ):
        return previous.agent_session_id
    return None


@attrs.define
class _Sink:
    """Receives agent events: stores them in batches, shows them, prices the
    streamed usage, and says stop when the budget is spent or the session was
    cancelled meanwhile."""

    engine: Engine
    session_id: str
    task_id: str
    attempt: int
    budget: BudgetStatus
    cost: RunningCost
    guard: StreamGuard
    workspace: Workspace | None = None
    told: set[SafetyLayer] = attrs.field(factory=set)
    pending: list[Event] = attrs.field(factory=list)
    last_poll: datetime | None = None
    budget_stop: bool = False

    def _price(self, event: AgentEvent) -> str | None:
        data = event.data
        counts = {
            key: value if isinstance(value := data.get(key), int) else 0
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            )
        }
        so_far = self.cost.add(
            str(data.get("message_id", "")), Usage(model=str(data.get("model", "")), **counts)
        )
        task_limit = self.engine.budget.task_limit_usd
        if task_limit is not None and so_far >= task_limit:
            return f"budget: the task's limit of ${task_limit} is reached (about {usd(so_far)} spent on it)"
        limit = self.budget.limit
        if limit is not None and self.budget.spent + so_far >= limit:
            self.budget_stop = True
            spent = self.budget.spent + so_far
            return (
                f"budget: the {self.budget.scope}'s limit of ${limit} is reached (about {usd(spent)} spent)"
            )
        return None

    def _violation_in(self, event: AgentEvent) -> str | None:
        """Record what the stream guard saw refused; the violation this event newly shows, if any."""
        caught_before = self.guard.violation
        refused = self.guard.feed(event)
        if refused is not None:
            self.record((refused,))
        if self.guard.violation is not None and caught_before is None:
            return self.guard.violation.reason
        return None

    def _recorded(self, event: AgentEvent) -> Event | None:
        """The event as the log keeps it; None for a tick, which only drives the polling."""
        if event.kind == "tick":
            return None
        return Event(
            EventKind.AGENT,
            self.engine.clock.now(),
            task_id=self.task_id,
            attempt=self.attempt,
            data={"kind": event.kind, "text": event.text, **event.data},
        )

    def __call__(self, event: AgentEvent) -> str | None:
        """Price, check, store and show one event (each decided apart); a reason to stop, or None."""
        engine = self.engine
        if event.kind == "process":
            process = process_from_data(event.data)
            if process is not None:  # committed now: a crash from here on leaves a record to reap by
                engine._commit(
                    self.session_id, lambda s: record_process(s, self.task_id, self.attempt, process)
                )
            return None
        if event.kind == "usage":
            stop = self._price(event)
            if stop is not None:
                return stop
        forbidden = self._violation_in(event)
        if event.kind == "refusal":
            return None  # recorded as a safety event, not again as agent output
        stored = self._recorded(event)
        if stored is not None:
            engine.watch(stored)
            if event.persist or forbidden is not None:  # a forbidden call is the evidence: always kept
                self.pending.append(stored)
        if forbidden is not None:
            self.flush()
            return f"safety: {forbidden}"
        if len(self.pending) >= engine.event_batch:
            self.flush()
        now = engine.clock.now()
        if self.last_poll is not None and (now - self.last_poll).total_seconds() < engine.poll_interval_s:
            return None
        self.last_poll = now
        self.flush()
        self.take_guard_refusals()
        if engine.store.session(self.session_id).state is SessionState.CANCELLED:
            return "the session was cancelled"
        return None

    def take_guard_refusals(self) -> None:
        """Record what the workspace's guards (shims, git hooks) refused so far."""
        if self.workspace is not None:
            self.record(tuple(self.workspace.take_refusals()))

    def record(self, refusals: tuple[SafetyEvent, ...], attempt: int | None = None) -> None:
        """Commit each refusal as a safety event of the task now (its notification with it)."""
        if not refusals:
            return
        self.flush()
        at = self.engine.clock.now()
        number = self.attempt if attempt is None else attempt
        told = self.told if attempt is None else set()  # another attempt's refusals count on their own
        events = []
        for found in refusals:  # one notification per layer and attempt: the others only recorded
            data = found.as_data() | ({"repeat": True} if found.layer in told else {})
            told.add(found.layer)
            events.append(Event(EventKind.SAFETY, at, self.task_id, number, data))
        self.engine._commit(self.session_id, lambda _: Mutation(events=tuple(events)))

    def flush(self) -> None:
        if self.pending:
            self.engine.store.append_events(self.session_id, self.pending)
            self.pending = []
