"""Watching a workspace with watchfiles: debounced changes, hashed, minus .git, caches and ignored files.

One thread per watched workspace runs ``watchfiles.watch`` (inotify underneath) and
folds each debounced batch into a pending map, one entry per path in its latest
state; ``take`` hands that map over without blocking. A file created and deleted
again before anyone looked is dropped: it never was part of the work.

``settle`` is an exact barrier: the same watch also covers a private folder of orch's (a
temporary directory, never the workspace), and settling writes a numbered beacon file there.
One inotify instance queues every event in the order the changes were made, so once the loop
has handed over the batch holding the beacon, it has handed over every change made before it:
about one quiet step (``STEP_MS``) after the call, instead of a fixed allowance.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pathspec
import watchfiles
from watchfiles import Change

from orchcore.ports.file_watch import ChangeKind, SeenChange

DEFAULT_DEBOUNCE_MS = 200
"""Long enough to fold an editor's or a formatter's burst of writes, short enough to show a change
well within a second (bench/bench_watch.py)."""
STEP_MS = 5
"""How often the watch loop looks for new events: a burst is handed over once it is quiet this long."""
REGISTERED_POLL_S = 0.05
"""Starting: how long to wait for a beacon before writing another (one written before the
watch was registered is never seen)."""
SETTLE_MS = 15
"""Where no beacon can be written: what ``settle`` allows a change's event to reach the watch loop."""
POLL_DELAY_MS = 300
"""Where inotify cannot be used (forced polling): how often the tree is scanned (watchfiles' default)."""
MAX_HASHED_BYTES = 64 * 1024 * 1024
_IGNORED_DIRS = frozenset(watchfiles.DefaultFilter.ignore_dirs) | {".orch", ".ruff_cache", "dist", ".tox"}
_CHUNK = 1024 * 1024


class _Ignore:
    """The watch filter: True keeps a path. Skips ignored directories, editor droppings and
    whatever the workspace's .gitignore (and .git/info/exclude) ignores."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._names = watchfiles.DefaultFilter(ignore_dirs=tuple(_IGNORED_DIRS))
        lines: list[str] = []
        for source in (root / ".gitignore", root / ".git" / "info" / "exclude"):
            try:
                lines += source.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
        self._spec = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None

    def relative(self, path: str) -> str | None:
        try:
            return Path(path).relative_to(self._root).as_posix()
        except ValueError:
            return None

    def __call__(self, change: Change, path: str) -> bool:
        if not self._names(change, path):
            return False
        relative = self.relative(path)
        if relative is None or relative == ".":
            return False
        return self._spec is None or not self._spec.match_file(relative)


def _fingerprint(path: Path) -> tuple[str | None, int | None] | None:
    """(sha256, size) of a regular file; (None, size) when too big or unreadable; None when it is gone
    or is not a file (a directory: not reported)."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_HASHED_BYTES:
        return None, info.st_size  # a symlink is recorded, never followed
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None, info.st_size
    return digest.hexdigest(), info.st_size


def _merge(before: SeenChange | None, now: SeenChange) -> SeenChange | None:
    """The one entry a path keeps when ``now`` follows ``before`` in the same pending window."""
    if before is None:
        return now
    if before.kind is ChangeKind.ADDED:
        return (
            None
            if now.kind is ChangeKind.DELETED
            else SeenChange(ChangeKind.ADDED, now.path, now.sha256, now.size)
        )
    if before.kind is ChangeKind.DELETED and now.kind is not ChangeKind.DELETED:
        return SeenChange(ChangeKind.MODIFIED, now.path, now.sha256, now.size)
    return now


