"""A polled /webhook/status reuses its last answer only while nothing it shows changed: the same
bytes while the session and its engine are as they were, a new answer after any change made
elsewhere (a command from the CLI's side of the store, an engine taking the lease)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchcore.service import resolve_session, send_command
from orchcore.state import Command
from tests.web.test_webhook import World, started


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path).serve()
    yield w
    w.close()


def status_bytes(world: World) -> bytes:
    response = world.post("/webhook/status")
    assert response.status_code == 200, response.text
    return response.content


def test_an_unchanged_status_is_the_same_answer_and_every_change_shows_at_once(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    first = status_bytes(world)
    assert status_bytes(world) == first  # nothing changed: the same answer

    sid = resolve_session(world.store, None)
    send_command(
        world.store, sid, Command.PAUSE, world.runtime.clock, source="cli"
    )  # not through the webhook
    paused = world.ok("/webhook/status")
    assert paused["session"]["state"] == "paused"
    assert paused["next"] == ["resume"]

    world.store.acquire_lease(sid, "pid 4242 on another host")  # an engine attaches
    held = world.ok("/webhook/status")
    assert held["session"]["engine"] == "pid 4242 on another host"
    world.store.release_lease(sid, "pid 4242 on another host")
    assert world.ok("/webhook/status")["session"]["engine"] is None
