"""Follow one remote command on its channel: lines as they come, timeouts, stop, a lost connection."""

from __future__ import annotations

import contextlib
import select
import time
from collections import deque
from collections.abc import Callable
from typing import IO

import attrs
import paramiko

from orchcore.ports.executor import ExecResult, ExecSpec, LineHandler, TickHandler

TAIL_LINES = 40
_PGID_PREFIX = "ORCH-PGID="
_EXIT_WAIT_S = 10.0
_READ = 65536


@attrs.define
class _Lines:
    partial: bytes = b""

    def feed(self, data: bytes) -> list[str]:
        *done, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in done]

    def rest(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


@attrs.define
class RemoteRun:
    """One command on its own channel; ``kill`` stops its process group over another one."""

    client: paramiko.SSHClient
    command: str
    stdin: bytes | None
    kill: Callable[[int | None], None]
    on_pgid: Callable[[int], None] | None = None
    """Learns the remote group as soon as the script prints it (to record it, for a reap after a crash)."""
    pgid: int | None = None
    _out: _Lines = attrs.field(factory=_Lines)
    _err: _Lines = attrs.field(factory=_Lines)

    def follow(self, spec: ExecSpec, on_line: LineHandler, on_tick: TickHandler, log: IO[str]) -> ExecResult:
        """Run to the end; stdout to ``on_line`` and ``log``, stderr to ``log`` prefixed ``[stderr]``."""
        started = time.monotonic()
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        err_tail: deque[str] = deque(maxlen=TAIL_LINES)
        timed_out = idle = False
        stopped: str | None = None
        lost: str | None = None
        try:
            channel = self.client.get_transport().open_session()
            channel.exec_command(self.command)
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            return ExecResult(None, time.monotonic() - started, lost=f"ssh connection lost at start: {exc}")
        pending = self.stdin
        if pending is None:
            channel.shutdown_write()
        last_output = last_tick = started

        def emit(tag: str, line: str) -> str | None:
            if tag == "err":
                log.write(f"[stderr] {line}\n")
                err_tail.append(line)
                return None
            if self.pgid is None and line.startswith(_PGID_PREFIX):
                with contextlib.suppress(ValueError):
                    self.pgid = int(line.removeprefix(_PGID_PREFIX))
                    if self.on_pgid is not None:
                        self.on_pgid(self.pgid)
                    return None
            log.write(line + "\n")
            tail.append(line)
            return on_line(line) if stopped is None else None

        try:
            while True:
                now = time.monotonic()
                if now - started >= spec.timeout_s:
                    timed_out = True
                    break
                if spec.idle_timeout_s is not None and now - last_output >= spec.idle_timeout_s:
                    idle = True
                    break
                if pending:
                    while pending and channel.send_ready():
                        pending = pending[channel.send(pending[:_READ]) :]
                    if not pending:
                        channel.shutdown_write()
                wait = max(0.0, min(spec.tick_s - (now - last_tick), spec.timeout_s - (now - started)))
                select.select([channel], [], [], 0.05 if pending else wait)
                got = False
                while channel.recv_ready():
                    got = True
                    for line in self._out.feed(channel.recv(_READ)):
                        stopped = stopped or emit("out", line)
                while channel.recv_stderr_ready():
                    got = True
                    for line in self._err.feed(channel.recv_stderr(_READ)):
                        emit("err", line)
                if got:
                    last_output = time.monotonic()
                log.flush()
                if stopped is None and time.monotonic() - last_tick >= spec.tick_s:
                    last_tick = time.monotonic()
                    stopped = on_tick()
                if stopped is not None:
                    break
                if (
                    channel.exit_status_ready()
                    and not channel.recv_ready()
                    and not channel.recv_stderr_ready()
                ):
                    break
                transport = self.client.get_transport()
                if channel.closed or transport is None or not transport.is_active():
                    lost = "the ssh connection to the host was lost while the command ran"
                    break
        except (paramiko.SSHException, OSError, EOFError) as exc:
            lost = f"the ssh connection to the host was lost while the command ran: {exc}"
        for tag, splitter in (("out", self._out), ("err", self._err)):
            for line in splitter.rest():
                emit(tag, line)
        killed = timed_out or idle or stopped is not None
        exit_code: int | None = None
        if lost is None and killed:
            self.kill(self.pgid)  # None: not yet known, the marker still finds them
            reason = stopped or ("timed out" if timed_out else "silent too long")
            log.write(f"[orch] remote process group killed: {reason}\n")
        elif lost is None:
            exit_code = channel.recv_exit_status() if channel.exit_status_ready() else None
            if exit_code is None or exit_code == -1:  # setsid -w always exits with a status: none came
                exit_code = None
                lost = "the ssh connection to the host was lost while the command ran (no exit status came)"
        with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
            channel.close()
        if lost is not None:
            log.write(f"[orch] {lost}\n")
        log.flush()
        return ExecResult(
            exit_code=None if killed else exit_code,
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            idle_timed_out=idle,
            stopped=stopped,
            tail=tuple(tail),
            stderr_tail=tuple(err_tail),
            lost=lost,
        )
