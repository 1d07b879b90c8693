"""A notification that keeps failing steps aside, and a dead sender's claim runs out soon
(issue 8, item 12), on both stores: in memory and a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from adapters.sqlite import SqliteStore
from apps.bootstrap import Runtime
from apps.cli.main import app
from apps.settings import Settings
from orchcore.delivery import CLAIM_S, HOLD_BACK_AFTER, DeliveryPolicy, deliver_due
from orchcore.errors import NotifyError
from orchcore.ports.notifier import Notification
from orchcore.ports.store import Store
from orchcore.records import Event, EventKind, Mutation, Session, TaskRun
from orchcore.state import SessionState
from orchcore.tasks import Plan, Task
from orchcore.testing.contracts.outbox import T0, entry
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds


@attrs.define
class RefusesOne:
    """A channel that cannot take one notification (say, a title the receiver chokes on)."""

    bad_key: str
    sent: list[str] = attrs.field(factory=list)
    tries_of_bad: int = 0

    def send(self, notification: Notification) -> None:
        if notification.key == self.bad_key:
            self.tries_of_bad += 1
            raise NotifyError("HTTP 502 Bad Gateway", retryable=True)
        self.sent.append(notification.key)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "state.db")
    plan = Plan("today.md", (Task("1", "One"),))
    opened.create(Session("s1", "today.md", SessionState.RUNNING, T0, T0), plan, [TaskRun("1")], [])
    event = Event(EventKind.TASK_FINISHED, T0, task_id="1")
    entries = (entry("s1", "a"), entry("s1", "b"), entry("s1", "c"))
    opened.transact("s1", lambda s: Mutation(events=(event,), outbox=entries))
    yield opened
    opened.close()


def test_one_failing_notification_no_longer_holds_back_the_rest(store: Store) -> None:
    clock = FakeClock(T0)
    channel = RefusesOne("a")
    for _ in range(HOLD_BACK_AFTER + 2):
        deliver_due(store, {"n8n": channel}, clock)
        clock.advance(DeliveryPolicy().delay_s(HOLD_BACK_AFTER))
    assert channel.sent == ["b", "c"]  # in order, after a failed HOLD_BACK_AFTER times
    assert channel.tries_of_bad == HOLD_BACK_AFTER  # then it is retried only at the low rate
    (held,) = store.undelivered("s1")
    assert (held.key, held.attempts, held.gave_up) == ("a", HOLD_BACK_AFTER, False)

    rt = Runtime(
        settings=Settings(),
        store=store,
        logs=MemoryLogs(),
        clock=clock,
        ids=SequentialIds(),
        agents=lambda _: ScriptedAgent(),
    )
    shown = CliRunner().invoke(app, ["notify"], obj=rt).stdout
    assert f"held back after {HOLD_BACK_AFTER} failures" in shown
    listed = CliRunner().invoke(app, ["notify", "--json"], obj=rt).stdout
    assert '"held_back": true' in listed


def test_a_killed_senders_claim_is_taken_over_after_a_short_lease(store: Store) -> None:
    clock = FakeClock(T0)
    # a sender claimed a and was killed before it could record anything
    assert store.claim_notification("a", "n8n", T0, T0 + timedelta(seconds=CLAIM_S))
    channel = RefusesOne("none")
    clock.advance(16)
    deliver_due(store, {"n8n": channel}, clock)
    assert channel.sent == ["a", "b", "c"]
