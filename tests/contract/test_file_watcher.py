"""The FileWatcher contract on watchfiles (inotify)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from adapters.watch import WatchfilesWatcher
from orchcore.ports.file_watch import FileWatcher
from orchcore.testing.contracts import FileWatcherContract


class TestWatchfilesWatcher(FileWatcherContract):
    @pytest.fixture
    def file_watcher(self) -> FileWatcher:
        return WatchfilesWatcher()


def test_settling_leaves_nothing_of_its_own_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The beacons settle writes live in a private temporary folder, removed with the watch."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    work = tmp_path / "work"
    work.mkdir()
    watching = WatchfilesWatcher().watch(str(work))
    (work / "a.txt").write_text("a")
    watching.settle()
    assert [c.path for c in watching.take()] == ["a.txt"]
    assert list(work.iterdir()) == [work / "a.txt"]  # nothing of orch's in the workspace
    watching.close()
    assert list(private.iterdir()) == []
