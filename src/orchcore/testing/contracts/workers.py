"""The Workers contract: jobs run beside the caller and each other, the first to end (or a
job's wake) wakes the caller, what a job raised is handed back, and the lock admits one holder
at a time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from orchcore.ports.workers import Workers

WorkersFactory = Callable[[], Workers]


def until(release: list[bool]) -> Callable[[], None]:
    """Work that runs until something is put in ``release``."""

    def work() -> None:
        while not release:
            time.sleep(0.005)

    return work


class WorkersContract:
    """Subclass as ``TestMyWorkers(WorkersContract)`` and override ``make_workers``."""

    @pytest.fixture
    def make_workers(self) -> WorkersFactory:
        msg = "override make_workers"
        raise NotImplementedError(msg)

    def test_jobs_run_side_by_side(self, make_workers: WorkersFactory) -> None:
        workers = make_workers()
        seen: list[str] = []

        def meet(me: str, other: str) -> Callable[[], None]:
            def work() -> None:  # each ends only once the other has begun: serial would never end
                seen.append(me)
                deadline = time.monotonic() + 10
                while other not in seen and time.monotonic() < deadline:
                    time.sleep(0.005)
                if other not in seen:
                    raise AssertionError(f"{me} ran alone")

            return work

        jobs = [workers.start(meet("a", "b")), workers.start(meet("b", "a"))]
        deadline = time.monotonic() + 15
        while not all(j.done() for j in jobs) and time.monotonic() < deadline:
            workers.wait_any([j for j in jobs if not j.done()], 1.0)
        assert [j.done() for j in jobs] == [True, True]
        assert [j.error() for j in jobs] == [None, None]

    def test_wait_any_returns_when_the_first_job_ends_and_a_job_error_is_handed_back(
        self, make_workers: WorkersFactory
    ) -> None:
        workers = make_workers()
        release: list[bool] = []

        def fails() -> None:
            raise ValueError("boom")

        hung, failing = workers.start(until(release)), workers.start(fails)
        started = time.monotonic()
        workers.wait_any([hung, failing], 30.0)
        assert time.monotonic() - started < 20  # woken by the failing job, not the timeout
        assert failing.done()
        assert isinstance(failing.error(), ValueError)
        assert not hung.done()
        assert hung.error() is None
        workers.wait_any([hung], 0.05)  # a timeout with nothing done returns too
        assert not hung.done()
        release.append(True)
        workers.wait_any([hung], 10.0)
        assert hung.done()

    def test_a_jobs_wake_ends_the_callers_wait_once_while_the_job_goes_on(
        self, make_workers: WorkersFactory
    ) -> None:
        workers = make_workers()
        release: list[bool] = []

        def work() -> None:
            workers.wake()  # perhaps before the caller waits: its next wait returns at once
            until(release)()

        job = workers.start(work)
        started = time.monotonic()
        workers.wait_any([job], 30.0)
        assert time.monotonic() - started < 20  # woken, not timed out
        assert not job.done()
        started = time.monotonic()
        workers.wait_any([job], 0.3)  # that wake was used: this one waits its time
        assert time.monotonic() - started >= 0.25
        release.append(True)
        workers.wait_any([job], 10.0)
        assert job.done()

    def test_a_wake_is_the_callers_even_while_a_job_waits_on_another(
        self, make_workers: WorkersFactory
    ) -> None:
        workers = make_workers()
        release: list[bool] = []
        waited: list[float] = []

        hung = workers.start(until(release))

        def waits_on_hung() -> None:  # a job waiting on another job: a wake is not for it
            started = time.monotonic()
            workers.wait_any([hung], 0.5)
            waited.append(time.monotonic() - started)

        waiter = workers.start(waits_on_hung)
        time.sleep(0.1)  # the waiter is waiting now
        workers.wake()
        time.sleep(0.1)  # time enough for the waiting job to take the wake, were it its
        started = time.monotonic()
        workers.wait_any([hung], 3.0)  # the caller's wait takes the wake: at once
        assert time.monotonic() - started < 2
        workers.wait_any([waiter], 10.0)
        assert waiter.done()
        assert len(waited) == 1
        assert waited[0] >= 0.45  # it waited its whole time: the wake did not end it
        release.append(True)
        workers.wait_any([hung], 10.0)
        assert hung.done()

    def test_the_lock_admits_one_holder_at_a_time(self, make_workers: WorkersFactory) -> None:
        workers = make_workers()
        inside: list[int] = []
        most: list[int] = [0]

        def work() -> None:
            for _ in range(50):
                with workers.lock(), workers.lock():  # re-entrant
                    inside.append(1)
                    most[0] = max(most[0], len(inside))
                    time.sleep(0.0005)
                    inside.pop()

        jobs = [workers.start(work) for _ in range(4)]
        while not all(j.done() for j in jobs):
            workers.wait_any([j for j in jobs if not j.done()], 1.0)
        assert [j.error() for j in jobs] == [None] * 4
        assert most[0] == 1
