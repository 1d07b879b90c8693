"""Importing, while orch waits on its agents, what the end of a run will need.

A run ends by writing the day's report: its modules and their libraries (pygal and what it
loads) take ~100 ms to import, all of it after the last agent is done, where nothing else
can hide it. While agents run, orch's own process is mostly idle, so a helper thread
imports those modules then: it samples the process's CPU time and starts only once orch has
used less than a quarter of one core for two windows in a row (set-up, the first agents'
start and the recording of results come first). A run that is never idle (agents that
take milliseconds) never warms up and loses nothing: the report imports what it needs, as
before. Importing is all it does: importing these modules has no side effect.

Two threads importing the same modules at once can deadlock where the modules import each
other, so the session's end calls every warm-up off first (``call_off``): the import under way
ends, the rest is left to the report.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

log = logging.getLogger(__name__)

AT_THE_END = (
    "apps.day_report",
    "apps.day_report_render",
    "adapters.ollama.reach",
    "adapters.charts",
)
"""What writing the day's report at a session's end imports (tests/integration/test_warm_up.py
holds this to what a report really loads)."""

WINDOW_S = 0.05
QUIET_WINDOWS = 2
BUSY_SHARE = 0.25


_ACTIVE: set[_WarmUp] = set()
_ACTIVE_LOCK = threading.Lock()


class _WarmUp:
    def __init__(self, modules: Sequence[str], cpu_time: Callable[[], float]) -> None:
        self.modules = tuple(modules)
        self.cpu_time = cpu_time
        self.stop = threading.Event()
        self.imported: list[str] = []
        self.thread = threading.Thread(target=self._run, name="orch-warm-up", daemon=True)

    def _run(self) -> None:
        quiet = 0
        before = self.cpu_time()
        while quiet < QUIET_WINDOWS:
            if self.stop.wait(WINDOW_S):
                return
            now = self.cpu_time()
            quiet = quiet + 1 if now - before < BUSY_SHARE * WINDOW_S else 0
            before = now
        for name in self.modules:
            if self.stop.is_set():
                return
            try:
                importlib.import_module(name)
            except ImportError as exc:  # an extra not installed (pygal): the report says so itself
                log.debug("warm-up: %s not imported: %s", name, exc)
                continue
            self.imported.append(name)


@contextlib.contextmanager
def warming(
    modules: Sequence[str] = AT_THE_END, *, cpu_time: Callable[[], float] = time.process_time
) -> Iterator[_WarmUp]:
    """Import ``modules`` in a helper thread once this process is idle (``cpu_time``: the
    seconds of CPU it has used), until the block ends.

    At the end a warm-up not yet started is called off; one importing is waited for (the
    same modules would be imported next anyway, behind the same import locks)."""
    warm = _WarmUp(modules, cpu_time)
    with _ACTIVE_LOCK:
        _ACTIVE.add(warm)
    warm.thread.start()
    try:
        yield warm
    finally:
        warm.stop.set()
        warm.thread.join()
        with _ACTIVE_LOCK:
            _ACTIVE.discard(warm)


def call_off() -> None:
    """Stop every warm-up of this process and wait for the import it is in: what follows
    imports the same modules with no other thread importing them."""
    with _ACTIVE_LOCK:
        active = list(_ACTIVE)
    for warm in active:
        warm.stop.set()
        if warm.thread is not threading.current_thread():
            warm.thread.join()
