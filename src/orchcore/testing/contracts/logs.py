"""The TaskLogs contract: one log per attempt, and its tail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.ports.logs import TaskLogs

LogsFactory = Callable[[], TaskLogs]
LineWriter = Callable[[TaskLogs, str, str], None]


def append_to_file(_: TaskLogs, path: str, line: str) -> None:
    """How an agent writes its log: append to the path it was given."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class TaskLogsContract:
    """Subclass as ``TestMyLogs(TaskLogsContract)``; override ``make_logs`` (and
    ``write_line`` if your logs are not files)."""

    @pytest.fixture
    def make_logs(self) -> LogsFactory:
        msg = "override make_logs to return a factory of empty TaskLogs"
        raise NotImplementedError(msg)

    @pytest.fixture
    def write_line(self) -> LineWriter:
        return append_to_file

    def test_each_attempt_has_its_own_log(self, make_logs: LogsFactory) -> None:
        logs = make_logs()
        paths = {
            logs.path("s1", "1", 1),
            logs.path("s1", "1", 2),
            logs.path("s1", "2", 1),
            logs.path("s2", "1", 1),
        }
        assert len(paths) == 4
        assert logs.path("s1", "1", 1) == logs.path("s1", "1", 1)

    def test_tail_returns_the_last_lines_in_order(
        self, make_logs: LogsFactory, write_line: LineWriter
    ) -> None:
        logs = make_logs()
        path = logs.path("s1", "3", 1)
        for i in range(500):
            write_line(logs, path, f"line {i}")
        assert logs.tail("s1", "3", 1, 3) == ["line 497", "line 498", "line 499"]
        assert len(logs.tail("s1", "3", 1, 1000)) == 500

    def test_a_log_never_written_has_an_empty_tail(self, make_logs: LogsFactory) -> None:
        logs = make_logs()
        assert logs.tail("nope", "1", 1, 10) == []

    def test_odd_task_ids_stay_inside_the_logs(self, make_logs: LogsFactory, write_line: LineWriter) -> None:
        logs = make_logs()
        path = logs.path("s1", "../../etc/passwd", 1)
        write_line(logs, path, "x")
        assert logs.tail("s1", "../../etc/passwd", 1, 1) == ["x"]
        assert ".." not in Path(path).parts
