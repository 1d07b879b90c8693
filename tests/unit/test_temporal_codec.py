"""What crosses Temporal (workflow input, activity results, queries) comes back as it went:
records to JSON text and back, for any plan, session, runs, events and notifications."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("temporalio", reason="the `temporal` extra is not installed")

from adapters.temporal.codec import SessionConfig, dump, load, snapshot_in, snapshot_out
from orchcore.budget import BudgetPolicy
from orchcore.records import Event, Mutation, OutboxEntry, Snapshot
from orchcore.runtable import RunTable
from orchcore.testing import strategies as s


def through_json(data: Any) -> Any:
    return json.loads(json.dumps(data))  # what the payload converter does to it


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    plan = draw(s.plans())
    session = draw(s.sessions(task_ids=plan.ids))
    runs = RunTable(draw(s.task_runs(t)) for t in plan.ids)
    return Snapshot(session, plan, runs)


def test_snapshots_round_trip_through_json() -> None:
    @given(snapshots())
    def check(snap: Snapshot) -> None:
        back = snapshot_in(through_json(snapshot_out(snap)))
        assert back.session == snap.session
        assert back.plan == snap.plan
        assert dict(back.runs) == dict(snap.runs)

    check()


def test_events_and_outbox_entries_round_trip_through_json() -> None:
    @given(st.lists(s.events(("1", "2"))), s.outbox_entries("sess", "sess:1:0:task_failed", "n8n"))
    def check(events: list[Event], entry: OutboxEntry) -> None:
        mutation = Mutation(events=tuple(events), outbox=(entry,))
        assert load(through_json(dump(mutation)), Mutation) == mutation

    check()


def test_a_session_config_keeps_its_time_zone_and_money() -> None:
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    config = SessionConfig(budget=BudgetPolicy(daily_limit_usd=Decimal("12.50"), tz=ZoneInfo("Europe/Paris")))
    back = load(through_json(dump(config)), SessionConfig)
    assert back == config
    assert (
        back.budget.day_start(
            back.budget.next_day(__import__("datetime").datetime(2026, 3, 29, 12, tzinfo=ZoneInfo("UTC")))
        ).hour
        == 22
    )
