"""Determinism guard: recorded session histories replay against the current workflow code.

A change to the session workflow (or to the orchcore functions it calls) that would make a
running workflow take another path on a worker's replay fails here, before it reaches a
cluster. Re-record after an intended change with ``python -m tests.temporal_support``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio", reason="the `temporal` extra is not installed")

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from adapters.temporal.runner import sandbox_runner
from adapters.temporal.session_workflow import LedgerWorkflow, SessionWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "data" / "temporal").glob("*.json"))


def replay(history: Path, *workflows: type) -> None:
    recorded = WorkflowHistory.from_json(history.stem, history.read_text())
    replayer = Replayer(workflows=list(workflows), workflow_runner=sandbox_runner())
    asyncio.run(replayer.replay_workflow(recorded))


def test_a_recorded_history_is_there_to_replay() -> None:
    assert HISTORIES, "tests/data/temporal/ holds no recorded history"


@pytest.mark.parametrize("history", HISTORIES, ids=[h.stem for h in HISTORIES])
def test_recorded_sessions_replay_on_the_current_code(history: Path) -> None:
    replay(history, SessionWorkflow, LedgerWorkflow)


@workflow.defn(name="orch.session")
class _SleepsFirst(SessionWorkflow):
    """The session workflow with one more step up front: what a careless edit looks like."""

    @workflow.run
    async def run(self, start: dict[str, Any]) -> dict[str, Any]:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


def test_a_workflow_that_takes_another_path_fails_the_replay() -> None:
    with pytest.raises(NondeterminismError):  # the guard bites: the same history, another command
        replay(HISTORIES[0], _SleepsFirst, LedgerWorkflow)
