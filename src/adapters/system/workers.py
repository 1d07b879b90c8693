"""The Workers port on threads: an attempt is an agent process orch waits on, so a thread each
costs little, and the GIL is released while it waits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager

import attrs

from orchcore.ports.workers import Job


@attrs.define(eq=False)
class _ThreadJob:
    _finished: threading.Event = attrs.field(factory=threading.Event)
    _error: BaseException | None = None

    def done(self) -> bool:
        return self._finished.is_set()

    def error(self) -> BaseException | None:
        return self._error if self.done() else None


@attrs.define
class ThreadWorkers:
    """Satisfies ``orchcore.ports.Workers``: one daemon thread per job (a hung agent is stopped
    by its own timeout; orch exiting never waits on it)."""

    name: str = "orch-slot"
    _lock: threading.RLock = attrs.field(factory=threading.RLock)
    _ended: threading.Condition = attrs.field(factory=threading.Condition)
    _woken: bool = False
    _in_job: threading.local = attrs.field(factory=threading.local)  # ``.yes`` on a job's thread

    def start(self, work: Callable[[], None]) -> Job:
        job = _ThreadJob()

        def run() -> None:
            self._in_job.yes = True
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
                job._error = exc
            finally:
                with self._ended:
                    job._finished.set()
                    self._ended.notify_all()

        threading.Thread(target=run, name=self.name, daemon=True).start()
        return job

    def wait_any(self, jobs: Collection[Job], timeout_s: float) -> None:
        caller = not getattr(self._in_job, "yes", False)  # a wake is the caller's: a job never takes it
        with self._ended:
            self._ended.wait_for(
                lambda: (caller and self._woken) or any(job.done() for job in jobs),
                timeout=max(timeout_s, 0.0),
            )
            if caller:
                self._woken = False

    def wake(self) -> None:
        with self._ended:
            self._woken = True
            self._ended.notify_all()

    def lock(self) -> AbstractContextManager[object]:
        return self._lock
