"""A session the supervisor stopped for review, as the webhook API and the bots show it: the strict
published schema accepts it, and the Telegram status names the state."""

from __future__ import annotations

import json

from apps.commands import session_view
from apps.telegram.replies import STATE_MARKS
from apps.web import schema
from orchcore.state import SessionState, TaskState
from orchcore.testing import ScriptedAgent
from tests.unit.test_engine_supervised import World, said


def test_a_task_waiting_for_review_is_a_valid_session_view() -> None:
    world = World(ScriptedAgent(scripts={"1": [said("done")]}), fix=0)
    assert world.run() is SessionState.WAITING_APPROVAL
    snap = world.store.load(world.sid)
    assert snap.run("1").state is TaskState.WAITING_REVIEW
    view = json.loads(json.dumps(session_view(snap, None), default=str))
    assert schema.validate(view, schema.SESSION_VIEW, components=schema.COMPONENTS) == [], view
    assert view["gate"] == "review"
    assert view["tasks"][0]["state"] == "waiting_review"
    assert "stopped for review: rule gate-still-failing" in view["reason"]
    assert "waiting_review" in STATE_MARKS
