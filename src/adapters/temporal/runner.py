"""Starting, commanding and reading sessions held by Temporal, and running a worker.

Synchronous on the outside, like every port here: each call runs the async client on a
private event loop. Library errors leave as orchcore errors (TemporalError, IllegalTransition).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from adapters.temporal.activities import Activities, EngineFactory
from adapters.temporal.codec import SessionConfig, SessionStart, dump, load, snapshot_in
from adapters.temporal.session_workflow import LedgerWorkflow, SessionWorkflow, attempt_queue, workflow_id
from orchcore.errors import IllegalTransition, NotFound, OrchError, StoreError
from orchcore.ports.notifier import Notifier
from orchcore.records import Event, Session, Snapshot
from orchcore.state import Command

T = TypeVar("T")
DEFAULT_TASK_QUEUE = "orch"
#: A query is answered by a worker: with none polling, say so instead of waiting a minute.
QUERY_TIMEOUT = timedelta(seconds=10)
#: orchcore is pure and deterministic: shared with the sandbox, not re-imported per workflow
PASSTHROUGH = ("orchcore", "adapters.temporal.codec", "attrs", "cattrs")


class TemporalError(StoreError):
    """The Temporal service, which holds the session's state, could not be reached or refused a call."""


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


class TemporalSessions:
    """Sessions whose state a Temporal workflow holds, at ``address`` (host:port)."""

    def __init__(
        self, address: str, *, namespace: str = "default", task_queue: str = DEFAULT_TASK_QUEUE
    ) -> None:
        self.address = address
        self.namespace = namespace
        self.task_queue = task_queue
        self._loop = asyncio.new_event_loop()
        self._client: Client | None = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop.run_until_complete(coro)
        except RPCError as exc:
            if exc.status.name == "NOT_FOUND":
                raise NotFound(f"no such session on Temporal at {self.address}: {exc.message}") from None
            if exc.status.name == "DEADLINE_EXCEEDED":
                raise TemporalError(
                    f"Temporal at {self.address}: no worker answered in {QUERY_TIMEOUT.seconds} s"
                    f" (is an `orch worker` polling task queue {self.task_queue}?)"
                ) from None
            raise TemporalError(f"Temporal at {self.address}: {exc.message}") from None
        except RuntimeError as exc:  # the core client's connection errors
            raise TemporalError(f"Temporal at {self.address}: {exc}") from None

    async def _connect(self) -> Client:
        if self._client is None:
            self._client = await Client.connect(self.address, namespace=self.namespace)
        return self._client

    def start(self, snap: Snapshot, events: tuple[Event, ...], config: SessionConfig) -> str:
        """Start the workflow of a planned session; its workflow id."""
        start = SessionStart(snap.session, snap.plan, tuple(snap.runs.values()), events, config)

        async def go() -> str:
            client = await self._connect()
            handle = await client.start_workflow(
                SessionWorkflow.run,
                dump(start),
                id=workflow_id(snap.session.id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            return handle.id

        return self._run(go())

    def command(
        self,
        session_id: str,
        command: Command,
        *,
        task_id: str | None = None,
        text: str = "",
        source: str = "cli",
    ) -> Session:
        """Apply a human's command in the workflow; the session afterwards, or IllegalTransition /
        NotFound (changing nothing) with the workflow's reason."""
        request = {"command": command.value, "task_id": task_id, "text": text, "source": source}

        async def go() -> Session:
            client = await self._connect()
            handle = client.get_workflow_handle(workflow_id(session_id))
            try:
                result = await handle.execute_update(SessionWorkflow.command, request)
            except WorkflowUpdateFailedError as exc:
                raise _refusal(exc.cause) from None
            return load(result, Session)

        return self._run(go())

    def snapshot(self, session_id: str) -> Snapshot:
        """The session as its workflow holds it now (needs a live worker to answer)."""

        async def go() -> Snapshot:
            client = await self._connect()
            data = await client.get_workflow_handle(workflow_id(session_id)).query(
                SessionWorkflow.snapshot, rpc_timeout=QUERY_TIMEOUT
            )
            return snapshot_in(data)

        return self._run(go())

    def events(self, session_id: str, after: int = 0) -> list[Event]:
        async def go() -> list[Event]:
            client = await self._connect()
            data = await client.get_workflow_handle(workflow_id(session_id)).query(
                SessionWorkflow.events, after
            )
            return list(load(data, tuple[Event, ...]))

        return self._run(go())

    def wait(self, session_id: str) -> Snapshot:
        """Block until the session's workflow ends; the final state."""

        async def go() -> Snapshot:
            client = await self._connect()
            return snapshot_in(await client.get_workflow_handle(workflow_id(session_id)).result())

        return self._run(go())

    def close(self) -> None:
        self._client = None  # its core connection goes before the loop, not at interpreter exit
        gc.collect()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


def _refusal(cause: BaseException | None) -> OrchError:
    """The orchcore error a workflow's refusal of a command stands for."""
    if isinstance(cause, ApplicationError) and cause.type == "IllegalTransition":
        subject, state, command, allowed = cause.details
        return IllegalTransition(str(subject), str(state), str(command), [str(a) for a in allowed])
    if isinstance(cause, ApplicationError) and cause.type == "NotFound":
        return NotFound(cause.message)
    return TemporalError(f"the session's workflow refused the command: {cause}")


def run_worker(
    address: str,
    engines: EngineFactory,
    notifiers: Callable[[], Mapping[str, Notifier]],
    *,
    namespace: str = "default",
    task_queue: str = DEFAULT_TASK_QUEUE,
    max_attempts: int = 1,
    ready: Callable[[], None] | None = None,
) -> None:
    """Poll ``task_queue`` for session workflows and their attempts until interrupted."""

    async def go() -> None:
        client = await Client.connect(address, namespace=namespace)
        activities = Activities(client, task_queue, engines, notifiers)
        # attempts poll a queue of their own, so a busy worker still serves the workflows'
        # small activities (the day's ledger, notifications) and takes no attempt it cannot start
        with concurrent.futures.ThreadPoolExecutor(max_workers=max_attempts + 4) as pool:
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=[SessionWorkflow, LedgerWorkflow],
                activities=[activities.spent_today, activities.deliver],
                activity_executor=pool,
                max_concurrent_activities=4,
                workflow_runner=sandbox_runner(),
            )
            attempts = Worker(
                client,
                task_queue=attempt_queue(task_queue),
                activities=[activities.run_attempt],
                activity_executor=pool,
                max_concurrent_activities=max_attempts,
            )
            async with worker, attempts:
                if ready is not None:
                    ready()
                await asyncio.Event().wait()

    try:
        asyncio.run(go())
    except RuntimeError as exc:
        raise TemporalError(f"Temporal at {address}: {exc}") from None
