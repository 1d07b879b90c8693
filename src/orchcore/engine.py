"""The engine: gather state, decide, act through the ports, record. Repeat.

Every decision is made inside a store transaction on the freshest state, and
the state it permits (``task running``) is committed before the side effect
(the agent) begins. Front ends never talk to the engine: they change stored
state, which the engine re-reads between steps and while an agent runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from orchcore.attempt_outcome import attempt_violations, failed_for_safety, question_to_wait_for, with_stream
from orchcore.attempt_sink import AttemptSink
from orchcore.budget import BudgetPolicy, BudgetStatus, SharedSpend, status, total
from orchcore.checkpoints import AttemptCheck, check_attempt
from orchcore.day_report import ENDED
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
    stop_on_error,
    wait,
)
from orchcore.errors import OrchError
from orchcore.graph import TaskGraph
from orchcore.notify import Routing, with_outbox
from orchcore.policy import ApprovalPolicy, RetryPolicy
from orchcore.ports.agent import Agent, AgentRequest, AgentResult
from orchcore.ports.checkpoints import Checkpoint, Checkpoints, Moment
from orchcore.ports.checks import CheckRunner
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.file_watch import FileWatcher, Watching
from orchcore.ports.logs import TaskLogs
from orchcore.ports.questions import QuestionBox
from orchcore.ports.store import Store
from orchcore.ports.workspace import Workspace
from orchcore.progress import Progress
from orchcore.prompt import ContextFile, Prompter
from orchcore.records import Event, EventKind, JsonObject, Mutation, Outcome, Session, Snapshot
from orchcore.safety import SafetyPolicy, ref_changes
from orchcore.safety.stream_guard import StreamGuard
from orchcore.sandbox import (
    NO_REAPER,
    ProcessReaper,
    SandboxPolicy,
    SandboxStatus,
    left_running,
    sandbox_event,
)
from orchcore.tasks import Task

if TYPE_CHECKING:  # the supervisor's modules load only when a run has one
    from orchcore.attempt_check import AttemptChecker
    from orchcore.parallel_drive import ParallelDrive

Watcher = Callable[[Event], None]


def _ignore(_: Event) -> None:
    return None


def _never() -> str | None:
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
    file_watcher: FileWatcher | None = None  # live file tracking while agents work (None: off)
    live_forbidden: tuple[str, ...] = ("**/migrations/**",)  # flagged as soon as a change is seen
    parallel: ParallelDrive | None = None  # max_parallel above 1: N attempts at once, in worktrees
    extra_env: dict[str, str] = attrs.field(factory=dict)  # added to the agent's (ORCH_PORT_BASE, ...)
    stop_all: Callable[[], str | None] = _never  # a reason every running attempt stops now, or None
    shared_spend: SharedSpend | None = None  # what attempts running beside this one spend (N at once)
    work_done: Callable[[AgentResult], None] | None = (
        None  # orch records the attempt's work (its worktree commit)
    )
    ended: Callable[[str], None] | None = None  # told the session's id when a drive leaves it ended
    changed: Callable[[Snapshot], None] | None = None  # told every snapshot a transition committed
    _watching: Watching | None = attrs.field(default=None, init=False, repr=False)
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
            if self.parallel is None or self.parallel.max_parallel <= 1:  # else: one watch per worktree
                self._watching = self._start_watching()
            outcome = self._drive(session_id)
        except Exception as exc:  # an I/O error or a bug: never leave a task `running` with no engine
            why = f"orch stopped on an error while the task ran: {type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # the store itself may be what failed
                self._commit(session_id, lambda s: stop_on_error(s, self.clock.now(), why))
            raise
        finally:
            if self._watching is not None:
                self._watching.close()
                self._watching = None
            self.store.release_lease(session_id, owner)
        if self.ended is not None and outcome.session.state in ENDED:
            self.ended(session_id)  # the day's report: after the end is committed and the lease let go
        return outcome

    def run_attempt(self, session_id: str, action: StartTask) -> Snapshot:
        """Run one attempt that ``begin`` already committed as running, to its recorded end:
        what a distributed runner's worker does (the same prompt, sandbox, guards, checkpoints,
        supervisor and budget stop as ``run``); the state afterwards."""
        self._run_task(self.store.load(session_id), action)
        return self.store.load(session_id)

    def _start_watching(self) -> Watching | None:
        """Live file tracking for this drive; a watcher that cannot start costs the run nothing."""
        if self.file_watcher is None:
            return None
        try:
            return self.file_watcher.watch(self.workdir)
        except Exception:  # noqa: BLE001 - inotify limits, a vanished folder: the checkpoints still see all
            return None

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
        if self.changed is not None:
            self.changed(snap)
        return snap

    def _drive(self, session_id: str) -> RunOutcome:
        # what a crashed orch left running dies before its task is marked for another attempt
        for process in left_running(self.store.load(session_id)):
            self.reap(process)
        snap = self._commit(session_id, self._interrupt_and_note_sandbox)
        graph = TaskGraph(snap.plan.tasks)
        self._progress = Progress(snap.plan, graph, self.policy, snap.runs)
        if self.parallel is not None and self.parallel.max_parallel > 1:
            return self.parallel.drive(self, session_id, graph)
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

    def _run_task(self, snap: Snapshot, action: StartTask, spent_today: Decimal | None = None) -> None:
        """Run one attempt to its recorded end; ``spent_today``: the day's spend read with ``snap``
        (read now when not given)."""
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
            env={**guard_env, **self.extra_env},
            safety=policy,
            sandbox=self.sandbox,
        )
        if spent_today is None:
            spent_today = self._spent_today()
        before = self._budget_status(snap, spent_today)
        sink = AttemptSink(
            self,
            session_id,
            task.id,
            action.attempt,
            before,
            StreamGuard(policy, self.workdir, sandbox=self.sandbox),
            guarded,
            files=self._watching,
        )
        if self._watching is not None:
            self._watching.take()  # what changed between attempts (orch's own restores) is no agent's
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
        result = with_stream(result, sink.streamed)
        after = self._budget_status(snap, spent_today, result.cost_usd or Decimal(0))
        sink.take_guard_refusals()
        if self._watching is not None:
            self._watching.settle()  # what the agent wrote as it exited is this attempt's
        sink.take_file_changes()
        moved = (
            ref_changes(refs_before, guarded.refs())
            if guarded is not None and refs_before is not None
            else []
        )
        checked = (  # after the refs are compared: the checkpoint restores the ones that moved
            check_attempt(self.checkpoints, checkpoint, guard=guarded is not None)
            if self.checkpoints is not None and checkpoint is not None
            else AttemptCheck()
        )
        violations = attempt_violations(sink.guard.violation, moved, checked.violations)
        safety_events: tuple[Event, ...] = ()
        if violations:  # whatever the agent says, a forbidden attempt fails the task: a human must look
            result, safety_events = failed_for_safety(
                result,
                violations,
                checked.restored,
                task_id=task.id,
                attempt=action.attempt,
                at=self.clock.now(),
            )
        # the supervisor's decision; an explicit question (the question box, or one the agent asked) waits as today
        boxed = self.questions.question(task.id) if self.questions is not None else None
        supervised = None
        explicit = boxed is not None or sink.streamed.asked is not None
        if self.checker is not None and not violations and not sink.budget_stop and not explicit:
            supervised = self.checker.check_if_due(
                self.store, snap, task, result, self.checkpoints, self.sandbox
            )
        question = question_to_wait_for(result, boxed, sink.streamed.asked, supervised=supervised is not None)
        if self.work_done is not None:  # after the refs check: orch's own commit is no agent's
            self.work_done(result)
        ended = self.clock.now()
        crossings = budget_crossings(before, after, ended, task.id)
        if supervised is not None:
            from orchcore.supervision import record_checked

            self._commit(
                session_id,
                self._settled(
                    task.id,
                    action.attempt,
                    result,
                    lambda s: record_checked(s, task.id, result, ended, supervised, extra=crossings),
                ),
            )
            return
        self._commit(
            session_id,
            self._settled(
                task.id,
                action.attempt,
                result,
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
            ),
        )

    def _settled(
        self, task_id: str, attempt: int, result: AgentResult, change: Callable[[Snapshot], Mutation]
    ) -> Callable[[Snapshot], Mutation]:
        """``change``, telling the attempts beside this one what it cost in the same transaction."""
        shared = self.shared_spend
        if shared is None:
            return change

        def settled(snap: Snapshot) -> Mutation:
            mutation = change(snap)
            shared.end(task_id, attempt, result.cost_usd or Decimal(0))
            return mutation

        return settled

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
