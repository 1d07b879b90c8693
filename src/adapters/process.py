"""Run a child process in its own process group, stream its output line by line,
and kill the whole group on timeout, silence, or request.

Shared by every adapter that drives a local CLI (command agent, Claude Code, ...).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import attrs

from orchcore.errors import AgentUnavailable

LineHandler = Callable[[str], str | None]
TickHandler = Callable[[], str | None]
TAIL_LINES = 40
_KILL_GRACE_S = 2.0
_PR_SET_PDEATHSIG = 1


@attrs.frozen
class ProcessResult:
    """How a child process ended."""

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    stopped: str | None = None
    tail: tuple[str, ...] = ()
    stderr_tail: tuple[str, ...] = ()


def _pump(stream: IO[str], tag: str, sink: queue.Queue[tuple[str, str | None]]) -> None:
    try:
        for line in stream:
            sink.put((tag, line.rstrip("\n")))
    except ValueError:  # stream closed under us while killing
        pass
    finally:
        sink.put((tag, None))


def _feed(stream: IO[str], text: str) -> None:
    try:
        stream.write(text)
    except (BrokenPipeError, ValueError, OSError):
        pass  # the child stopped reading: its exit code will say why
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel SIGKILL the child if the orchestrator dies (even by
    ``kill -9``), so a resumed session never races an orphaned agent.

    The signal fires when the *thread* that started the child exits, so callers
    start agents from long-lived threads (the main thread, a server's worker).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _close_pipes(proc: subprocess.Popen[str], pumps: Sequence[threading.Thread]) -> None:
    """Close the child's stdout/stderr once their readers are done (no ResourceWarning)."""
    for pump in pumps:
        pump.join(timeout=_KILL_GRACE_S)
    if any(pump.is_alive() for pump in pumps):
        return  # a grandchild outside the group still holds a pipe: its reader thread closes it
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the child's whole process group, then SIGKILL it after a grace period."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # children it left behind
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_GRACE_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdin_text: str | None,
    log_path: str,
    timeout_s: float,
    on_line: LineHandler,
    on_tick: TickHandler,
    idle_timeout_s: float | None = None,
    tick_s: float = 1.0,
) -> ProcessResult:
    """Run ``argv`` to its end; every stdout line goes to ``on_line``, and
    ``on_tick`` is called at least every ``tick_s`` seconds. Either handler
    returning a reason stops the process (its whole group is killed).

    stdout and stderr (prefixed ``[stderr]``) are appended to ``log_path`` as
    they arrive. Raises AgentUnavailable if ``argv[0]`` cannot be executed.
    """
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list from the user's own config, never a shell
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise AgentUnavailable(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    assert proc.stdout is not None  # noqa: S101 - PIPE above
    assert proc.stderr is not None  # noqa: S101
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    if stdin_text is not None:
        assert proc.stdin is not None  # noqa: S101
        threads.append(threading.Thread(target=_feed, args=(proc.stdin, stdin_text), daemon=True))
    for thread in threads:
        thread.start()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    err_tail: deque[str] = deque(maxlen=TAIL_LINES)
    open_streams = 2
    timed_out = idle = False
    stopped: str | None = None
    last_output = last_tick = started
    exited_at = 0.0
    try:
        with log.open("a", encoding="utf-8") as out:
            while open_streams:
                now = time.monotonic()
                if now - started >= timeout_s:
                    timed_out = True
                    break
                if idle_timeout_s is not None and now - last_output >= idle_timeout_s:
                    idle = True
                    break
                if proc.poll() is not None:
                    exited_at = exited_at or now
                    if now - exited_at >= _KILL_GRACE_S:
                        break  # it exited but a child it left keeps the pipes open
                wait = max(
                    0.0,
                    min(
                        tick_s - (now - last_tick), timeout_s - (now - started), 0.25 if exited_at else tick_s
                    ),
                )
                try:
                    tag, line = lines.get(timeout=wait)
                except queue.Empty:
                    last_tick = time.monotonic()
                    stopped = on_tick()
                    if stopped is not None:
                        break
                    continue
                if line is None:
                    open_streams -= 1
                    continue
                last_output = time.monotonic()
                if tag == "out":
                    out.write(line + "\n")
                    tail.append(line)
                    stopped = on_line(line)
                else:
                    out.write(f"[stderr] {line}\n")
                    err_tail.append(line)
                out.flush()
                if stopped is not None:
                    break
                if last_output - last_tick >= tick_s:
                    last_tick = last_output
                    stopped = on_tick()
                    if stopped is not None:
                        break
            if open_streams:
                kill_group(proc)
                if timed_out or idle or stopped is not None:
                    reason = stopped or ("timed out" if timed_out else "silent too long")
                    out.write(f"[orch] process group killed: {reason}\n")
            try:
                exit_code = proc.wait(timeout=max(0.1, timeout_s - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(proc)
                exit_code = proc.wait()
    finally:
        if proc.poll() is None:  # KeyboardInterrupt or a handler raised
            kill_group(proc)
        _close_pipes(proc, threads[:2])
    killed = timed_out or idle or stopped is not None
    return ProcessResult(
        exit_code=None if killed else exit_code,
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        idle_timed_out=idle,
        stopped=stopped,
        tail=tuple(tail),
        stderr_tail=tuple(err_tail),
    )
