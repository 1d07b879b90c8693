"""The notification sender: delivers the outbox from a background thread while a front end runs.

The engine only commits notifications to the outbox; this thread delivers them
(orchcore.delivery.deliver_due) about once a second, so a receiver that is down
or hangs never slows or fails a run. On stop it makes one last pass with a short
deadline; whatever is left stays in the outbox for the next sender or for
`orch notify --flush`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from orchcore.delivery import CLAIM_S, DeliveryPolicy, DeliveryReport, claim_for, deliver_due

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.ports.clock import Clock
    from orchcore.ports.notifier import Notifier
    from orchcore.ports.store import Store

log = logging.getLogger("apps.notify")

FLUSH_S = 3.0  # the last pass at exit: long enough for a healthy receiver, short for a dead one


class NotificationSender:
    """Runs delivery passes in one daemon thread until stopped; never raises into its owner."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        *,
        interval_s: float = 1.0,
        claim_s: float = CLAIM_S,
        name: str = "orch-notify",
    ) -> None:
        self._store = store
        self._notifiers = notifiers
        self._clock = clock
        self._policy = policy or DeliveryPolicy()
        self._interval_s = interval_s
        self._claim_s = claim_s
        self._name = name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flush_s = FLUSH_S
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> NotificationSender:
        if self._thread is None or not self._thread.is_alive():
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Make a pass now rather than at the next tick (e.g. right after a commit)."""
        self._wake.set()

    def stop(self, flush_s: float = FLUSH_S, grace_s: float = 2.0) -> None:
        """Stop after one last pass that starts no send after ``flush_s``; wait ``grace_s`` more
        for a send in progress, never for a receiver that hangs (the thread is a daemon)."""
        if self._thread is None:
            return
        self._flush_s = flush_s
        self._stopping.set()
        self._wake.set()
        self._thread.join(flush_s + grace_s)
        if self._thread.is_alive():
            log.warning("notification sender still busy at exit; undelivered notifications stay queued")
        self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_pass()
            self._wake.wait(self._interval_s)
            self._wake.clear()
        self.run_pass(deadline_s=self._flush_s)

    def run_pass(self, deadline_s: float | None = None) -> DeliveryReport | None:
        """One delivery pass (at most ``deadline_s`` long); logs what failed, never raises."""
        deadline = None if deadline_s is None else self._clock.now() + timedelta(seconds=deadline_s)
        try:
            report = deliver_due(
                self._store,
                self._notifiers,
                self._clock,
                self._policy,
                deadline=deadline,
                claim_s=self._claim_s,
            )
        except Exception:
            log.exception("notification delivery pass failed; it is retried at the next tick")
            return None
        finally:
            self.passes += 1
        log_report(report)
        return report


def log_report(report: DeliveryReport) -> None:
    """Log a pass: deliveries at info, failures at warning, giving up at error."""
    for entry in report.delivered:
        log.info("notification %s delivered to %s", entry.key, entry.channel)
    for failure in report.failures:
        if failure.gave_up:
            log.error("notification %s to %s given up: %s", failure.key, failure.channel, failure.error)
        else:
            log.warning("notification %s to %s failed: %s", failure.key, failure.channel, failure.error)


@contextlib.contextmanager
def sending(runtime: Runtime) -> Iterator[NotificationSender | None]:
    """A started sender for ``runtime`` (None if no channel is configured), stopped on exit."""
    if not runtime.routing.channels:
        yield None
        return
    sender = NotificationSender(
        runtime.store,
        runtime.notifiers(),
        runtime.clock,
        runtime.delivery,
        interval_s=runtime.settings.notifications.interval_s,
        claim_s=claim_for(runtime.settings.notifications.timeout_s),
    ).start()
    try:
        yield sender
    finally:
        sender.stop()
