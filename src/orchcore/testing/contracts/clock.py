"""The Clock and Ids contracts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, timedelta

import pytest

from orchcore.ports.clock import Clock, Ids

_TYPEABLE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class ClockContract:
    """Subclass as ``TestMyClock(ClockContract)`` and override ``make_clock``."""

    @pytest.fixture
    def make_clock(self) -> Callable[[], Clock]:
        msg = "override make_clock"
        raise NotImplementedError(msg)

    def test_time_is_timezone_aware_utc(self, make_clock: Callable[[], Clock]) -> None:
        now = make_clock().now()
        assert now.utcoffset() == timedelta(0)
        assert now.tzinfo is not None
        assert now.astimezone(UTC) == now

    def test_sleep_lets_that_much_time_pass(self, make_clock: Callable[[], Clock]) -> None:
        clock = make_clock()
        before = clock.now()
        clock.sleep(0.05)
        assert clock.now() - before >= timedelta(seconds=0.05)

    def test_time_never_goes_backwards(self, make_clock: Callable[[], Clock]) -> None:
        clock = make_clock()
        readings = [clock.now() for _ in range(200)]
        assert readings == sorted(readings)


class IdsContract:
    """Subclass as ``TestMyIds(IdsContract)`` and override ``make_ids``."""

    @pytest.fixture
    def make_ids(self) -> Callable[[], Ids]:
        msg = "override make_ids"
        raise NotImplementedError(msg)

    def test_ids_are_unique(self, make_ids: Callable[[], Ids]) -> None:
        ids = make_ids()
        made = [ids.new_id() for _ in range(2000)]
        assert len(set(made)) == len(made)

    def test_ids_are_short_enough_to_type_in_a_command(self, make_ids: Callable[[], Ids]) -> None:
        ids = make_ids()
        assert all(_TYPEABLE.match(ids.new_id()) for _ in range(50))
