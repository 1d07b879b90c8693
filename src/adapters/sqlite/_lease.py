"""Per-session advisory locks on sidecar files, so a lease dies with its process.

``flock`` locks belong to an open file description: the kernel drops them when
the holder exits, however it exits (``kill -9`` included), and two descriptors
opened separately conflict even inside one process. Lock files are never
deleted: unlinking a locked path lets a later opener lock a fresh inode while
the old holder still holds the first one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path
from urllib.parse import quote

# A prober holds its shared lock for microseconds; an acquirer that collides
# with one retries for this long before calling the session busy.
_PROBE_GRACE_S = 0.1
_RETRY_EVERY_S = 0.005
_MAX_NAME = 200


class LockFiles:
    """The lock files of one database: ``<db path>.<session id>.lock``."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path

    def path(self, session_id: str) -> Path:
        name = quote(session_id, safe="")
        if len(name) > _MAX_NAME:
            name = hashlib.sha256(session_id.encode()).hexdigest()
        return self._db_path.with_name(f"{self._db_path.name}.{name}.lock")

    def try_lock(self, session_id: str) -> int | None:
        """An open descriptor holding the session's lock, or None if someone else holds it."""
        fd = os.open(self.path(session_id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            deadline = time.monotonic() + _PROBE_GRACE_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        return None
                    time.sleep(_RETRY_EVERY_S)
                else:
                    return fd
        except BaseException:
            os.close(fd)
            raise

    def is_locked(self, session_id: str) -> bool:
        """Whether any live process (this one included) holds the session's lock."""
        try:
            fd = os.open(self.path(session_id), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing also drops the probe's shared lock
        return False

    @staticmethod
    def unlock(fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
