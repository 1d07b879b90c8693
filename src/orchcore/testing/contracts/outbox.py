"""The outbox half of the Store contract: notifications committed with their transition,
due in order per session and channel, and delivery recorded idempotently.

:class:`orchcore.testing.contracts.StoreContract` includes these tests; they use the
same ``make_store`` factory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.delivery import HOLD_BACK_AFTER, held_back
from orchcore.errors import NotFound, StoreError
from orchcore.ports.notifier import Notification, NotificationKind
from orchcore.ports.store import Store
from orchcore.records import Event, EventKind, Mutation, OutboxEntry, Session, Snapshot, TaskRun
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.strategies import outbox_entries

StoreFactory = Callable[[], Store]

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)
LATER = T0 + timedelta(days=365)
FAR = datetime(2200, 1, 1, tzinfo=UTC)  # after every time the strategies draw


@contextlib.contextmanager
def _opened(make_store: StoreFactory) -> Iterator[Store]:
    store = make_store()
    try:
        yield store
    finally:
        store.close()


def _create(store: Store, session_id: str) -> None:
    plan = Plan("today.md", (Task("1", "One", line=1),))
    session = Session(session_id, "today.md", SessionState.PLANNED, T0, T0)
    store.create(session, plan, [TaskRun("1")], [])


def entry(
    session_id: str, key: str, channel: str = "n8n", *, at: datetime = T0, due: datetime | None = None
) -> OutboxEntry:
    """A fresh entry, due at ``due`` (default: when it was made)."""
    note = Notification(key, session_id, NotificationKind.TASK_COMPLETED, f"Task {key} completed", "", at)
    return OutboxEntry(note, channel, next_attempt_at=due or at)


def _commit(store: Store, session_id: str, *entries: OutboxEntry) -> Snapshot:
    """One transaction that records an event and queues ``entries`` with it."""
    event = Event(EventKind.TASK_FINISHED, T0, task_id="1", data={"state": "completed"})
    return store.transact(session_id, lambda s: Mutation(events=(event,), outbox=entries))


def _due(store: Store, now: datetime = LATER, limit: int = 100) -> list[tuple[str, str]]:
    return [(e.key, e.channel) for e in store.pending_notifications(now, limit)]


class OutboxContract:
    """Mixed into StoreContract: override ``make_store`` there."""

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("override make_store to return a factory of fresh, empty stores")

    def test_outbox_entries_round_trip_exactly(self, make_store: StoreFactory) -> None:
        @settings(deadline=None, max_examples=30)
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            with _opened(make_store) as store:
                _create(store, "s1")
                drawn = [
                    data.draw(outbox_entries("s1", f"k{i}", "chan"), label=f"entry {i}") for i in range(3)
                ]
                _commit(store, "s1", *drawn)
                assert store.undelivered("s1") == [e for e in drawn if e.delivered_at is None]
                # held-back entries are due on their own; of the rest, the first open one
                first = next((e for e in drawn if e.open and not held_back(e)), None)
                due = store.pending_notifications(FAR, 10)
                assert due == [e for e in drawn if e is first or held_back(e)]

        check()

    def test_entries_are_stored_with_their_transition_or_not_at_all(self, make_store: StoreFactory) -> None:
        def change(_: Snapshot) -> Mutation:
            raise RuntimeError("the change fails after deciding")

        with _opened(make_store) as store:
            _create(store, "s1")
            with pytest.raises(RuntimeError):
                store.transact("s1", change)
            assert store.undelivered("s1") == []
            version = store.session("s1").version
            after = _commit(store, "s1", entry("s1", "a"))
            assert after.session.version == version + 1
            assert [e.key for e in store.undelivered("s1")] == ["a"]

    def test_an_entry_is_not_due_before_its_time(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a", due=T0 + timedelta(seconds=10)))
            assert _due(store, T0 + timedelta(seconds=9)) == []
            assert _due(store, T0 + timedelta(seconds=10)) == [("a", "n8n")]

    def test_a_later_entry_waits_for_an_earlier_one_of_its_session_and_channel(
        self, make_store: StoreFactory
    ) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _create(store, "s2")
            _commit(store, "s1", entry("s1", "a"), entry("s1", "a", "console"))
            _commit(store, "s2", entry("s2", "x"))
            _commit(store, "s1", entry("s1", "b"), entry("s1", "b", "console"))
            # per session and channel, only the first open entry is due; streams are independent
            assert _due(store) == [("a", "n8n"), ("a", "console"), ("x", "n8n")]
            store.notification_failed("a", "n8n", "503", LATER + timedelta(seconds=4), give_up=False)
            assert _due(store) == [("a", "console"), ("x", "n8n")]  # b waits for a on n8n
            store.notification_sent("a", "console", LATER)
            assert _due(store) == [("x", "n8n"), ("b", "console")]
            assert _due(store, LATER + timedelta(seconds=4)) == [("a", "n8n"), ("x", "n8n"), ("b", "console")]
            store.notification_sent("a", "n8n", LATER)
            assert _due(store) == [("x", "n8n"), ("b", "n8n"), ("b", "console")]

    def test_due_entries_come_oldest_first_up_to_the_limit(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            for sid in ("s1", "s2", "s3"):
                _create(store, sid)
            _commit(store, "s3", entry("s3", "c"))
            _commit(store, "s1", entry("s1", "a"))
            _commit(store, "s2", entry("s2", "b"))
            assert _due(store, limit=2) == [("c", "n8n"), ("a", "n8n")]
            assert _due(store, limit=0) == []

    def test_a_given_up_entry_no_longer_holds_back_the_next(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"), entry("s1", "b"))
            store.notification_failed("a", "n8n", "400 Bad Request", LATER, give_up=True)
            assert _due(store) == [("b", "n8n")]
            (gave_up, waiting) = store.undelivered("s1")
            assert (gave_up.key, gave_up.gave_up, gave_up.attempts, gave_up.last_error) == (
                "a",
                True,
                1,
                "400 Bad Request",
            )
            assert (waiting.key, waiting.gave_up, waiting.attempts) == ("b", False, 0)

    def test_an_entry_that_failed_too_often_steps_aside_for_the_next(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"), entry("s1", "b"), entry("s1", "c"))
            for _ in range(HOLD_BACK_AFTER - 1):
                store.notification_failed("a", "n8n", "503", T0, give_up=False)
            assert _due(store) == [("a", "n8n")]  # still in order: b waits
            retry = LATER + timedelta(hours=1)
            store.notification_failed("a", "n8n", "503", retry, give_up=False)
            assert _due(store) == [("b", "n8n")]  # a is held back: b and then c flow
            assert _due(store, retry) == [("a", "n8n"), ("b", "n8n")]  # a is retried at its own time
            store.notification_sent("b", "n8n", LATER)
            assert _due(store) == [("c", "n8n")]
            (a, c) = store.undelivered("s1")
            assert (a.key, a.attempts, a.gave_up, c.key) == ("a", HOLD_BACK_AFTER, False, "c")

    def test_a_failure_counts_the_attempt_and_sets_the_retry_time(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"))
            store.notification_failed(
                "a", "n8n", "connection refused", T0 + timedelta(seconds=2), give_up=False
            )
            store.notification_failed("a", "n8n", "HTTP 503", T0 + timedelta(seconds=6), give_up=False)
            (stored,) = store.undelivered("s1")
            assert (stored.attempts, stored.last_error, stored.next_attempt_at, stored.open) == (
                2,
                "HTTP 503",
                T0 + timedelta(seconds=6),
                True,
            )
            assert _due(store, T0 + timedelta(seconds=5)) == []
            assert _due(store, T0 + timedelta(seconds=6)) == [("a", "n8n")]

    def test_notification_sent_is_idempotent_and_final(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"), entry("s1", "b"))
            first, second = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
            store.notification_sent("a", "n8n", first)
            store.notification_sent("a", "n8n", second)  # e.g. a pass that re-sent after a crash
            store.notification_failed("a", "n8n", "late timeout", LATER, give_up=True)  # ignored: delivered
            assert [e.key for e in store.undelivered("s1")] == ["b"]
            assert _due(store) == [("b", "n8n")]
            store.notification_sent("b", "n8n", second)
            assert store.undelivered("s1") == []
            assert store.undelivered() == []
            assert _due(store) == []

    def test_a_claimed_entry_is_sent_by_one_sender_only_until_its_claim_runs_out(
        self, make_store: StoreFactory
    ) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"), entry("s1", "b"))
            until = T0 + timedelta(minutes=2)
            assert store.claim_notification("a", "n8n", T0, until) is True
            assert store.claim_notification("a", "n8n", T0, until) is False  # another sender's turn: no
            assert _due(store, T0 + timedelta(minutes=1)) == []  # b still waits behind a
            # the claiming sender died mid-send: once the claim runs out, a is due again
            assert _due(store, until) == [("a", "n8n")]
            assert store.claim_notification("a", "n8n", until, until + timedelta(minutes=2)) is True
            store.notification_sent("a", "n8n", until)
            assert store.claim_notification("a", "n8n", LATER, LATER) is False  # delivered: nothing to take
            assert _due(store, until) == [("b", "n8n")]
            (b,) = store.undelivered("s1")
            assert (b.attempts, b.next_attempt_at) == (0, T0)
            with pytest.raises(NotFound):
                store.claim_notification("zzz", "n8n", T0, until)

    def test_a_claim_does_not_take_an_entry_that_is_not_due(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a", due=T0 + timedelta(seconds=10)), entry("s1", "b"))
            store.notification_failed("b", "n8n", "gone", T0, give_up=True)
            assert store.claim_notification("a", "n8n", T0, LATER) is False
            assert store.claim_notification("b", "n8n", T0, LATER) is False  # given up
            assert store.claim_notification("a", "n8n", T0 + timedelta(seconds=10), LATER) is True

    def test_undelivered_covers_one_session_or_all(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _create(store, "s2")
            _commit(store, "s1", entry("s1", "a"))
            _commit(store, "s2", entry("s2", "b"))
            assert [e.key for e in store.undelivered("s2")] == ["b"]
            assert [e.key for e in store.undelivered()] == ["a", "b"]
            with pytest.raises(NotFound):
                store.undelivered("nope")

    def test_recording_delivery_of_an_unknown_entry_raises_not_found(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a"))
            with pytest.raises(NotFound):
                store.notification_sent("a", "telegram", T0)
            with pytest.raises(NotFound):
                store.notification_failed("zzz", "n8n", "x", T0, give_up=False)
            assert [(e.attempts, e.open) for e in store.undelivered("s1")] == [(0, True)]

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param([entry("s2", "a")], id="another-session"),
            pytest.param([entry("s1", "a"), entry("s1", "a")], id="duplicate-in-one-commit"),
            pytest.param([entry("s1", "old")], id="duplicate-of-a-stored-one"),
        ],
    )
    def test_a_bad_outbox_fails_the_whole_transaction(
        self, make_store: StoreFactory, bad: Sequence[OutboxEntry]
    ) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _create(store, "s2")
            before = _commit(store, "s1", entry("s1", "old"))
            events = store.events("s1")
            with pytest.raises(StoreError):
                _commit(store, "s1", *bad)
            assert store.load("s1") == before
            assert store.events("s1") == events
            assert [e.key for e in store.undelivered()] == ["old"]

    def test_the_same_key_on_two_channels_is_two_entries(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _commit(store, "s1", entry("s1", "a", "n8n"), entry("s1", "a", "telegram"))
            store.notification_sent("a", "n8n", T0)
            (left,) = store.undelivered("s1")
            assert (left.key, left.channel) == ("a", "telegram")


__all__ = ["OutboxContract", "entry"]
