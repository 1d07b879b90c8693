"""The Docker attach stream of a container without a TTY, read in the caller's thread: frames of
stdout and stderr bytes, split into lines per stream.

Each frame is an 8-byte header (stream id, three zero bytes, big-endian length) and its
payload (the Engine API's "stream format"). Reading the socket here, with ``selectors``,
instead of the SDK's blocking generator, lets one loop also keep the timeouts and ticks.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
from typing import Any

import attrs

STDOUT, STDERR = 1, 2
_HEADER = struct.Struct(">BxxxL")
_READ_SIZE = 65536


@attrs.define
class FrameSplitter:
    """Turns the attach stream's bytes into complete lines, tagged ``out`` or ``err``."""

    pending: bytes = b""
    partial: dict[int, bytes] = attrs.field(factory=lambda: {STDOUT: b"", STDERR: b""})

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        """The lines that ``data`` completes, in the order they came."""
        self.pending += data
        lines: list[tuple[str, str]] = []
        while len(self.pending) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self.pending)
            if len(self.pending) < _HEADER.size + size:
                break
            payload = self.pending[_HEADER.size : _HEADER.size + size]
            self.pending = self.pending[_HEADER.size + size :]
            key = STDERR if stream == STDERR else STDOUT
            *done, self.partial[key] = (self.partial[key] + payload).split(b"\n")
            lines += [(_tag(key), line.decode("utf-8", "replace")) for line in done]
        return lines

    def rest(self) -> list[tuple[str, str]]:
        """What is left once the stream ended: the unterminated last line of each stream."""
        rest = [(_tag(k), v.decode("utf-8", "replace")) for k, v in self.partial.items() if v]
        self.partial = {STDOUT: b"", STDERR: b""}
        return rest


def _tag(stream: int) -> str:
    return "err" if stream == STDERR else "out"


@attrs.define
class AttachStream:
    """The container's attach socket: stdin fed as the program reads it, then closed; output
    polled with a timeout. Both in the caller's thread, so a program that never reads its stdin
    cannot block the loop that keeps the timeouts."""

    conn: Any  # a socket (unix, tcp) or a paramiko channel (ssh://): both have fileno/recv/send
    attached: Any = None  # the SocketIO the SDK returned: the socket is really closed once it is
    splitter: FrameSplitter = attrs.field(factory=FrameSplitter)
    selector: selectors.BaseSelector = attrs.field(factory=selectors.DefaultSelector)
    stdin: bytes | None = None
    open: bool = True

    @classmethod
    def wrap(cls, attached: Any) -> AttachStream:
        """From what ``APIClient.attach_socket`` returns (a SocketIO around the socket, or the socket)."""
        conn = getattr(attached, "_sock", attached)
        conn.setblocking(False)  # the client's request timeout would end a silent agent's stream
        stream = cls(conn, attached)
        stream.selector.register(conn, selectors.EVENT_READ)
        return stream

    def send_stdin(self, data: bytes) -> None:
        """Feed ``data`` to the program's stdin as it reads, then close it (EOF after it)."""
        self.stdin = data
        self.selector.modify(self.conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
        self._write()

    def _write(self) -> None:
        pending = self.stdin or b""
        try:
            sent = self.conn.send(pending[:_READ_SIZE]) if pending else 0
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(pending)  # the program is gone: its exit code says why
        self.stdin = pending[sent:]
        if self.stdin:
            return
        self.stdin = None
        self.selector.modify(self.conn, selectors.EVENT_READ)
        with contextlib.suppress(OSError):
            if isinstance(self.conn, socket.socket):
                self.conn.shutdown(socket.SHUT_WR)
            else:
                self.conn.shutdown_write()

    def poll(self, timeout: float) -> list[tuple[str, str]]:
        """Wait up to ``timeout`` for output; the complete lines that came. Sets ``open`` False at the end."""
        if not self.open:
            return []
        ready = self.selector.select(timeout)
        if not ready:
            return []
        events = ready[0][1]
        if events & selectors.EVENT_WRITE and self.stdin is not None:
            self._write()
        if not events & selectors.EVENT_READ:
            return []
        try:
            data = self.conn.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if data:
            return self.splitter.feed(data)
        self.open = False
        return self.splitter.rest()

    def close(self) -> None:
        """Release the socket (idempotent)."""
        self.open = False
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(self.conn)
        self.selector.close()
        for end in (getattr(self.attached, "_response", None), self.attached, self.conn):
            with contextlib.suppress(OSError, ValueError):  # already closed by the one before
                if end is not None:
                    end.close()
