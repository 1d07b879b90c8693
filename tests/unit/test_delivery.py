"""The delivery policy (backoff, giving up) and one delivery pass over a store and notifiers,
on a fake clock: order per session and channel, channels independent, nothing sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory.store import InMemoryStore
from orchcore.delivery import DeliveryPolicy, deliver_due
from orchcore.errors import NotifyError
from orchcore.ports.notifier import Notification
from orchcore.records import Event, EventKind, Mutation, OutboxEntry, Session, TaskRun
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.contracts.outbox import T0, entry
from orchcore.testing.fakes import FakeClock, RecordingNotifier


def down(n: int = 1) -> list[NotifyError]:
    return [NotifyError("HTTP 503", retryable=True) for _ in range(n)]


def test_backoff_doubles_from_2_s_up_to_5_min() -> None:
    policy = DeliveryPolicy()
    assert [policy.delay_s(n) for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert policy.delay_s(10_000) == 300


def test_a_retryable_failure_is_retried_after_the_backoff() -> None:
    policy = DeliveryPolicy()
    fresh = entry("s1", "k", at=T0)
    assert policy.after_failure(fresh, True, T0) == (T0 + timedelta(seconds=2), False)
    third = OutboxEntry(fresh.notification, "n8n", T0, attempts=2)
    assert policy.after_failure(third, True, T0 + timedelta(minutes=1)) == (
        T0 + timedelta(minutes=1, seconds=8),
        False,
    )


def test_a_rejection_is_given_up_at_once() -> None:
    assert DeliveryPolicy().after_failure(entry("s1", "k", at=T0), False, T0)[1] is True


def test_a_day_old_notification_is_given_up() -> None:
    old = OutboxEntry(entry("s1", "k", at=T0).notification, "n8n", T0, attempts=290)
    assert DeliveryPolicy().after_failure(old, True, T0 + timedelta(hours=23, minutes=50))[1] is False
    assert DeliveryPolicy().after_failure(old, True, T0 + timedelta(hours=23, minutes=56))[1] is True


def test_max_attempts_gives_up_at_that_attempt() -> None:
    policy = DeliveryPolicy(max_attempts=3)
    second = OutboxEntry(entry("s1", "k", at=T0).notification, "n8n", T0, attempts=1)
    third = OutboxEntry(entry("s1", "k", at=T0).notification, "n8n", T0, attempts=2)
    assert policy.after_failure(second, True, T0)[1] is False
    assert policy.after_failure(third, True, T0)[1] is True


# -- deliver_due ---------------------------------------------------------------------


def _store(*sessions: str) -> InMemoryStore:
    store = InMemoryStore()
    plan = Plan("today.md", (Task("1", "One"),))
    for sid in sessions:
        store.create(Session(sid, "today.md", SessionState.RUNNING, T0, T0), plan, [TaskRun("1")], [])
    return store


def _queue(store: InMemoryStore, session_id: str, *entries: OutboxEntry) -> None:
    event = Event(EventKind.TASK_FINISHED, T0, task_id="1")
    store.transact(session_id, lambda s: Mutation(events=(event,), outbox=entries))


def _keys(sent: list[Notification]) -> list[str]:
    return [n.key for n in sent]


def test_a_pass_delivers_everything_due_in_commit_order_per_session_and_channel() -> None:
    store = _store("s1", "s2")
    _queue(store, "s1", entry("s1", "a", "n8n"), entry("s1", "a", "console"))
    _queue(store, "s2", entry("s2", "x", "n8n"))
    _queue(store, "s1", entry("s1", "b", "n8n"), entry("s1", "b", "console"))
    n8n, console = RecordingNotifier(), RecordingNotifier()
    report = deliver_due(store, {"n8n": n8n, "console": console}, FakeClock(T0))
    assert (n8n.delivered_keys(), console.delivered_keys()) == (["a", "x", "b"], ["a", "b"])
    assert len(report.delivered) == 5
    assert report.failures == ()
    assert store.undelivered() == []
    again = deliver_due(store, {"n8n": n8n, "console": console}, FakeClock(T0 + timedelta(hours=1)))
    assert again.delivered == ()
    assert (n8n.calls, console.calls) == (3, 2)  # nothing delivered is ever sent again


def test_a_channel_that_is_down_holds_back_only_its_own_later_messages() -> None:
    store = _store("s1")
    _queue(store, "s1", entry("s1", "a", "n8n"), entry("s1", "a", "console"))
    _queue(store, "s1", entry("s1", "b", "n8n"), entry("s1", "b", "console"))
    n8n, console = RecordingNotifier(failures=down(2)), RecordingNotifier()
    clock = FakeClock(T0)
    notifiers = {"n8n": n8n, "console": console}

    report = deliver_due(store, notifiers, clock)
    assert console.delivered_keys() == ["a", "b"]
    assert (n8n.delivered_keys(), n8n.calls) == ([], 1)  # b is not tried before a
    assert [(f.key, f.channel, f.error, f.gave_up) for f in report.failures] == [
        ("a", "n8n", "HTTP 503", False)
    ]

    clock.advance(1.9)
    assert deliver_due(store, notifiers, clock).failures == ()  # a's retry is not due yet
    assert n8n.calls == 1
    clock.advance(0.1)  # 2 s after the first attempt
    deliver_due(store, notifiers, clock)
    assert n8n.calls == 2  # failed again: next try 4 s later
    clock.advance(4)
    deliver_due(store, notifiers, clock)
    assert n8n.delivered_keys() == ["a", "b"]
    assert store.undelivered() == []


def test_a_rejected_message_is_given_up_and_the_next_one_goes_out() -> None:
    store = _store("s1")
    _queue(store, "s1", entry("s1", "a"), entry("s1", "b"))
    n8n = RecordingNotifier(failures=[NotifyError("HTTP 400 Bad Request", retryable=False)])
    report = deliver_due(store, {"n8n": n8n}, FakeClock(T0))
    assert n8n.delivered_keys() == ["b"]
    assert report.gave_up == 1
    (left,) = store.undelivered()
    assert (left.key, left.gave_up, left.last_error) == ("a", True, "HTTP 400 Bad Request")


def test_a_channel_without_a_notifier_is_kept_for_a_process_that_has_one() -> None:
    store = _store("s1")
    _queue(store, "s1", entry("s1", "a", "telegram"))
    report = deliver_due(store, {}, FakeClock(T0))
    (failure,) = report.failures
    assert failure.gave_up is False
    assert "no notifier for channel 'telegram'" in failure.error
    assert store.undelivered()[0].open


def test_a_notifier_that_breaks_its_contract_does_not_stop_the_others() -> None:
    class Broken:
        def send(self, notification: Notification) -> None:
            raise KeyError("oops")

    store = _store("s1", "s2")
    _queue(store, "s1", entry("s1", "a", "broken"))
    _queue(store, "s2", entry("s2", "x", "n8n"))
    n8n = RecordingNotifier()
    report = deliver_due(store, {"broken": Broken(), "n8n": n8n}, FakeClock(T0))
    assert n8n.delivered_keys() == ["x"]
    assert [(f.key, f.error) for f in report.failures] == [("a", "KeyError: 'oops'")]


def test_a_pass_starts_no_send_after_its_deadline() -> None:
    store = _store("s1", "s2", "s3")
    for sid in ("s1", "s2", "s3"):
        _queue(store, sid, entry(sid, f"k-{sid}"))
    clock = FakeClock(T0, step=timedelta(seconds=1))  # every reading of the clock takes a second
    n8n = RecordingNotifier()
    report = deliver_due(store, {"n8n": n8n}, clock, deadline=T0 + timedelta(seconds=3))
    assert report.stopped_at_deadline
    assert 0 < len(n8n.sent) < 3
    assert len(store.undelivered()) == 3 - len(n8n.sent)


@pytest.mark.parametrize("batch", [1, 2, 50])
def test_small_batches_still_deliver_everything(batch: int) -> None:
    store = _store("s1", "s2")
    for i in range(5):
        _queue(store, "s1", entry("s1", f"a{i}"))
        _queue(store, "s2", entry("s2", f"b{i}"))
    n8n = RecordingNotifier()
    deliver_due(store, {"n8n": n8n}, FakeClock(T0), batch=batch)
    assert [k for k in n8n.delivered_keys() if k.startswith("a")] == [f"a{i}" for i in range(5)]
    assert [k for k in n8n.delivered_keys() if k.startswith("b")] == [f"b{i}" for i in range(5)]


def test_a_concurrent_sender_never_sends_what_another_has_in_flight() -> None:
    store = _store("s1")
    _queue(store, "s1", entry("s1", "a"), entry("s1", "b"))
    clock = FakeClock(T0)
    other = RecordingNotifier()
    inner: list[int] = []

    class Racing:
        """While sending, another process runs a pass over the same outbox."""

        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, notification: Notification) -> None:
            inner.append(len(deliver_due(store, {"n8n": other}, clock).delivered))
            self.sent.append(notification.key)

    racing = Racing()
    deliver_due(store, {"n8n": racing}, clock)
    assert racing.sent == ["a", "b"]
    assert other.calls == 0  # a was claimed, and b waits behind a: the other sender sent nothing
    assert inner == [0, 0]
    assert store.undelivered() == []
