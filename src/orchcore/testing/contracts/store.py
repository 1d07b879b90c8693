"""The Store contract: every promise of ``orchcore.ports.Store``, as tests any adapter can run.

Use it from your own tests::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def make_store(self) -> StoreFactory:
            return MyStore  # any zero-argument callable returning a fresh, empty store

Stores the contract makes are closed by the contract; a factory may also clean
up after the test (a generator fixture) if its stores hold files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orchcore.errors import IllegalTransition, NotFound, SessionBusy
from orchcore.ports.store import Store
from orchcore.records import (
    Attempt,
    AttemptProcess,
    Event,
    EventKind,
    Mutation,
    Outcome,
    Session,
    SessionSummary,
    Snapshot,
    TaskRun,
)
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.contracts.outbox import OutboxContract
from orchcore.testing.strategies import events, plans, sessions, task_runs

StoreFactory = Callable[[], Store]

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)


class ChangeFailed(Exception):
    """Raised by a change on purpose, to check that the store writes nothing."""


@contextlib.contextmanager
def _opened(make_store: StoreFactory) -> Iterator[Store]:
    store = make_store()
    try:
        yield store
    finally:
        store.close()


def _plan(task_ids: Sequence[str] = ("1", "2", "3")) -> Plan:
    return Plan("today.md", tuple(Task(t, f"Task {t}", line=10 * i + 1) for i, t in enumerate(task_ids)))


def _session(session_id: str = "s1", created_at: datetime = T0) -> Session:
    return Session(session_id, "today.md", SessionState.PLANNED, created_at, created_at)


def _event(n: int, task_id: str | None = None) -> Event:
    return Event(EventKind.AGENT, T0 + timedelta(seconds=n), task_id=task_id, data={"n": n})


def _create(
    store: Store, session_id: str = "s1", *, created_at: datetime = T0, first_events: Sequence[Event] = ()
) -> Snapshot:
    plan = _plan()
    store.create(_session(session_id, created_at), plan, [TaskRun(t) for t in plan.ids], first_events)
    return store.load(session_id)


def _numbered(new_events: Sequence[Event], after: int) -> list[Event]:
    return [attrs.evolve(e, seq=after + i) for i, e in enumerate(new_events, start=1)]


def _must_not_run(snapshot: Snapshot) -> Mutation:
    raise AssertionError(f"change called for an unknown session: {snapshot.session.id}")


_UNKNOWN_SESSION_CALLS: dict[str, Callable[[Store], object]] = {
    "load": lambda store: store.load("nope"),
    "session": lambda store: store.session("nope"),
    "transact": lambda store: store.transact("nope", _must_not_run),
    "append_events": lambda store: store.append_events("nope", [_event(1)]),
    "events": lambda store: store.events("nope"),
    "events of some kinds": lambda store: store.events("nope", kinds={EventKind.SAFETY}),
    "acquire_lease": lambda store: store.acquire_lease("nope", "A"),
}


def _failures() -> list[BaseException]:
    return [
        ChangeFailed("on purpose"),
        ValueError("a library-looking error from the change"),
        IllegalTransition("session s1", "planned", "approve", ["start"]),
    ]


class StoreContract(OutboxContract):
    """Subclass as ``TestMyStore(StoreContract)`` and override ``make_store``.

    The outbox promises are tested by the mixed-in :class:`OutboxContract`.
    """

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        """A zero-argument factory; every call returns a fresh, empty store."""
        raise NotImplementedError("override make_store to return a factory of fresh, empty stores")

    # -- create / load ------------------------------------------------------------

    def test_create_then_load_round_trips_exactly(self, make_store: StoreFactory) -> None:
        @settings(deadline=None)
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            plan = data.draw(plans(), label="plan")
            session = data.draw(sessions(task_ids=plan.ids), label="session")
            runs = [data.draw(task_runs(t), label=f"run {t}") for t in plan.ids]
            first = data.draw(st.lists(events(plan.ids), max_size=3), label="events")
            with _opened(make_store) as store:
                store.create(session, plan, runs, first)
                snap = store.load(session.id)
                assert snap.session == attrs.evolve(session, version=1)
                assert snap.plan == plan
                assert [t.line for t in snap.plan.tasks] == [t.line for t in plan.tasks]
                assert dict(snap.runs) == {r.task_id: r for r in runs}
                assert store.session(session.id) == snap.session
                assert store.events(session.id) == _numbered(first, 0)

        check()

    @pytest.mark.parametrize("operation", sorted(_UNKNOWN_SESSION_CALLS))
    def test_unknown_session_raises_not_found(self, make_store: StoreFactory, operation: str) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            with pytest.raises(NotFound):
                _UNKNOWN_SESSION_CALLS[operation](store)

    def test_attempt_costs_round_trip_exactly(self, make_store: StoreFactory) -> None:
        costs = [Decimal("0.013280"), Decimal("12.5"), Decimal(0), Decimal("0.000001"), None]
        attempts = tuple(
            Attempt(n, T0, T0, Outcome.FAILED, 1, cost_usd=c, input_tokens=10, output_tokens=2)
            for n, c in enumerate(costs, start=1)
        )
        with _opened(make_store) as store:
            _create(store, "s1")
            store.transact("s1", lambda s: Mutation(runs=(attrs.evolve(s.run("1"), attempts=attempts),)))
            stored = store.load("s1").run("1").attempts
            assert [a.cost_usd for a in stored] == costs
            assert [str(a.cost_usd) for a in stored] == [str(c) for c in costs]

    def test_an_attempts_process_round_trips(self, make_store: StoreFactory) -> None:
        process = AttemptProcess(group=31337, leader_start=2**40, marker="0f" * 16)
        attempts = (Attempt(1, T0, T0, Outcome.INTERRUPTED, process=process), Attempt(2, T0))
        with _opened(make_store) as store:
            _create(store, "s1")
            store.transact("s1", lambda s: Mutation(runs=(attrs.evolve(s.run("1"), attempts=attempts),)))
            assert [a.process for a in store.load("s1").run("1").attempts] == [process, None]

    def test_a_remote_attempts_process_round_trips_with_its_host(self, make_store: StoreFactory) -> None:
        """Recorded before the remote command starts (its group not yet known), then with its group."""
        before = AttemptProcess(group=0, leader_start=0, marker="ab" * 12, host="ssh://dev@vm1:2222")
        known = attrs.evolve(before, group=4711)
        with _opened(make_store) as store:
            _create(store, "s1")
            for process in (before, known):

                def record(snap: Snapshot, process: AttemptProcess = process) -> Mutation:
                    attempt = Attempt(1, T0, process=process)
                    return Mutation(runs=(attrs.evolve(snap.run("1"), attempts=(attempt,)),))

                store.transact("s1", record)
                assert store.load("s1").run("1").attempts[0].process == process

    def test_datetimes_round_trip_timezone_aware(self, make_store: StoreFactory) -> None:
        later = T0 + timedelta(hours=1, microseconds=1)
        attempt = Attempt(1, T0, later, Outcome.SUCCEEDED, 0)
        with _opened(make_store) as store:
            _create(store, "s1", first_events=[_event(0)])
            store.transact(
                "s1",
                lambda s: Mutation(
                    session=attrs.evolve(s.session, updated_at=later),
                    runs=(attrs.evolve(s.run("1"), attempts=(attempt,)),),
                ),
            )
            snap = store.load("s1")
            (summary,) = store.sessions()
            (event,) = store.events("s1")
            stored = snap.run("1").attempts[0]
            found = [
                snap.session.created_at,
                snap.session.updated_at,
                stored.started_at,
                stored.finished_at,
                event.at,
                summary.created_at,
                summary.updated_at,
            ]
            assert found == [T0, later, T0, later, _event(0).at, T0, later]
            assert all(t is not None and t.utcoffset() == timedelta(0) for t in found)

    # -- transact -------------------------------------------------------------------

    def test_transact_applies_session_runs_and_events_together_and_bumps_version_by_one(
        self, make_store: StoreFactory
    ) -> None:
        @settings(deadline=None)
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            with _opened(make_store) as store:
                before = _create(store, "s1", first_events=[_event(0)])
                new_session = data.draw(st.none() | sessions("s1", before.plan.ids), label="session")
                changed = data.draw(st.lists(st.sampled_from(before.plan.ids), unique=True), label="changed")
                runs = tuple(data.draw(task_runs(t), label=f"run {t}") for t in changed)
                new_events = tuple(data.draw(st.lists(events(before.plan.ids), max_size=3), label="events"))
                mutation = Mutation(new_session, runs, new_events)
                seen: list[Snapshot] = []

                def change(current: Snapshot) -> Mutation:
                    seen.append(current)
                    return mutation

                after = store.transact("s1", change)
                assert seen == [before]
                if mutation == Mutation():
                    assert after == before
                    return
                expected_runs = {**before.runs, **{r.task_id: r for r in runs}}
                expected_session = attrs.evolve(new_session or before.session, version=2)
                assert after == Snapshot(expected_session, before.plan, expected_runs)
                assert store.load("s1") == after
                assert store.events("s1") == _numbered([_event(0), *new_events], 0)

        check()

    def test_transact_with_only_events_still_bumps_version_by_one(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            before = _create(store, "s1")
            after = store.transact("s1", lambda s: Mutation(events=(_event(1),)))
            assert after.session == attrs.evolve(before.session, version=before.session.version + 1)
            assert after.runs == before.runs
            assert store.load("s1") == after

    @pytest.mark.parametrize("failure", _failures(), ids=lambda e: type(e).__name__)
    def test_change_that_raises_writes_nothing_and_propagates_unchanged(
        self, make_store: StoreFactory, failure: BaseException
    ) -> None:
        def change(current: Snapshot) -> Mutation:
            raise failure

        with _opened(make_store) as store:
            before = _create(store, "s1", first_events=[_event(0)])
            with pytest.raises(type(failure)) as raised:
                store.transact("s1", change)
            assert raised.value is failure
            assert store.load("s1") == before
            assert store.events("s1") == _numbered([_event(0)], 0)
            # ...and the store is still usable: nothing was left half-open.
            after = store.transact("s1", lambda s: Mutation(events=(_event(1),)))
            assert after.session.version == before.session.version + 1

    def test_empty_mutation_writes_nothing(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            before = _create(store, "s1", first_events=[_event(0)])
            assert store.transact("s1", lambda s: Mutation()) == before
            assert store.load("s1") == before
            assert store.events("s1") == _numbered([_event(0)], 0)

    # -- events ------------------------------------------------------------------------

    def test_event_seq_starts_at_one_and_grows_by_one_per_session(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1", first_events=[_event(1), _event(2)])
            _create(store, "s2", first_events=[_event(1)])
            store.transact("s1", lambda s: Mutation(events=(_event(3), _event(4))))
            store.append_events("s1", [])
            store.append_events("s1", [_event(5), _event(6), _event(7)])
            store.append_events("s2", [_event(2), _event(3)])
            assert [e.seq for e in store.events("s1")] == [1, 2, 3, 4, 5, 6, 7]
            assert store.events("s1") == _numbered([_event(n) for n in range(1, 8)], 0)
            assert [e.seq for e in store.events("s2")] == [1, 2, 3]

    def test_events_pages_by_after_and_limit(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1", first_events=[_event(n) for n in range(4)])
            store.append_events("s1", [_event(n, task_id="1") for n in range(4, 10)])
            everything = store.events("s1")
            assert [e.seq for e in everything] == list(range(1, 11))
            for after in range(12):
                for limit in (None, 0, 1, 3, 20):
                    expected = everything[after:] if limit is None else everything[after:][:limit]
                    assert store.events("s1", after, limit) == expected, (after, limit)

    def test_events_of_some_kinds_are_those_events_in_order_paged_among_them(
        self, make_store: StoreFactory
    ) -> None:
        kinds = [EventKind.AGENT, EventKind.SAFETY, EventKind.SANDBOX, EventKind.AGENT, EventKind.SUPERVISION]
        mixed = [Event(kinds[n % 5], T0 + timedelta(seconds=n), data={"n": n}) for n in range(15)]
        with _opened(make_store) as store:
            _create(store, "s1", first_events=mixed[:5])
            _create(store, "s2", first_events=mixed[:5])
            store.append_events("s1", mixed[5:])
            everything = store.events("s1")
            for wanted in ({EventKind.SAFETY}, {EventKind.SANDBOX, EventKind.SUPERVISION}, set(EventKind)):
                among = [e for e in everything if e.kind in wanted]
                assert store.events("s1", kinds=wanted) == among
                assert store.events("s1", kinds=frozenset(wanted)) == among
                for after in (0, 2, 7, 15):
                    for limit in (None, 0, 1, 2):
                        from_after = [e for e in among if e.seq > after]
                        expected = from_after if limit is None else from_after[:limit]
                        assert store.events("s1", after, limit, kinds=wanted) == expected, (wanted, after)
            assert store.events("s1", kinds=()) == []
            assert store.events("s1", kinds={EventKind.QUESTION}) == []
            assert store.events("s2", kinds={EventKind.SAFETY}) == [
                e for e in everything[:5] if e.kind is EventKind.SAFETY
            ]

    def test_events_of_a_session_without_events_is_empty(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            assert store.events("s1") == []

    # -- sessions ----------------------------------------------------------------------

    def test_sessions_lists_newest_first(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            assert store.sessions() == []
            for session_id, hours in [("b", 1), ("a", 0), ("c", 2)]:
                _create(store, session_id, created_at=T0 + timedelta(hours=hours))
            assert store.sessions() == [
                SessionSummary(
                    session_id,
                    "today.md",
                    SessionState.PLANNED,
                    T0 + timedelta(hours=h),
                    T0 + timedelta(hours=h),
                )
                for session_id, h in [("c", 2), ("b", 1), ("a", 0)]
            ]

    # -- leases ------------------------------------------------------------------------

    def test_attempts_since_is_the_ledger_across_sessions(self, make_store: StoreFactory) -> None:
        def tried(task_id: str, *started: tuple[int, str | None]) -> TaskRun:
            attempts = tuple(
                Attempt(
                    number=i + 1,
                    started_at=T0 + timedelta(hours=h),
                    cost_usd=None if c is None else Decimal(c),
                )
                for i, (h, c) in enumerate(started)
            )
            return TaskRun(task_id, attempts=attempts)

        with _opened(make_store) as store:
            _create(store, "s1")
            _create(store, "s2", created_at=T0 + timedelta(minutes=1))
            store.transact(
                "s1", lambda s: Mutation(runs=(tried("1", (-30, "9.99"), (1, "0.10")), tried("2", (3, None))))
            )
            store.transact("s2", lambda s: Mutation(runs=(tried("1", (2, "0.000001")),)))
            ledger = store.attempts_since(T0)
            assert [(r.session_id, r.task_id, r.attempt.number, r.attempt.cost_usd) for r in ledger] == [
                ("s1", "1", 2, Decimal("0.10")),
                ("s2", "1", 1, Decimal("0.000001")),
                ("s1", "2", 1, None),
            ]
            assert store.attempts_since(T0 + timedelta(days=1)) == []

    def test_lease_is_exclusive_until_its_holder_releases_it(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            assert store.lease_holder("s1") is None
            store.acquire_lease("s1", "A")
            assert store.lease_holder("s1") == "A"
            with pytest.raises(SessionBusy):
                store.acquire_lease("s1", "B")
            store.release_lease("s1", "B")  # not B's to give up: nothing happens
            assert store.lease_holder("s1") == "A"
            store.release_lease("s1", "A")
            assert store.lease_holder("s1") is None
            store.acquire_lease("s1", "B")
            assert store.lease_holder("s1") == "B"
            store.release_lease("s1", "B")

    def test_leases_are_per_session(self, make_store: StoreFactory) -> None:
        with _opened(make_store) as store:
            _create(store, "s1")
            _create(store, "s2")
            store.acquire_lease("s1", "A")
            store.acquire_lease("s2", "B")
            assert (store.lease_holder("s1"), store.lease_holder("s2")) == ("A", "B")
            store.release_lease("s1", "A")
            store.release_lease("s2", "B")

    # -- everything at once ------------------------------------------------------------

    def test_store_agrees_with_a_dict_model_over_random_operations(self, make_store: StoreFactory) -> None:
        class Machine(StoreModelMachine):
            def __init__(self) -> None:
                super().__init__(make_store)

        run_state_machine_as_test(Machine, settings=settings(deadline=None, stateful_step_count=15))


@attrs.define
class _ModelSession:
    snapshot: Snapshot
    events: list[Event]


class StoreModelMachine(RuleBasedStateMachine):
    """Random creates, transactions and appends on a store and on a dict; both must agree."""

    def __init__(self, make_store: StoreFactory) -> None:
        super().__init__()
        self.store = make_store()
        self.model: dict[str, _ModelSession] = {}

    def _pick(self, data: st.DataObject) -> _ModelSession:
        session_id = data.draw(st.sampled_from(sorted(self.model)), label="session")
        return self.model[session_id]

    @initialize(data=st.data())
    def create_first(self, data: st.DataObject) -> None:
        self.create(data)

    @precondition(lambda self: len(self.model) < 3)
    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        session_id = f"s{len(self.model) + 1}"
        plan = data.draw(plans(max_tasks=4), label="plan")
        session = data.draw(sessions(session_id, plan.ids), label="session")
        runs = [data.draw(task_runs(t, max_attempts=2), label=f"run {t}") for t in plan.ids]
        first = data.draw(st.lists(events(plan.ids), max_size=2), label="events")
        self.store.create(session, plan, runs, first)
        snapshot = Snapshot(attrs.evolve(session, version=1), plan, {r.task_id: r for r in runs})
        self.model[session_id] = _ModelSession(snapshot, _numbered(first, 0))

    @rule(data=st.data())
    def transact(self, data: st.DataObject) -> None:
        entry = self._pick(data)
        before = entry.snapshot
        session_id = before.session.id
        new_session = data.draw(sessions(session_id, before.plan.ids)) if data.draw(st.booleans()) else None
        changed = data.draw(st.lists(st.sampled_from(before.plan.ids), max_size=3), label="changed")
        runs = tuple(data.draw(task_runs(t, max_attempts=2), label=f"run {t}") for t in changed)
        new_events = tuple(data.draw(st.lists(events(before.plan.ids), max_size=3), label="events"))
        mutation = Mutation(new_session, runs, new_events)
        seen: list[Snapshot] = []

        def change(current: Snapshot) -> Mutation:
            seen.append(current)
            return mutation

        after = self.store.transact(session_id, change)
        assert seen == [before], "change must see the freshest state"
        if mutation != Mutation():
            session = attrs.evolve(new_session or before.session, version=before.session.version + 1)
            entry.snapshot = Snapshot(session, before.plan, {**before.runs, **{r.task_id: r for r in runs}})
            entry.events += _numbered(new_events, len(entry.events))
        assert after == entry.snapshot

    @rule(data=st.data())
    def transact_that_fails(self, data: st.DataObject) -> None:
        entry = self._pick(data)

        def change(current: Snapshot) -> Mutation:
            raise ChangeFailed(current.session.id)

        with pytest.raises(ChangeFailed):
            self.store.transact(entry.snapshot.session.id, change)

    @rule(data=st.data())
    def append_events(self, data: st.DataObject) -> None:
        entry = self._pick(data)
        new_events = data.draw(st.lists(events(entry.snapshot.plan.ids), max_size=3), label="events")
        self.store.append_events(entry.snapshot.session.id, new_events)
        entry.events += _numbered(new_events, len(entry.events))

    @rule(data=st.data())
    def read_events(self, data: st.DataObject) -> None:
        entry = self._pick(data)
        after = data.draw(st.integers(min_value=0, max_value=len(entry.events) + 1), label="after")
        limit = data.draw(st.none() | st.integers(min_value=0, max_value=4), label="limit")
        expected = entry.events[after:] if limit is None else entry.events[after:][:limit]
        assert self.store.events(entry.snapshot.session.id, after, limit) == expected
        kinds = data.draw(st.frozensets(st.sampled_from(EventKind), max_size=3), label="kinds")
        among = [e for e in entry.events[after:] if e.kind in kinds]
        expected = among if limit is None else among[:limit]
        assert self.store.events(entry.snapshot.session.id, after, limit, kinds=kinds) == expected

    @invariant()
    def store_matches_model(self) -> None:
        for session_id, entry in self.model.items():
            assert self.store.load(session_id) == entry.snapshot
            assert self.store.session(session_id) == entry.snapshot.session
        listing = self.store.sessions()
        assert sorted(s.id for s in listing) == sorted(self.model)
        assert all(a.created_at >= b.created_at for a, b in pairwise(listing)), "newest first"
        for summary in listing:
            s = self.model[summary.id].snapshot.session
            assert summary == SessionSummary(s.id, s.source, s.state, s.created_at, s.updated_at)

    @invariant()
    def events_match_model(self) -> None:
        for session_id, entry in self.model.items():
            assert self.store.events(session_id) == entry.events

    def teardown(self) -> None:
        self.store.close()


__all__ = ["ChangeFailed", "StoreContract", "StoreFactory", "StoreModelMachine"]
