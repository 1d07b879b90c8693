"""The warm-up imports what it is given once the process is idle, never while it is busy, and
nothing once its block has ended (the CPU clock is a fake: the test decides what "busy" is)."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from apps.warm_up import BUSY_SHARE, WINDOW_S, call_off, warming


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module nobody has imported yet."""
    name = f"warm_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


class FakeCpu:
    """CPU seconds that grow by ``share`` of the wall time: 1.0 is a process using one core."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return (time.monotonic() - self.start) * self.share


def wait_for(predicate: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_an_idle_process_imports_the_modules(probe: str) -> None:
    with warming([probe], cpu_time=FakeCpu(0.0)) as warm:
        assert wait_for(lambda: probe in sys.modules)
    assert warm.imported == [probe]


def test_a_busy_process_imports_nothing_and_the_block_ends_at_once(probe: str) -> None:
    with warming([probe], cpu_time=FakeCpu(1.0)) as warm:
        time.sleep(WINDOW_S * 8)
        assert probe not in sys.modules
        ended = time.monotonic()
    assert time.monotonic() - ended < WINDOW_S * 4  # called off, not waited out
    assert probe not in sys.modules
    assert warm.imported == []


def test_just_under_a_quarter_of_a_core_is_idle(probe: str) -> None:
    with warming([probe], cpu_time=FakeCpu(BUSY_SHARE * 0.5)):
        assert wait_for(lambda: probe in sys.modules)


def test_a_module_that_is_not_installed_is_skipped_and_the_rest_imported(probe: str) -> None:
    missing = f"not_installed_{uuid.uuid4().hex}"
    with warming([missing, probe], cpu_time=FakeCpu(0.0)) as warm:
        assert wait_for(lambda: probe in sys.modules)
    assert warm.imported == [probe]


def test_call_off_stops_a_warm_up_before_it_imports_and_waits_for_it(probe: str) -> None:
    # the session's end: the report then imports on its own, with no second thread importing
    busy = FakeCpu(1.0)
    with warming([probe], cpu_time=busy) as warm:
        call_off()
        assert not warm.thread.is_alive()
        busy.share = 0.0  # idle now: a warm-up called off stays off
        time.sleep(WINDOW_S * 4)
    assert probe not in sys.modules
    assert warm.imported == []