class _Watching:
    """One workspace's watcher thread and what it saw that nobody took yet."""

    def __init__(self, root: Path, *, debounce_ms: int, force_polling: bool | None) -> None:
        self._root = root
        self._filter = _Ignore(root)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cycled = threading.Condition(self._lock)
        self._turn_ended = 0.0  # when the watch loop last handed over what it saw (monotonic)
        self._polling = bool(force_polling)  # polling forced by WATCHFILES_FORCE_POLLING settles no later
        self._pending: dict[str, SeenChange] = {}
        self._dirs: set[str] = set()
        self._known = {self._filter.relative(f) or f for f in self._files_under(str(root))}
        """The files there are: a path first seen is ADDED, a known one MODIFIED, whatever the
        event said (inotify reports a file written into a new directory either way)."""
        self.error: BaseException | None = None
        self._beacons = tempfile.mkdtemp(prefix="orch-watch-")  # settle's barrier: see the module
        self._beacon_prefix = os.path.join(self._beacons, "")  # noqa: PTH118 - compared with raw paths
        self._beacon_asked = 0
        self._beacon_seen = 0
        self._closed = False  # set by close: the loop hands over nothing more, and ends on its own
        self._thread = threading.Thread(
            target=self._loop, args=(debounce_ms, force_polling), name=f"orch-watch {root}", daemon=True
        )
        self._thread.start()
        self._wait_registered(timeout_s=10)  # from now on, nothing is missed

    def _loop(self, debounce_ms: int, force_polling: bool | None) -> None:
        try:
            for batch in watchfiles.watch(
                self._root,
                self._beacons,
                watch_filter=self._keep,
                debounce=debounce_ms,
                step=STEP_MS,
                stop_event=self._stop,
                rust_timeout=0,  # no idle turns: an idle watch runs no Python, only a stop check per step
                raise_interrupt=False,
                force_polling=force_polling,
                poll_delay_ms=POLL_DELAY_MS,
                ignore_permission_denied=True,
            ):
                if self._closed:
                    break
                beacons = {raw for _, raw in batch if raw.startswith(self._beacon_prefix)}
                if batch:
                    self._fold({(c, raw) for c, raw in batch if raw not in beacons})
                with self._cycled:
                    self._turn_ended = time.monotonic()
                    for raw in beacons:
                        number = raw.removeprefix(self._beacon_prefix)
                        if number.isdigit() and int(number) <= self._beacon_asked:  # only the ones asked
                            self._beacon_seen = max(self._beacon_seen, int(number))
                    self._cycled.notify_all()
        except Exception as error:  # noqa: BLE001 - a broken watcher loses live tracking, never the run
            self.error = error
        finally:
            with self._cycled:
                self._turn_ended = math.inf  # ended: nobody waits for another turn
                self._cycled.notify_all()

    def _wait_registered(self, timeout_s: float) -> None:
        """Until a beacon comes through: the watch is registered (or the loop has ended). One
        written before the watch was registered is never seen: another follows it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._beacon_through(REGISTERED_POLL_S) is not False:
                return  # through, or none can be written (settle then waits a while instead)

    def _beacon_through(self, wait_s: float) -> bool | None:
        """Write the next beacon and wait up to ``wait_s`` for it: True once it came through (or
        the watch has ended or closed), False if not yet, None when no beacon can be written."""
        with self._cycled:
            if self._closed or self._turn_ended == math.inf:
                return True
            self._beacon_asked += 1
            number = self._beacon_asked
        beacon = Path(self._beacons) / str(number)
        try:
            beacon.touch()
        except OSError:
            return None
        try:
            with self._cycled:
                return self._cycled.wait_for(partial(self._through, number), wait_s)
        finally:
            beacon.unlink(missing_ok=True)

    def _through(self, number: int) -> bool:
        """Whether beacon ``number`` came through (or the loop ended: none will); under the lock."""
        return self._beacon_seen >= number or self._turn_ended == math.inf

    def _keep(self, change: Change, path: str) -> bool:
        return path.startswith(self._beacon_prefix) or self._filter(change, path)

    def settle(self, timeout_s: float = 1.0) -> None:
        """Wait until the watch loop has handed over every change made before the call: a
        beacon written now has come through (see the module). Where none can be written, wait
        ``SETTLE_MS`` (in polling mode, a poll)."""
        asked = time.monotonic()
        if self._beacon_through(max(0.0, timeout_s)) is None:
            self._settle_by_time(asked, timeout_s)

    def _settle_by_time(self, asked: float, timeout_s: float) -> None:
        """No beacon could be written: allow the events a while (a poll, in polling mode)."""
        allowance = (POLL_DELAY_MS if self._polling else SETTLE_MS) / 1000 + STEP_MS / 1000
        time.sleep(max(0.0, min(asked + allowance, asked + timeout_s) - time.monotonic()))

    def _files_under(self, raw: str) -> list[str]:
        """Every reported file under directory ``raw`` (absolute paths): a directory moved in, or
        made and filled faster than its watch was added, shows its files this way."""
        found = []
        for top, dirs, files in os.walk(raw):
            dirs[:] = [d for d in dirs if self._filter(Change.added, f"{top}/{d}")]
            found += [f for f in (f"{top}/{name}" for name in files) if self._filter(Change.added, f)]
        return found

    def _fold(self, batch: set[tuple[Change, str]]) -> None:
        paths = {raw for _, raw in batch}
        for raw in list(paths):
            if Path(raw).is_dir() and not Path(raw).is_symlink():
                paths.discard(raw)
                self._dirs.add(raw)
                paths.update(self._files_under(raw))
        seen: list[SeenChange] = []
        for raw in sorted(paths):
            relative = self._filter.relative(raw)
            if relative is None:
                continue
            found = _fingerprint(Path(raw))
            if found is not None:
                kind = ChangeKind.MODIFIED if relative in self._known else ChangeKind.ADDED
                self._known.add(relative)
                seen.append(SeenChange(kind, relative, *found))
            elif raw in self._dirs:
                self._dirs.discard(raw)  # a directory removed: its files were reported one by one
            elif relative in self._known:
                self._known.discard(relative)
                seen.append(SeenChange(ChangeKind.DELETED, relative))
        with self._lock:
            if self._closed:
                return  # closed while this batch was being read: nobody asked for it
            for item in seen:
                merged = _merge(self._pending.pop(item.path, None), item)
                if merged is not None:
                    self._pending[item.path] = merged

    def take(self) -> Sequence[SeenChange]:
        with self._lock:
            taken = list(self._pending.values())
            self._pending.clear()
        return taken

    def close(self) -> None:
        """Stop watching now; the loop's thread ends at its next step (within ``STEP_MS``) on its
        own, without being waited for: what it sees meanwhile is dropped."""
        with self._lock:
            self._closed = True
        self._stop.set()
        shutil.rmtree(self._beacons, ignore_errors=True)


class WatchfilesWatcher:
    """Satisfies orchcore.ports.FileWatcher with watchfiles (inotify; polling where it is forced)."""

    def __init__(self, *, debounce_ms: int = DEFAULT_DEBOUNCE_MS, force_polling: bool | None = None) -> None:
        self._debounce_ms = debounce_ms
        self._force_polling = force_polling

    def watch(self, workdir: str) -> _Watching:
        root = Path(workdir).resolve()
        if not root.is_dir():
            msg = f"cannot watch {workdir}: not a directory"
            raise NotADirectoryError(msg)
        return _Watching(root, debounce_ms=self._debounce_ms, force_polling=self._force_polling)
