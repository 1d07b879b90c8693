"""Delivering the outbox: the retry policy (pure) and one delivery pass over the ports.

Each outbox entry is one notification for one channel. A pass sends every due
entry to its channel's notifier, oldest first; an entry's failure only delays
that channel's later entries of the same session (the store keeps them back),
never other channels or sessions, and only until it is held back. Delivery is at least once: a crash between
a receiver accepting a message and the store recording it sends it again, with
the same idempotency key, so the receiver shows it once.

An entry that failed ``HOLD_BACK_AFTER`` times steps aside: the session's later entries
flow past it, and it is retried on its own every ``max_delay_s`` (`orch notify` shows it
as held back). A sender's claim on an entry lasts ``CLAIM_S`` (15 s, or a little over the
notifier's timeout), so the notifications of a killed sender wait no longer than that.

Retries back off exponentially: 2 s, 4 s, 8 s, ... at most 5 min apart. An entry
is given up when the receiver rejects it for good (``retryable=False``), after
``max_attempts`` attempts if that is set, or once it is a day old: a phone
buzzing about yesterday's run helps nobody, and ``orch status`` still shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from orchcore.errors import NotifyError
from orchcore.ports.clock import Clock
from orchcore.ports.notifier import Notifier
from orchcore.ports.store import Store
from orchcore.records import OutboxEntry
from orchcore.redact import redact

ERROR_LIMIT = 500  # characters of an error kept in the outbox
CLAIM_S = 15.0  # an entry being sent is another sender's again after this (its sender died)
CLAIM_MARGIN_S = 5.0  # a claim outlasts the notifier's own timeout by this much
HOLD_BACK_AFTER = 5  # failed attempts after which an entry steps aside for its session's later ones


def held_back(entry: OutboxEntry) -> bool:
    """Whether ``entry`` failed so often that it no longer holds back its session's later
    entries: it is retried on its own, at the low rate (``max_delay_s``), until given up."""
    return entry.open and entry.attempts >= HOLD_BACK_AFTER


def claim_for(send_timeout_s: float) -> float:
    """How long a sender's claim lasts: short (a killed sender's rows are soon taken over),
    but longer than one send may take, so a slow send is not made twice."""
    return max(CLAIM_S, send_timeout_s + CLAIM_MARGIN_S)


@attrs.frozen
class DeliveryPolicy:
    """How often and how long a notification is retried."""

    base_delay_s: float = 2.0
    max_delay_s: float = 300.0
    give_up_after_s: float = 24 * 3600.0  # counted from the notification's creation
    max_attempts: int | None = None  # None: retry until give_up_after_s

    def delay_s(self, attempts: int) -> float:
        """The pause after ``attempts`` failed attempts (1-based): base, 2 x base, ... capped."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** min(max(0, attempts - 1), 62)))

    def after_failure(self, entry: OutboxEntry, retryable: bool, now: datetime) -> tuple[datetime, bool]:
        """When to try ``entry`` again after one more failed attempt, and whether to give up instead."""
        attempts = entry.attempts + 1
        delay = self.max_delay_s if attempts >= HOLD_BACK_AFTER else self.delay_s(attempts)
        next_at = now + timedelta(seconds=delay)
        too_old = next_at - entry.notification.created_at > timedelta(seconds=self.give_up_after_s)
        too_many = self.max_attempts is not None and attempts >= self.max_attempts
        return next_at, not retryable or too_old or too_many


@attrs.frozen
class Failure:
    """One failed attempt of a pass."""

    key: str
    channel: str
    error: str
    gave_up: bool


@attrs.frozen
class DeliveryReport:
    """What a pass did."""

    delivered: tuple[OutboxEntry, ...] = ()
    failures: tuple[Failure, ...] = ()
    stopped_at_deadline: bool = False

    @property
    def gave_up(self) -> int:
        return sum(1 for f in self.failures if f.gave_up)


def deliver_due(
    store: Store,
    notifiers: Mapping[str, Notifier],
    clock: Clock,
    policy: DeliveryPolicy | None = None,
    *,
    deadline: datetime | None = None,
    batch: int = 50,
    max_rounds: int = 1000,
    claim_s: float = CLAIM_S,
) -> DeliveryReport:
    """Send every due outbox entry to its channel's notifier and record how it went.

    Repeats while something got through, since that makes the channel's next
    entry of the session due. Stops starting new sends at ``deadline`` (a send in
    progress ends by the notifier's own timeout). The engine never waits on this.
    Each entry is claimed before it is sent, for ``claim_s`` (longer than any
    notifier's timeout), so senders in several processes do not send it twice.
    """
    policy = policy or DeliveryPolicy()
    delivered: list[OutboxEntry] = []
    failures: list[Failure] = []
    for _ in range(max_rounds):
        due = store.pending_notifications(clock.now(), batch)
        progress = False
        for entry in due:
            if deadline is not None and clock.now() >= deadline:
                return DeliveryReport(tuple(delivered), tuple(failures), stopped_at_deadline=True)
            if not store.claim_notification(entry.key, entry.channel, clock.now(), _later(clock, claim_s)):
                continue  # another sender (another process) took it meanwhile
            error, retryable = _send(notifiers, entry)
            now = clock.now()
            if error is None:
                store.notification_sent(entry.key, entry.channel, now)
                delivered.append(attrs.evolve(entry, attempts=entry.attempts + 1, delivered_at=now))
                progress = True
                continue
            next_at, give_up = policy.after_failure(entry, retryable, now)
            store.notification_failed(entry.key, entry.channel, error, next_at, give_up=give_up)
            failures.append(Failure(entry.key, entry.channel, error, give_up))
            # giving up, or holding it back, makes the channel's next entry due
            progress = progress or give_up or entry.attempts + 1 == HOLD_BACK_AFTER
        if not progress:
            break
    return DeliveryReport(tuple(delivered), tuple(failures))


def _send(notifiers: Mapping[str, Notifier], entry: OutboxEntry) -> tuple[str | None, bool]:
    """Send ``entry``: (None, _) when delivered, else (error text, retryable)."""
    notifier = notifiers.get(entry.channel)
    if notifier is None:
        # settings changed, or this process could not build the channel: keep it for one that can
        return f"no notifier for channel {entry.channel!r} in this process", True
    try:
        notifier.send(entry.notification)
    except NotifyError as exc:
        return _clip(str(exc) or type(exc).__name__), exc.retryable
    except Exception as exc:  # noqa: BLE001 - a broken adapter must not stop other channels' deliveries
        return _clip(f"{type(exc).__name__}: {exc}"), True
    return None, True


def _later(clock: Clock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)


def _clip(text: str) -> str:
    """The error as stored and shown: one line, redacted (a URL's password never reaches the outbox), bounded."""
    flat = redact(" ".join(text.split()))
    return flat if len(flat) <= ERROR_LIMIT else flat[: ERROR_LIMIT - 1] + "…"
