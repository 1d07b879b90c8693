"""Notifications as one line each on a text stream: stderr, or a file to tail."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TextIO

from orchcore.errors import NotifyError
from orchcore.ports.notifier import Notification

REMEMBERED = 4096  # keys already written, so a retried send does not write a line twice


def line(notification: Notification) -> str:
    """``09:00:00 Task 3 failed: exit code 1 · tests failed · next: retry 3 | skip 3 [s1:7:0:task_failed]``."""
    n = notification
    title = _flat(n.title)
    parts = [f"{n.created_at.astimezone():%H:%M:%S} {title}"]
    text = _flat(n.text)
    if text and text != title:
        parts.append(text)
    if n.actions:
        parts.append("next: " + " | ".join(_flat(a) for a in n.actions))
    return " · ".join(parts) + f" [{_flat(n.key)}]"


def _flat(text: str) -> str:
    """One line: every run of whitespace or line breaks (any Unicode kind) is one space."""
    return " ".join(text.split())


class ConsoleNotifier:
    """Satisfies orchcore.ports.Notifier: writes one line per notification to ``stream``
    and flushes it. A key already written by this notifier is not written again."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._written: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        with self._lock:
            if notification.key in self._written:
                return
            try:
                self._stream.write(line(notification) + "\n")
                self._stream.flush()
            except (OSError, ValueError) as exc:  # ValueError: the stream is closed
                raise NotifyError(f"console: cannot write: {exc}", retryable=True) from exc
            self._written[notification.key] = None
            while len(self._written) > REMEMBERED:
                self._written.popitem(last=False)
