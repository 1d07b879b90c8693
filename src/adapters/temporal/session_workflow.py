"""The session workflow: orchcore's ``decide`` loop on workflow state.

Deterministic by construction: the state is a Snapshot changed only by orchcore's pure
mutation functions; time is ``workflow.now()``; every I/O (an attempt, the day's spend,
a notification) is an activity. Commands from humans arrive as updates (the caller gets
the new state, or the refusal, and a refused one is not even written to the history);
the state is read with queries. Nothing runs at import: the sandbox re-imports this module.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetry
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import attrs

    from adapters.temporal.codec import SessionConfig, SessionStart, dump, load, snapshot_out
    from orchcore.budget import status
    from orchcore.commands import apply_command
    from orchcore.decide import (
        AwaitAnswer,
        AwaitApproval,
        Finish,
        Halt,
        StartTask,
        Wait,
        await_answer,
        begin,
        decide,
        finish,
        gate,
        halt,
        interrupt_running,
        wait,
    )
    from orchcore.errors import IllegalTransition, OrchError
    from orchcore.graph import TaskGraph
    from orchcore.notify import with_outbox
    from orchcore.progress import Progress
    from orchcore.records import Event, Mutation, OutboxEntry, Snapshot, TaskRun
    from orchcore.runtable import RunTable
    from orchcore.state import Command, SessionState

RUN_ATTEMPT = "orch.run_attempt"
SPENT_TODAY = "orch.spent_today"
DELIVER = "orch.deliver"
#: A session in one of these states is over: the workflow ends (after its notifications left).
ENDED = (SessionState.COMPLETED, SessionState.CANCELLED)
#: Delivery of one batch of notifications: retried with backoff, then given up (recorded).
DELIVERY_RETRY = TemporalRetry(initial_interval=timedelta(seconds=1), maximum_attempts=8)


def workflow_id(session_id: str) -> str:
    """The id of the workflow that holds ``session_id``."""
    return f"orch-session-{session_id}"


def attempt_queue(task_queue: str) -> str:
    """The task queue of a session's attempts: beside its own, so that a worker takes only as
    many attempts as it runs at once, and never starves the small activities."""
    return f"{task_queue}-attempts"


def ledger_id(day: str) -> str:
    """The id of the ledger workflow of one budget day (its start, ISO-8601 UTC)."""
    return f"orch-ledger-{day}"


@workflow.defn(name="orch.session")
class SessionWorkflow:
    """One session from start to its end, on any number of workers."""

    def __init__(self) -> None:
        self._snap: Snapshot | None = None
        self._config = SessionConfig()
        self._events: list[Event] = []
        self._outbox: list[OutboxEntry] = []  # in commit order; sent by the delivery loop
        self._sent = 0  # how many of ``_outbox`` were taken by the delivery loop
        self._changed = False
        self._running: workflow.ActivityHandle[Any] | None = None

    # -- state -----------------------------------------------------------------------------
    @property
    def snap(self) -> Snapshot:
        assert self._snap is not None  # noqa: S101 - set first thing in run()
        return self._snap

    def _commit(self, mutation: Mutation) -> None:
        """What a Store's transact does, on workflow state: all of the mutation, version + 1,
        events numbered, the notifications its events call for queued with it."""
        if mutation == Mutation():
            return
        snap = self.snap
        mutation = with_outbox(snap, mutation, self._config.routing)
        session = attrs.evolve(mutation.session or snap.session, version=snap.session.version + 1)
        runs = RunTable.of(snap.runs).updated(mutation.runs)
        start = len(self._events)
        self._events.extend(attrs.evolve(e, seq=start + i + 1) for i, e in enumerate(mutation.events))
        self._outbox.extend(mutation.outbox)
        self._snap = Snapshot(session, snap.plan, runs)
        self._changed = True

    # -- the loop --------------------------------------------------------------------------
    @workflow.run
    async def run(self, start: dict[str, Any]) -> dict[str, Any]:
        begun = load(start, SessionStart)
        self._config = begun.config
        self._snap = Snapshot(begun.session, begun.plan, RunTable(begun.runs))
        self._events = [attrs.evolve(e, seq=i + 1) for i, e in enumerate(begun.events)]
        delivery = asyncio.ensure_future(self._deliver_forever())
        if self.snap.session.state is SessionState.PLANNED:
            self._commit(apply_command(self.snap, Command.START, workflow.now(), source="temporal"))
        self._commit(interrupt_running(self.snap, workflow.now()))
        await self._drive()
        await workflow.wait_condition(lambda: self._sent == len(self._outbox))
        delivery.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return snapshot_out(self.snap)

    async def _drive(self) -> None:
        config = self._config
        graph = TaskGraph(self.snap.plan.tasks)
        progress = Progress(self.snap.plan, graph, config.approval, self.snap.runs)
        while True:
            spent_today = await self._spent_today()
            now = workflow.now()
            snap = self.snap
            action = decide(snap, config.approval, graph, self._budget(snap, spent_today), now, progress)
            if isinstance(action, StartTask):
                self._commit(begin(snap, action.task_id, now))
                await self._attempt(action)
                continue
            if isinstance(action, AwaitApproval):
                self._commit(gate(snap, action, now))
            elif isinstance(action, Finish):
                self._commit(finish(snap, action, now))
            elif isinstance(action, Halt):
                self._commit(halt(snap, action, now, config.budget.next_day(now)))
            elif isinstance(action, AwaitAnswer):
                self._commit(await_answer(snap, action, now))
            elif isinstance(action, Wait):
                self._commit(wait(snap, action, now))
                self._changed = False
                remaining = max((action.until - now).total_seconds(), 0.001)
                await self._until_changed(remaining)
                continue
            if self.snap.session.state in ENDED:
                return
            self._changed = False  # a human (an update) moves it on; a halted day ends by itself
            timeout = None
            if isinstance(action, Halt):
                timeout = (config.budget.next_day(now) - now).total_seconds()
            await self._until_changed(timeout)
            if (
                isinstance(action, Halt)
                and self.snap.session.state is SessionState.HALTED
                and not self._changed
            ):
                self._commit(
                    apply_command(self.snap, Command.RESUME, workflow.now(), source="new budget day")
                )

    async def _until_changed(self, timeout: float | None) -> None:
        try:
            await workflow.wait_condition(lambda: self._changed, timeout=timeout)
        except TimeoutError:
            return

    def _budget(self, snap: Snapshot, spent_today: Decimal) -> Any:
        policy = self._config.budget
        if snap.plan.max_cost_usd is None:
            return status(policy, spent_today=spent_today, spent_session=Decimal(0), session_limit=None)
        spent = sum((a.cost_usd or Decimal(0) for r in snap.runs.values() for a in r.attempts), Decimal(0))
        return status(
            policy, spent_today=spent_today, spent_session=spent, session_limit=snap.plan.max_cost_usd
        )

    async def _spent_today(self) -> Decimal:
        """The day's spend of every session on every worker (the ledger workflow), if a daily limit binds."""
        policy = self._config.budget
        if policy.daily_limit_usd is None:
            return Decimal(0)
        day = dump(policy.day_start(workflow.now()))
        spent = await workflow.execute_activity(
            SPENT_TODAY, day, start_to_close_timeout=timedelta(seconds=30), result_type=str
        )
        return Decimal(spent)

    async def _attempt(self, action: StartTask) -> None:
        """One attempt as an activity on any worker; the outcome recorded by the engine's code there
        (the same sandbox, guards, checkpoints and supervisor as a local run), merged here."""
        config = self._config
        base = self.snap
        request = {
            "snapshot": snapshot_out(base),
            "task_id": action.task_id,
            "attempt": action.attempt,
            "budget": dump(config.budget),
            "retry": dump(config.retry),
            "heartbeat_s": config.heartbeat_timeout_s,
        }
        self._running = workflow.start_activity(
            RUN_ATTEMPT,
            request,
            task_queue=attempt_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(seconds=config.attempt_timeout_s + 120),
            heartbeat_timeout=timedelta(seconds=config.heartbeat_timeout_s),
            # a lost worker is not retried in place: the task is interrupted and decide() gives
            # it its next attempt, on whichever worker takes it, exactly as after a local crash
            retry_policy=TemporalRetry(maximum_attempts=1),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            result_type=dict,
        )
        try:
            outcome: dict[str, Any] = await self._running
        except ActivityError as exc:
            why = f"the attempt's worker stopped or failed ({_cause(exc)})"
            self._commit(interrupt_running(self.snap, workflow.now(), why))
            return
        finally:
            self._running = None
        self._commit(self._merge(base, outcome))

    def _merge(self, base: Snapshot, outcome: dict[str, Any]) -> Mutation:
        """The attempt's changes on the current state: its task's run and its events; its change
        to the session (a question, a review) only if no command changed the session meanwhile."""
        run = load(outcome["run"], TaskRun)
        events = load(outcome["events"], tuple[Event, ...])
        theirs = load(outcome["session"], type(base.session))
        now = self.snap.session
        if now.version == base.session.version + 1:  # only begin() since: theirs is the fresher
            session = attrs.evolve(
                now,
                state=theirs.state,
                waiting_for=theirs.waiting_for,
                gate=theirs.gate,
                reason=theirs.reason,
                updated_at=theirs.updated_at,
            )
        else:
            session = attrs.evolve(now, updated_at=theirs.updated_at)
        return Mutation(session=session, runs=(run,), events=events)

    # -- notifications -----------------------------------------------------------------------
    async def _deliver_forever(self) -> None:
        """The outbox: every entry sent at least once, a channel's entries in commit order,
        each with its idempotency key (the notifier shows a repeat once)."""
        while True:
            await workflow.wait_condition(lambda: self._sent < len(self._outbox))
            batch = self._outbox[self._sent :]
            try:
                await workflow.execute_activity(
                    DELIVER,
                    dump(tuple(batch)),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=DELIVERY_RETRY,
                )
            except ActivityError as exc:
                workflow.logger.warning("notifications given up after retries: %s", _cause(exc))
            self._sent += len(batch)

    # -- front ends --------------------------------------------------------------------------
    @workflow.update(name="command")
    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """Apply a human's command (approve, reject, answer, pause, resume, skip, retry, cancel):
        the session afterwards, or an error naming the state and the commands it allows."""
        self._commit(self._apply(request))
        if request["command"] == Command.CANCEL.value and self._running is not None:
            self._running.cancel()  # the worker stops the agent and its process tree
        return dump(self.snap.session)  # type: ignore[no-any-return]

    @command.validator
    def _validate(self, request: dict[str, Any]) -> None:
        self._apply(request)  # raises, so a refused command is never written to the history

    def _apply(self, request: dict[str, Any]) -> Mutation:
        try:
            return apply_command(
                self.snap,
                Command(request["command"]),
                workflow.now(),
                task_id=request.get("task_id"),
                text=request.get("text", ""),
                source=request.get("source", "cli"),
            )
        except IllegalTransition as exc:
            parts = (exc.subject, exc.state, exc.command, list(exc.allowed))
            raise ApplicationError(str(exc), *parts, type="IllegalTransition", non_retryable=True) from None
        except (OrchError, ValueError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None

    @workflow.query(name="snapshot")
    def snapshot(self) -> dict[str, Any]:
        """The session, its plan and runs, as of the last committed change."""
        return snapshot_out(self.snap)

    @workflow.query(name="events")
    def events(self, after: int = 0) -> list[Any]:
        """The session's events with ``seq > after``."""
        return dump(tuple(self._events[after:]))  # type: ignore[no-any-return]


@workflow.defn(name="orch.ledger")
class LedgerWorkflow:
    """The day's spend of every session on every worker: one workflow per budget day.

    Spend arrives as updates keyed by attempt, so a retried report is counted once."""

    def __init__(self) -> None:
        self._spent: dict[str, str] = {}

    @workflow.run
    async def run(self, day: str) -> str:
        await workflow.sleep(timedelta(days=2))  # kept a day past its own for late reports
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.total()

    @workflow.update(name="spend")
    def spend(self, key: str, amount: str) -> str:
        """Record ``amount`` (USD) for attempt ``key`` once; the day's total after it."""
        self._spent.setdefault(key, str(Decimal(amount)))
        return self.total()

    @workflow.query(name="total")
    def total(self) -> str:
        return str(sum((Decimal(v) for v in self._spent.values()), Decimal(0)))


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__
    return f"{type(inner).__name__}: {inner}" if inner is not None else str(exc)
