"""What a worker does for a session workflow: run attempts, read and write the day's ledger,
deliver notifications. All I/O of the Temporal runner is here."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from adapters.temporal.attempt_copy import SessionCopy
from adapters.temporal.codec import dump, load, snapshot_in
from adapters.temporal.session_workflow import DELIVER, RUN_ATTEMPT, SPENT_TODAY, LedgerWorkflow, ledger_id
from orchcore.budget import BudgetPolicy
from orchcore.decide import StartTask
from orchcore.engine import Engine
from orchcore.policy import RetryPolicy
from orchcore.ports.notifier import Notifier
from orchcore.ports.store import Store
from orchcore.records import Attempt, AttemptRecord, Event, OutboxEntry
from orchcore.sandbox import sandbox_event

T = TypeVar("T")
#: Builds the engine a worker runs one attempt with: (the session's copy, agent name, watcher).
EngineFactory = Callable[[Store, str, Callable[[Event], None]], Engine]
#: How many of the latest agent events a heartbeat carries.
HEARTBEAT_EVENTS = 5
LEDGER_TIMEOUT_S = 30.0


class Activities:
    """The activities of one worker process, bound to its engine factory, notifiers and client."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        engines: EngineFactory,
        notifiers: Callable[[], Mapping[str, Notifier]],
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._engines = engines
        self._notifiers = notifiers
        self._loop = asyncio.get_running_loop()  # the worker's: sync activities call the client on it

    def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(LEDGER_TIMEOUT_S)

    # -- the ledger ---------------------------------------------------------------------------
    async def _ledger(self, day: str) -> WorkflowHandle[Any, Any]:
        return await self._client.start_workflow(
            LedgerWorkflow.run,
            day,
            id=ledger_id(day),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def _total(self, day: str) -> str:
        handle = await self._ledger(day)
        return str(await handle.query(LedgerWorkflow.total))

    async def _spend(self, day: str, key: str, amount: Decimal) -> str:
        handle = await self._ledger(day)
        return str(await handle.execute_update(LedgerWorkflow.spend, args=[key, str(amount)]))

    @activity.defn(name=SPENT_TODAY)
    async def spent_today(self, day: str) -> str:
        """What every session spent on the budget day starting at ``day``."""
        return await self._total(day)

    # -- one attempt -------------------------------------------------------------------------
    @activity.defn(name=RUN_ATTEMPT)
    def run_attempt(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one attempt with the local engine's code; its run, events and session afterwards.

        Heartbeats carry the agent's latest events; a cancel from the workflow stops the agent
        (the engine sees its session cancelled at its next poll and kills the process tree)."""
        snap = snapshot_in(request["snapshot"])
        task_id, number = str(request["task_id"]), int(request["attempt"])
        budget = load(request["budget"], BudgetPolicy)
        day = budget.day_start(datetime.now(UTC))
        ledger: list[AttemptRecord] = []
        if budget.daily_limit_usd is not None:
            spent = Decimal(self._on_loop(self._total(dump(day))))
            ledger.append(AttemptRecord("(all sessions)", "(ledger)", Attempt(1, day, cost_usd=spent)))
        store = SessionCopy(snap, ledger)
        seen: collections.deque[dict[str, Any]] = collections.deque(maxlen=HEARTBEAT_EVENTS)
        counted = [0]

        def watch(event: Event) -> None:
            counted[0] += 1
            seen.append({"kind": event.kind.value, "text": str(event.data.get("text", ""))[:200]})

        engine = self._engines(store, snap.session.agent, watch)
        if engine.sandbox_status is not None:  # per attempt: each worker says whether its agents are boxed
            store.append_events(snap.session.id, [sandbox_event(engine.sandbox_status, datetime.now(UTC))])
        engine.budget = budget
        engine.retry = load(request["retry"], RetryPolicy)
        stop = threading.Event()
        interval = max(float(request.get("heartbeat_s", 30.0)) / 3, 0.2)

        def beat() -> None:
            while not stop.wait(interval):
                activity.heartbeat({"events": counted[0], "latest": list(seen)})
                if activity.is_cancelled():
                    store.cancel()

        beating = threading.Thread(target=contextvars.copy_context().run, args=(beat,), daemon=True)
        beating.start()
        try:
            with activity.shield_thread_cancel_exception():  # the engine stops the agent its own way
                engine.run_attempt(snap.session.id, StartTask(task_id, number))
        finally:
            stop.set()
            beating.join()
        session, run, events = store.outcome(task_id)
        cost = run.attempts[-1].cost_usd if run.attempts else None
        if cost:  # the ledger is exact whatever the limit: each attempt counted once, by its key
            self._on_loop(self._spend(dump(day), f"{snap.session.id}:{task_id}:{number}", cost))
        return {"session": dump(session), "run": dump(run), "events": dump(events)}

    # -- notifications -------------------------------------------------------------------------
    @activity.defn(name=DELIVER)
    def deliver(self, entries: list[Any]) -> int:
        """Send each entry through its channel, in order, with its idempotency key; a failure
        raises, so Temporal retries the batch (a repeat is shown once by its key)."""
        notifiers = self._notifiers()
        sent = 0
        for entry in load(entries, tuple[OutboxEntry, ...]):
            notifier = notifiers.get(entry.channel)
            if notifier is None:
                activity.logger.warning("no notifier %r on this worker: %s dropped", entry.channel, entry.key)
                continue
            notifier.send(entry.notification)
            sent += 1
        return sent
