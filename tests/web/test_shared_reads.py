"""Status and help asked by many clients at once are answered by shared reads
(apps.web.app SHARED_READS): every client still gets its own command's answer, and none is
answered with a state older than its request, however many others are asking meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from adapters.memory.store import InMemoryStore
from apps.worker import SessionWorker
from orchcore.records import Snapshot
from tests.web.test_webhook import HEADERS, World, started


class HeldRead(InMemoryStore):
    """A store whose next read, once asked for, is held after taking its snapshot until released:
    a slow disk under a status read, at the moment an approve lands."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()

    def load(self, session_id: str) -> Snapshot:
        snap = super().load(session_id)
        if self.hold_next.is_set():
            self.hold_next.clear()
            self.holding.set()
            self.release.wait(30)
        return snap


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    w.store = HeldRead()
    w.runtime = attrs.evolve(w.runtime, store=w.store)
    w.worker = SessionWorker(w.runtime)
    w.serve()
    yield w
    w.store.release.set()
    w.close()


def in_background(
    world: World, path: str, out: list[httpx.Response], body: dict[str, Any] | None = None
) -> threading.Thread:
    def ask() -> None:
        with httpx.Client(base_url=world.url, headers=HEADERS, timeout=30) as client:
            out.append(client.post(path, json=body or {}))

    thread = threading.Thread(target=ask)
    thread.start()
    return thread


def test_a_status_sent_after_an_approve_shows_it_though_an_earlier_status_read_is_under_way(
    world: World,
) -> None:
    store = world.store
    assert isinstance(store, HeldRead)
    started(world)
    world.wait_state("waiting_approval")
    store.hold_next.set()
    earlier: list[httpx.Response] = []
    first = in_background(world, "/webhook/status", earlier)
    assert store.holding.wait(30)  # its read has the state before the approve, and is held

    approved = world.ok("/webhook/approve", {})
    assert approved["changed"]["previous_state"] == "waiting_approval"
    later: list[httpx.Response] = []
    askers = [
        in_background(world, "/webhook/status", later),
        in_background(world, "/webhook/command", later, {"command": "status"}),  # as n8n asks
    ]
    time.sleep(0.3)  # the later requests reach the server while the earlier read is held
    store.release.set()
    for t in (first, *askers):
        t.join()

    assert [r.status_code for r in (*earlier, *later)] == [200] * 3
    assert earlier[0].json()["session"]["state"] == "waiting_approval"  # asked before the approve
    for answer in later:
        assert answer.json()["session"]["state"] != "waiting_approval"
        assert "approve 1 (then: resume)" not in answer.json()["next"]


def test_concurrent_status_and_help_each_get_their_own_command_s_answer(world: World) -> None:
    started(world)
    world.wait_state("waiting_approval")
    answers: dict[str, list[str]] = {"status": [], "help": []}

    def ask(command: str) -> None:
        with httpx.Client(base_url=world.url, headers=HEADERS, timeout=30) as client:
            for _ in range(10):
                response = client.post(f"/webhook/{command}", json={})
                assert response.status_code == 200, response.text
                answers[command].append(response.json()["command"])

    askers = [threading.Thread(target=ask, args=(c,)) for c in ("status", "help") * 5]
    for a in askers:
        a.start()
    for a in askers:
        a.join()
    assert answers == {"status": ["status"] * 50, "help": ["help"] * 50}


def test_a_refused_shared_read_is_refused_for_each_client(world: World) -> None:
    results: list[tuple[int, str]] = []

    def ask() -> None:
        with httpx.Client(base_url=world.url, headers=HEADERS, timeout=30) as client:
            response = client.post("/webhook/status", json={"session": "nope"})
            results.append((response.status_code, response.json()["error"]["code"]))

    askers = [threading.Thread(target=ask) for _ in range(10)]
    for a in askers:
        a.start()
    for a in askers:
        a.join()
    assert results == [(404, "not_found")] * 10
