"""The FileWatcher contract on watchfiles (inotify)."""

from __future__ import annotations

import pytest

from adapters.watch import WatchfilesWatcher
from orchcore.ports.file_watch import FileWatcher
from orchcore.testing.contracts import FileWatcherContract


class TestWatchfilesWatcher(FileWatcherContract):
    @pytest.fixture
    def file_watcher(self) -> FileWatcher:
        return WatchfilesWatcher()
