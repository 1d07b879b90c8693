import itertools
import select
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.store import InMemoryStore
from adapters.sqlite import SqliteStore
from adapters.sqlite._schema import SCHEMA_VERSION
from orchcore.errors import SessionBusy
from orchcore.records import Attempt, AttemptProcess, Event, EventKind, Mutation, Session, Snapshot, TaskRun
from orchcore.state import SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.contracts import StoreContract, StoreFactory
from orchcore.testing.contracts.outbox import entry as outbox_entry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def make_store(self) -> StoreFactory:
        return InMemoryStore


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[StoreFactory]:
        counter = itertools.count()
        made: list[SqliteStore] = []

        def make() -> SqliteStore:
            store = SqliteStore(str(tmp_path / f"store-{next(counter)}.db"))
            made.append(store)
            return store

        yield make
        for store in made:
            store.close()


def _create(store: SqliteStore, session_id: str = "s1") -> None:
    plan = Plan("today.md", (Task("1", "First"), Task("2", "Second", depends_on=("1",))))
    session = Session(session_id, "today.md", SessionState.PLANNED, NOW, NOW)
    store.create(session, plan, [TaskRun(t) for t in plan.ids], [Event(EventKind.SESSION_CREATED, NOW)])


def test_sqlite_data_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "dir" / "orch.db")
    store = SqliteStore(path)
    _create(store)
    store.transact(
        "s1",
        lambda s: Mutation(
            runs=(TaskRun("1", TaskState.COMPLETED, approved=True),),
            events=(Event(EventKind.TASK_FINISHED, NOW, task_id="1", data={"ok": True}),),
        ),
    )
    store.append_events("s1", [Event(EventKind.AGENT, NOW, task_id="1", attempt=1, data={"text": "hi"})])
    snapshot, events, listing = store.load("s1"), store.events("s1"), store.sessions()
    store.close()

    reopened = SqliteStore(path)
    try:
        assert reopened.load("s1") == snapshot
        assert reopened.events("s1") == events
        assert reopened.sessions() == listing
        assert snapshot.session.version == 2
    finally:
        reopened.close()


_CHILD = """
import sys
from adapters.sqlite import SqliteStore
from adapters.sqlite._schema import SCHEMA_VERSION

store = SqliteStore(sys.argv[1])
store.acquire_lease(sys.argv[2], "child-engine")
print("locked", flush=True)
sys.stdin.read()  # hold the lease until killed
"""


def _read_line(child: subprocess.Popen[str], timeout_s: float) -> str:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout_s)
    assert ready, f"the child printed nothing within {timeout_s} s"
    return child.stdout.readline().strip()


def test_sqlite_lease_of_a_process_killed_with_sigkill_is_free(tmp_path: Path) -> None:
    path = str(tmp_path / "orch.db")
    store = SqliteStore(path)
    _create(store)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, path, "s1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert _read_line(child, timeout_s=30) == "locked"
        assert store.lease_holder("s1") == "child-engine"
        with pytest.raises(SessionBusy, match=rf"driven by child-engine \(pid {child.pid}\)"):
            store.acquire_lease("s1", "parent-engine")

        child.kill()  # SIGKILL: no cleanup runs in the child
        child.wait(timeout=30)

        deadline = time.monotonic() + 10
        while store.lease_holder("s1") is not None:  # the kernel frees the lock with the process
            assert time.monotonic() < deadline, "the dead child still holds the lease"
            time.sleep(0.01)
        store.acquire_lease("s1", "parent-engine")
        assert store.lease_holder("s1") == "parent-engine"
        store.release_lease("s1", "parent-engine")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.close()
        child.stdout.close()
        store.close()


def test_a_change_by_another_process_is_never_hidden_by_the_snapshot_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    engine, cli = SqliteStore(path), SqliteStore(path)  # as two processes would open the file
    try:
        plan = Plan("today.md", (Task("1", "One"), Task("2", "Two")))
        engine.create(
            Session("s1", "today.md", SessionState.RUNNING, NOW, NOW), plan, [TaskRun("1"), TaskRun("2")], []
        )
        assert engine.load("s1").run("1").state is TaskState.PENDING  # the engine's cache now holds version 1
        cli.transact("s1", lambda s: Mutation(runs=(attrs.evolve(s.run("1"), state=TaskState.SKIPPED),)))
        seen: list[TaskState] = []

        def look(snap: Snapshot) -> Mutation:
            seen.append(snap.run("1").state)
            return Mutation(runs=(attrs.evolve(snap.run("2"), state=TaskState.RUNNING),))

        after = engine.transact("s1", look)
        assert seen == [TaskState.SKIPPED]
        assert (after.run("1").state, after.run("2").state, after.session.version) == (
            TaskState.SKIPPED,
            TaskState.RUNNING,
            3,
        )
        assert cli.load("s1").run("2").state is TaskState.RUNNING
    finally:
        engine.close()
        cli.close()


