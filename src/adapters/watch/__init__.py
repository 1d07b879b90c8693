"""Live file tracking through watchfiles (the Rust ``notify`` crate: inotify on Linux)."""

from adapters.watch.watcher import WatchfilesWatcher

__all__ = ["WatchfilesWatcher"]
