"""The Notifier contract: what every notifier must do, whatever it talks to.

Your factory wires a notifier to a stand-in receiver for a named scenario and
says what the receiver showed::

    class TestMyNotifier(NotifierContract):
        @pytest.fixture
        def make_notifier(self) -> Iterator[NotifierFactory]:
            def make(scenario: str) -> NotifierRig:
                ...  # start a stand-in receiver behaving as the scenario says
                return NotifierRig(notifier, shown=lambda: receiver.keys_shown())
            yield make
            ...  # stop the receivers

Scenarios: ``up`` (the receiver accepts), ``down`` (it cannot be reached or fails
in a way that may pass: refused connection, 5xx), ``rejecting`` (it refuses the
message for good, e.g. a bad token; call ``pytest.skip`` if your medium has no
such answer). ``shown`` lists the keys of the messages the receiver showed a
human, once per showing, in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from orchcore.errors import NotifyError
from orchcore.ports.notifier import Notification, NotificationKind, Notifier

SCENARIOS = ("up", "down", "rejecting")
GRACE_S = 15.0  # a send must end within its own timeout; no notifier may hang the sender

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@attrs.frozen
class NotifierRig:
    """A notifier wired to a stand-in receiver, and what that receiver showed."""

    notifier: Notifier
    shown: Callable[[], Sequence[str]]
    idempotent: bool = True  # the same key sent twice is shown once (the medium or the notifier dedupes)


NotifierFactory = Callable[[str], NotifierRig]


def notification(key: str = "s1:3:0:task_failed", **changes: Any) -> Notification:
    """A well-formed notification, as orchcore.notify makes them."""
    base = Notification(
        key=key,
        session_id="s1",
        kind=NotificationKind.TASK_FAILED,
        title="Task 3 failed: exit code 1",
        text='Task 3 "Users table" failed in 12.5 s, attempt 1 (session s1 (today.md)).\ntests failed',
        created_at=T0,
        task_id="3",
        actions=("logs 3", "retry 3", "skip 3"),
        data={"event": "task_finished", "exit_code": 1, "state": "failed", "attempt": 1},
    )
    return attrs.evolve(base, **changes)


def _awkward() -> list[Notification]:
    """One of every kind, with text that trips up escaping and length limits."""
    texts = [
        "*bold* _italic_ `code` [link](http://x) <b>html</b> & 100% #tag",
        "ünïcødé — 日本語 — emoji 🚀 — RTL עברית",
        "line one\nline two\n\n  indented\ttab",
        "x" * 5000,
        "",
    ]
    return [
        notification(
            f"s1:{i + 10}:0:{kind.value}",
            kind=kind,
            title=f"{kind.value}: {texts[i % len(texts)][:60]}",
            text=texts[i % len(texts)],
            task_id=None if i % 3 == 0 else str(i),
            actions=() if i % 2 else ('answer "..."', f"approve {i}"),
        )
        for i, kind in enumerate(NotificationKind)
    ]


class NotifierContract:
    """Subclass as ``TestMyNotifier(NotifierContract)`` and override ``make_notifier``."""

    @pytest.fixture
    def make_notifier(self) -> NotifierFactory:
        msg = "override make_notifier to return a factory (scenario) -> NotifierRig"
        raise NotImplementedError(msg)

    def test_a_well_formed_notification_is_shown(self, make_notifier: NotifierFactory) -> None:
        rig = make_notifier("up")
        rig.notifier.send(notification())
        assert list(rig.shown()) == ["s1:3:0:task_failed"]

    def test_every_kind_and_awkward_text_is_shown_in_order(self, make_notifier: NotifierFactory) -> None:
        rig = make_notifier("up")
        sent = _awkward()
        for n in sent:
            rig.notifier.send(n)
        shown = list(rig.shown())
        assert [k for k in shown if k in {n.key for n in sent}] == [n.key for n in sent]

    def test_the_same_key_sent_again_is_accepted_and_shown_once_where_possible(
        self, make_notifier: NotifierFactory
    ) -> None:
        rig = make_notifier("up")
        rig.notifier.send(notification("s1:4:0:task_completed"))
        rig.notifier.send(notification("s1:4:0:task_completed"))  # a retry after a lost answer
        shown = list(rig.shown())
        assert shown.count("s1:4:0:task_completed") == (1 if rig.idempotent else 2)

    def test_a_receiver_that_is_down_gives_a_retryable_error_in_bounded_time(
        self, make_notifier: NotifierFactory
    ) -> None:
        rig = make_notifier("down")
        start = time.monotonic()
        with pytest.raises(NotifyError) as raised:
            rig.notifier.send(notification())
        assert raised.value.retryable is True
        assert str(raised.value)
        assert time.monotonic() - start < GRACE_S
        assert list(rig.shown()) == []

    def test_a_receiver_that_rejects_gives_a_final_error(self, make_notifier: NotifierFactory) -> None:
        rig = make_notifier("rejecting")
        with pytest.raises(NotifyError) as raised:
            rig.notifier.send(notification())
        assert raised.value.retryable is False
        assert list(rig.shown()) == []


__all__ = ["SCENARIOS", "NotifierContract", "NotifierFactory", "NotifierRig", "notification"]
