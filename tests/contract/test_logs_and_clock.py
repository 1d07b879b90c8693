"""The TaskLogs, Clock and Ids contracts on every adapter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.files.logs import FileLogs
from adapters.system.clock import RandomIds, SystemClock
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.testing import FakeClock, MemoryLogs, SequentialIds
from orchcore.testing.contracts import ClockContract, IdsContract, LogsFactory, TaskLogsContract
from orchcore.testing.contracts.logs import LineWriter


class TestFileLogs(TaskLogsContract):
    @pytest.fixture
    def make_logs(self, tmp_path: Path) -> LogsFactory:
        return lambda: FileLogs(str(tmp_path / "logs"))


class TestMemoryLogs(TaskLogsContract):
    @pytest.fixture
    def make_logs(self) -> LogsFactory:
        return MemoryLogs

    @pytest.fixture
    def write_line(self) -> LineWriter:
        def write(logs: TaskLogs, path: str, line: str) -> None:
            assert isinstance(logs, MemoryLogs)
            logs.write(path, line)

        return write


class TestSystemClock(ClockContract):
    @pytest.fixture
    def make_clock(self) -> Callable[[], Clock]:
        return SystemClock


class TestFakeClock(ClockContract):
    @pytest.fixture
    def make_clock(self) -> Callable[[], Clock]:
        return FakeClock


class TestRandomIds(IdsContract):
    @pytest.fixture
    def make_ids(self) -> Callable[[], Ids]:
        return RandomIds


class TestSequentialIds(IdsContract):
    @pytest.fixture
    def make_ids(self) -> Callable[[], Ids]:
        return SequentialIds