def test_a_database_from_schema_1_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SqliteStore(str(path))
    plan = Plan("today.md", (Task("1", "One"),))
    store.create(Session("s1", "today.md", SessionState.RUNNING, NOW, NOW), plan, [TaskRun("1")], [])
    store.close()
    with sqlite3.connect(path) as conn:  # what orchcore 0.1 wrote: no retry_at column
        conn.execute("ALTER TABLE attempts DROP COLUMN retry_at")
        conn.execute("ALTER TABLE attempts DROP COLUMN process_host")  # schema 7
        for column in ("process_group", "process_start", "process_marker"):  # schema 5
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute("DROP INDEX task_runs_by_change")  # schema 6
        conn.execute("ALTER TABLE task_runs DROP COLUMN changed_in")
        conn.execute("ALTER TABLE task_runs DROP COLUMN question")
        conn.execute("ALTER TABLE task_runs DROP COLUMN answer")
        conn.execute("DROP TABLE outbox")
        conn.execute("PRAGMA user_version = 1")
    reopened = SqliteStore(str(path))
    try:
        assert reopened.load("s1").plan == plan
        retry = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
        attempt = Attempt(1, NOW, retry_at=retry)
        after = reopened.transact("s1", lambda s: Mutation(runs=(TaskRun("1", attempts=(attempt,)),)))
        assert after.run("1").attempts[0].retry_at == retry
        asked = reopened.transact(
            "s1", lambda s: Mutation(runs=(TaskRun("1", question="Why?", answer="Because."),))
        )
        assert (asked.run("1").question, asked.run("1").answer) == ("Why?", "Because.")
    finally:
        reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_database_from_schema_3_gets_an_outbox_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    store = SqliteStore(str(path))
    _create(store)
    snapshot, events = store.load("s1"), store.events("s1")
    store.close()
    with sqlite3.connect(path) as conn:  # what orchcore wrote before notifications
        conn.execute("DROP TABLE outbox")
        conn.execute("ALTER TABLE attempts DROP COLUMN process_host")  # schema 7
        for column in ("process_group", "process_start", "process_marker"):  # schema 5
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute("DROP INDEX task_runs_by_change")  # schema 6
        conn.execute("ALTER TABLE task_runs DROP COLUMN changed_in")
        conn.execute("PRAGMA user_version = 3")
    reopened = SqliteStore(str(path))
    try:
        assert (reopened.load("s1"), reopened.events("s1")) == (snapshot, events)
        assert reopened.undelivered("s1") == []
        queued = outbox_entry("s1", "s1:2:0:task_completed", at=NOW)
        reopened.transact("s1", lambda s: Mutation(events=(Event(EventKind.AGENT, NOW),), outbox=(queued,)))
        assert reopened.pending_notifications(NOW, 10) == [queued]
    finally:
        reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_database_from_schema_4_gets_the_attempts_processes_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    store = SqliteStore(str(path))
    _create(store)
    running = Attempt(1, NOW)
    store.transact("s1", lambda s: Mutation(runs=(TaskRun("1", attempts=(running,)),)))
    snapshot = store.load("s1")
    store.close()
    with sqlite3.connect(path) as conn:  # what orchcore wrote before it recorded agents' processes
        conn.execute("ALTER TABLE attempts DROP COLUMN process_host")  # schema 7
        for column in ("process_group", "process_start", "process_marker"):  # schema 5
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute("DROP INDEX task_runs_by_change")  # schema 6
        conn.execute("ALTER TABLE task_runs DROP COLUMN changed_in")
        conn.execute("PRAGMA user_version = 4")
    reopened = SqliteStore(str(path))
    try:
        assert reopened.load("s1") == snapshot
        process = AttemptProcess(group=4242, leader_start=987654, marker="f00")
        with_process = attrs.evolve(running, process=process)
        after = reopened.transact("s1", lambda s: Mutation(runs=(TaskRun("1", attempts=(with_process,)),)))
        assert after.run("1").attempts[0].process == process
    finally:
        reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    again = SqliteStore(str(path))
    try:
        assert again.load("s1").run("1").attempts[0].process == process  # survives a reopen
    finally:
        again.close()


def test_a_database_from_schema_6_gets_the_processes_host_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    store = SqliteStore(str(path))
    _create(store)
    local = AttemptProcess(group=4242, leader_start=987654, marker="f00")
    store.transact("s1", lambda s: Mutation(runs=(TaskRun("1", attempts=(Attempt(1, NOW, process=local),)),)))
    store.close()
    with sqlite3.connect(path) as conn:  # what orchcore wrote before agents ran on other hosts
        conn.execute("ALTER TABLE attempts DROP COLUMN process_host")
        conn.execute("PRAGMA user_version = 6")
    reopened = SqliteStore(str(path))
    try:
        assert reopened.load("s1").run("1").attempts[0].process == local  # this machine's, as before
        remote = AttemptProcess(group=0, leader_start=0, marker="ab" * 12, host="ssh://dev@vm1:22")
        after = reopened.transact(
            "s1", lambda s: Mutation(runs=(TaskRun("1", attempts=(Attempt(1, NOW, process=remote),)),))
        )
        assert after.run("1").attempts[0].process == remote
    finally:
        reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_sqlite_outbox_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "orch.db")
    store = SqliteStore(path)
    _create(store)
    first, second = outbox_entry("s1", "k1", at=NOW), outbox_entry("s1", "k2", at=NOW)
    store.transact("s1", lambda s: Mutation(events=(Event(EventKind.AGENT, NOW),), outbox=(first, second)))
    later = NOW + timedelta(seconds=3)
    store.notification_failed("k1", "n8n", "HTTP 503", later, give_up=False)
    store.close()

    reopened = SqliteStore(path)
    try:
        assert reopened.pending_notifications(NOW, 10) == []
        (due,) = reopened.pending_notifications(later, 10)
        assert (due.key, due.attempts, due.last_error) == ("k1", 1, "HTTP 503")
        reopened.notification_sent("k1", "n8n", later)
        assert [e.key for e in reopened.pending_notifications(later, 10)] == ["k2"]
        assert [e.key for e in reopened.undelivered()] == ["k2"]
    finally:
        reopened.close()


