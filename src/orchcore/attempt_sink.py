"""The engine's sink for one attempt's agent events: stores, shows, counts, and says when to stop.

I/O only (the store, the watcher, the live file watch); what each event means is decided elsewhere, by pure code:
what it costs and whether the budget stops it (``budget.spend_stop``), whether it is a
forbidden operation (``safety.stream_guard``), what it leaves for the result
(``attempt_outcome.Streamed``), how it is stored (``record()`` of each event).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from orchcore.attempt_outcome import Streamed
from orchcore.budget import BudgetStatus, spend_stop
from orchcore.live_files import files_event
from orchcore.ports.agent import AgentEvent
from orchcore.ports.agent_events import ProcessStarted, Refused, Tick, UsageReport
from orchcore.ports.file_watch import Watching
from orchcore.ports.workspace import Workspace
from orchcore.records import AttemptProcess, Event, EventKind, Mutation
from orchcore.safety.events import SafetyEvent, SafetyLayer
from orchcore.safety.stream_guard import StreamGuard
from orchcore.sandbox import record_process
from orchcore.state import SessionState

if TYPE_CHECKING:
    from orchcore.engine import Engine


@attrs.define
class AttemptSink:
    """Receives one attempt's agent events: stores them in batches, shows them, sums the streamed
    cost, and says stop when the budget is spent, a forbidden call got through or the session
    was cancelled meanwhile."""

    engine: Engine
    session_id: str
    task_id: str
    attempt: int
    budget: BudgetStatus
    guard: StreamGuard
    workspace: Workspace | None = None
    streamed: Streamed = attrs.field(factory=Streamed)
    told: set[SafetyLayer] = attrs.field(factory=set)
    pending: list[Event] = attrs.field(factory=list)
    last_poll: datetime | None = None
    budget_stop: bool = False
    files: Watching | None = attrs.field(default=None, kw_only=True)  # the live file watch, if on

    def __call__(self, event: AgentEvent) -> str | None:
        """Count, check, store and show one event; a reason to stop, or None."""
        match event:
            case ProcessStarted():
                self._record_process(event.process)
                return None
            case Tick():
                return self._poll()
            case Refused():
                self._violation_in(event)  # recorded as a safety event, not again as agent output
                return None
            case UsageReport():
                self.streamed.note(event)
                so_far, shared = self.streamed.cost.so_far, self.engine.shared_spend
                beside = (
                    shared.spend(self.task_id, self.attempt, so_far) if shared is not None else Decimal(0)
                )
                stop = spend_stop(self.engine.budget.task_limit_usd, self.budget, so_far, beside)
                if stop is not None:
                    self.budget_stop = stop.halts
                    return stop.reason
            case _:
                self.streamed.note(event)
        forbidden = self._violation_in(event)
        stored = event.record()
        row = Event(
            EventKind.AGENT,
            self.engine.clock.now(),
            task_id=self.task_id,
            attempt=self.attempt,
            data={"kind": stored.kind, "text": stored.text, **stored.data},
        )
        self.engine.watch(row)
        if stored.stored or forbidden is not None:  # a forbidden call is the evidence: always kept
            self.pending.append(row)
        if forbidden is not None:
            self.flush()
            return f"safety: {forbidden}"
        if len(self.pending) >= self.engine.event_batch:
            self.flush()
        return self._poll()

    def _record_process(self, process: AttemptProcess) -> None:
        """Committed at once: a crash from here on leaves a record to reap by."""
        self.engine._commit(self.session_id, lambda s: record_process(s, self.task_id, self.attempt, process))

    def _violation_in(self, event: AgentEvent) -> str | None:
        """Record what the stream guard saw refused; the violation this event newly shows, if any."""
        caught_before = self.guard.violation
        refused = self.guard.feed(event)
        if refused is not None:
            self.record((refused,))
        if self.guard.violation is not None and caught_before is None:
            return self.guard.violation.reason
        return None

    def _poll(self) -> str | None:
        """At most every ``poll_interval_s``: store what is pending, record the guards' refusals,
        and stop if the session was cancelled."""
        engine = self.engine
        now = engine.clock.now()
        if self.last_poll is not None and (now - self.last_poll).total_seconds() < engine.poll_interval_s:
            return None
        self.last_poll = now
        self.flush()
        self.take_guard_refusals()
        self.take_file_changes()
        if engine.store.session(self.session_id).state is SessionState.CANCELLED:
            return "the session was cancelled"
        stop = engine.stop_all()  # the engine of N attempts stops them all (a budget halt, an error)
        if stop is not None:
            self.budget_stop = True  # not the task's fault: it runs again
            return stop
        return None

    def take_guard_refusals(self) -> None:
        """Record what the workspace's guards (shims, git hooks) refused so far."""
        if self.workspace is not None:
            self.record(tuple(self.workspace.take_refusals()))

    def take_file_changes(self) -> None:
        """Store (and show) the files the agent changed since the last look, forbidden ones flagged."""
        if self.files is None:
            return
        event = files_event(
            self.files.take(), self.task_id, self.attempt, self.engine.clock.now(), self.engine.live_forbidden
        )
        if event is not None:
            self.engine.watch(event)
            self.pending.append(event)
            self.flush()

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
        """Store the pending events."""
        if self.pending:
            self.engine.store.append_events(self.session_id, self.pending)
            self.pending = []
