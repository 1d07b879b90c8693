"""The FileWatcher contract: what a user sees in `orch status` while an agent edits files."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchcore.ports.file_watch import ChangeKind, FileWatcher, SeenChange, Watching

WAIT_S = 10.0
"""How long a change may take to show here: generous, the machine may be loaded (the latency
target is measured by bench/bench_watch.py, not asserted)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_for(watching: Watching, wanted: Callable[[dict[str, SeenChange]], bool]) -> dict[str, SeenChange]:
    """Take changes until ``wanted`` holds for everything taken so far (latest per path); fail after WAIT_S."""
    taken: dict[str, SeenChange] = {}
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for change in watching.take():
            taken[change.path] = change
        if wanted(taken):
            return taken
        time.sleep(0.02)
    pytest.fail(f"the watcher did not report the change within {WAIT_S:g}s; it reported {taken}")


class FileWatcherContract:
    """Subclass as ``TestMyWatcher(FileWatcherContract)`` and override ``file_watcher``."""

    @pytest.fixture
    def file_watcher(self) -> FileWatcher:
        msg = "override file_watcher"
        raise NotImplementedError(msg)

    @pytest.fixture
    def watching(self, file_watcher: FileWatcher, tmp_path: Path) -> Iterator[Watching]:
        (tmp_path / "kept.txt").write_text("old\n")
        (tmp_path / "gone.txt").write_text("bye\n")
        (tmp_path / ".gitignore").write_text("build/\n*.log\n")
        (tmp_path / ".git").mkdir()
        watching = file_watcher.watch(str(tmp_path))
        yield watching
        watching.close()

    def test_a_new_file_is_seen_with_its_hash_and_size(self, watching: Watching, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "new.py").write_bytes(b"print('hi')\n")
        taken = wait_for(watching, lambda t: "src/new.py" in t)
        assert taken["src/new.py"] == SeenChange(ChangeKind.ADDED, "src/new.py", _sha(b"print('hi')\n"), 12)
        assert "src" not in taken  # directories are not files

    def test_a_change_and_a_deletion_are_seen(self, watching: Watching, tmp_path: Path) -> None:
        (tmp_path / "kept.txt").write_bytes(b"new\n")
        (tmp_path / "gone.txt").unlink()
        taken = wait_for(watching, lambda t: {"kept.txt", "gone.txt"} <= t.keys())
        assert taken["kept.txt"] == SeenChange(ChangeKind.MODIFIED, "kept.txt", _sha(b"new\n"), 4)
        assert taken["gone.txt"] == SeenChange(ChangeKind.DELETED, "gone.txt")

    def test_git_caches_and_ignored_files_are_not_reported(self, watching: Watching, tmp_path: Path) -> None:
        (tmp_path / ".git" / "index").write_text("x")
        (tmp_path / "__pycache__").mkdir()
        (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_text("x")
        (tmp_path / "build").mkdir()
        (tmp_path / "build" / "out.bin").write_text("x")
        (tmp_path / "run.log").write_text("x")
        (tmp_path / "marker.txt").write_text("x")  # written last: once it shows, the rest had their chance
        taken = wait_for(watching, lambda t: "marker.txt" in t)
        time.sleep(0.5)
        for change in watching.take():
            taken[change.path] = change
        assert set(taken) == {"marker.txt"}

    def test_each_change_is_taken_once(self, watching: Watching, tmp_path: Path) -> None:
        (tmp_path / "once.txt").write_text("1")
        wait_for(watching, lambda t: "once.txt" in t)
        time.sleep(0.5)
        assert [c.path for c in watching.take()] == []

    def test_nothing_is_seen_after_close(self, watching: Watching, tmp_path: Path) -> None:
        watching.close()
        (tmp_path / "late.txt").write_text("1")
        time.sleep(1.0)
        assert list(watching.take()) == []
        watching.close()  # twice is harmless

    def test_after_settle_take_holds_every_change_made_before_it(
        self, watching: Watching, tmp_path: Path
    ) -> None:
        for n in range(20):
            (tmp_path / f"last-{n}.txt").write_text(str(n))
        watching.settle()
        assert sorted(c.path for c in watching.take()) == sorted(f"last-{n}.txt" for n in range(20))

    def test_each_settle_right_after_a_write_takes_that_write_and_nothing_else(
        self, watching: Watching, tmp_path: Path
    ) -> None:
        """As an attempt ends: what the agent wrote as it exited, and only that, is its attempt's."""
        for n in range(40):
            (tmp_path / f"exit-{n}.txt").write_text(str(n))
            watching.settle()
            assert [c.path for c in watching.take()] == [f"exit-{n}.txt"]

    def test_settle_after_close_returns_at_once(self, watching: Watching) -> None:
        watching.close()
        started = time.monotonic()
        watching.settle(timeout_s=5)
        assert time.monotonic() - started < 1