def test_a_database_from_schema_5_is_migrated_and_a_cached_reader_sees_later_changes(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    store = SqliteStore(str(path))
    _create(store)
    store.transact("s1", lambda s: Mutation(runs=(attrs.evolve(s.run("1"), state=TaskState.RUNNING),)))
    snapshot = store.load("s1")
    store.close()
    with sqlite3.connect(path) as conn:  # what orchcore wrote before runs knew the version that changed them
        conn.execute("ALTER TABLE attempts DROP COLUMN process_host")  # schema 7
        conn.execute("DROP INDEX task_runs_by_change")
        conn.execute("ALTER TABLE task_runs DROP COLUMN changed_in")
        conn.execute("PRAGMA user_version = 5")
    engine, cli = SqliteStore(str(path)), SqliteStore(str(path))
    try:
        assert engine.load("s1") == snapshot  # the engine's cache now holds the migrated state
        cli.transact("s1", lambda s: Mutation(runs=(attrs.evolve(s.run("2"), state=TaskState.SKIPPED),)))
        after = engine.load("s1")
        assert (after.run("1").state, after.run("2").state) == (TaskState.RUNNING, TaskState.SKIPPED)
    finally:
        engine.close()
        cli.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_cached_reader_sees_every_change_another_process_made_since_it_last_read(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    engine, cli = SqliteStore(path), SqliteStore(path)
    try:
        ids = [str(i) for i in range(1, 151)]  # more than one chunk of runs
        plan = Plan("today.md", tuple(Task(t, f"Task {t}") for t in ids))
        session = Session("s1", "today.md", SessionState.RUNNING, NOW, NOW)
        engine.create(session, plan, [TaskRun(t) for t in ids], [])
        engine.load("s1")
        for task_id in ("3", "70", "149"):  # three transactions the engine does not see
            cli.transact(
                "s1",
                lambda s, t=task_id: Mutation(
                    runs=(attrs.evolve(s.run(t), state=TaskState.SKIPPED, attempts=(Attempt(1, NOW),)),)
                ),
            )
        cli.transact("s1", lambda s: Mutation(events=(Event(EventKind.AGENT, NOW),)))  # no run changes
        seen = engine.load("s1")
        assert seen == cli.load("s1")
        assert [t for t in ids if seen.run(t).state is TaskState.SKIPPED] == ["3", "70", "149"]
        assert seen.run("70").attempts == (Attempt(1, NOW),)
        assert seen.session.version == 5
    finally:
        engine.close()
        cli.close()


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["engine", "cli"]),
            st.lists(st.integers(min_value=1, max_value=130), max_size=3),
            st.sampled_from(list(TaskState)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_two_stores_on_one_file_always_read_what_the_other_wrote(
    steps: list[tuple[str, list[int], TaskState]],
) -> None:
    """As an engine and CLI commands in separate processes: each store's snapshot cache
    must never hide a change the other made, whatever the interleaving."""
    with tempfile.TemporaryDirectory() as root:
        path = str(Path(root) / "shared.db")
        stores = {"engine": SqliteStore(path), "cli": SqliteStore(path)}
        try:
            ids = [str(i) for i in range(1, 131)]  # three chunks of runs
            plan = Plan("today.md", tuple(Task(t, f"Task {t}") for t in ids))
            stores["engine"].create(
                Session("s1", "today.md", SessionState.RUNNING, NOW, NOW), plan, [TaskRun(t) for t in ids], []
            )
            model = {t: TaskRun(t) for t in ids}
            for n, (who, changed, state) in enumerate(steps, start=1):
                runs = tuple(
                    TaskRun(str(i), state, attempts=(Attempt(1, NOW, cost_usd=Decimal(n)),)) for i in changed
                )
                after = stores[who].transact(
                    "s1", lambda s, runs=runs: Mutation(runs=runs, events=(Event(EventKind.AGENT, NOW),))
                )
                model.update({r.task_id: r for r in runs})
                assert after.runs == model
                for store in stores.values():
                    seen = store.load("s1")
                    assert seen.runs == model
                    assert seen.session.version == n + 1
        finally:
            for store in stores.values():
                store.close()
