"""Run an agent's process where it cannot outlive its attempt, stream its output line by
line, and kill all of it on timeout, silence, or request.

Shared by every adapter that drives a local CLI (command agent, Claude Code, ...).
With a sandbox policy the process starts under bubblewrap (a PID namespace that
dies with bwrap, and bwrap with orch); without one through ``setpriv --pdeathsig
KILL``. Either way in a session and process group of its own, with a marker in
its environment that every descendant inherits. No ``preexec_fn``: orch runs
threads (the notification sender, uvicorn) beside the engine, where forking
Python code is unsafe. Output is read with ``selectors`` in the calling thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from adapters.process.procfs import (
    RUN_MARKER,
    PidWindow,
    kill_marked,
    process_table,
    reap_attempt,
    start_ticks,
)
from adapters.sandbox.bwrap import sandboxed
from orchcore.errors import AgentUnavailable
from orchcore.sandbox import AttemptProcess, SandboxPolicy

__all__ = [
    "RUN_MARKER",
    "PidWindow",
    "ProcessResult",
    "kill_group",
    "kill_marked",
    "process_table",
    "reap_attempt",
    "run_marked",
    "run_process",
    "start_ticks",
]

logger = logging.getLogger(__name__)

LineHandler = Callable[[str], str | None]
TickHandler = Callable[[], str | None]
StartHandler = Callable[[AttemptProcess], None]
TAIL_LINES = 40
_KILL_GRACE_S = 2.0
_READ_SIZE = 65536
_WRITE_SIZE = 16384


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


def kill_group(proc: subprocess.Popen[bytes]) -> None:
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


def _executable(program: str, cwd: str, env: Mapping[str, str]) -> None:
    """Raise AgentUnavailable unless ``program`` can be executed (before any wrapper hides why)."""
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else Path(cwd) / program
        if not os.access(path, os.X_OK) or path.is_dir():
            raise AgentUnavailable(f"cannot run {program!r}: not an executable file")
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise AgentUnavailable(f"cannot run {program!r}: not found on the agent's PATH")


def _launch_argv(argv: Sequence[str], cwd: str, sandbox: SandboxPolicy | None) -> list[str]:
    if sandbox is not None:
        return sandboxed(sandbox, argv, cwd=cwd, bwrap=shutil.which("bwrap") or "bwrap")
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    if setpriv is None:
        return list(argv)  # no util-linux: the process group and the marker sweep remain
    return [setpriv, "--pdeathsig", "KILL", "--", *argv]


@attrs.define
class _Lines:
    """Splits one stream's bytes into lines."""

    tag: str
    partial: bytes = b""

    def feed(self, data: bytes) -> list[str]:
        *done, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in done]

    def rest(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


@attrs.define
class _Pump:
    """Moves bytes between the child's pipes and the caller, in the caller's thread."""

    proc: subprocess.Popen[bytes]
    stdin_data: bytes
    selector: selectors.BaseSelector = attrs.field(factory=selectors.DefaultSelector)
    open_streams: int = 0

    def __attrs_post_init__(self) -> None:
        for stream, tag in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            if stream is not None:
                os.set_blocking(stream.fileno(), False)
                self.selector.register(stream, selectors.EVENT_READ, _Lines(tag))
                self.open_streams += 1
        if self.proc.stdin is not None:
            os.set_blocking(self.proc.stdin.fileno(), False)
            self.selector.register(self.proc.stdin, selectors.EVENT_WRITE, None)

    def _drop(self, stream: IO[bytes]) -> None:
        self.selector.unregister(stream)
        with contextlib.suppress(OSError):
            stream.close()

    def poll(self, timeout: float) -> list[tuple[str, str]]:
        """Wait up to ``timeout`` for output; the complete lines that came, tagged out/err."""
        lines: list[tuple[str, str]] = []
        for key, _ in self.selector.select(timeout):
            stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
            if key.data is None:
                self._write(stream)
                continue
            splitter: _Lines = key.data
            try:
                data = os.read(stream.fileno(), _READ_SIZE)
            except BlockingIOError:
                continue
            if data:
                lines += [(splitter.tag, line) for line in splitter.feed(data)]
            else:
                lines += [(splitter.tag, line) for line in splitter.rest()]
                self._drop(stream)
                self.open_streams -= 1
        return lines

    def _write(self, stream: IO[bytes]) -> None:
        try:
            written = os.write(stream.fileno(), self.stdin_data[:_WRITE_SIZE])
        except BlockingIOError:
            return
        except OSError:
            written = len(self.stdin_data)  # the child stopped reading: its exit code will say why
        self.stdin_data = self.stdin_data[written:]
        if not self.stdin_data:
            self._drop(stream)

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            self._drop(key.fileobj)  # type: ignore[arg-type]
        self.selector.close()


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
    sandbox: SandboxPolicy | None = None,
    on_start: StartHandler | None = None,
    on_stderr_line: LineHandler | None = None,
) -> ProcessResult:
    """Run ``argv`` to its end; every stdout line goes to ``on_line`` (and every stderr
    line to ``on_stderr_line`` when given: some CLIs report their retries there), and
    ``on_tick`` is called at least every ``tick_s`` seconds. Either handler
    returning a reason stops the process (all of it is killed).

    Under ``sandbox`` when given. ``on_start`` learns what identifies the process
    (group, leader start, marker) as soon as it runs, to be recorded before it
    can do anything that matters. stdout and stderr (prefixed ``[stderr]``) are
    appended to ``log_path`` as they arrive. Raises AgentUnavailable if
    ``argv[0]`` cannot be executed.
    """
    env = dict(env)
    marker = env.setdefault(RUN_MARKER, uuid.uuid4().hex)
    _executable(argv[0], cwd, env)
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    forks = PidWindow.now(0).forks
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list from the user's own config, never a shell
            _launch_argv(argv, cwd, sandbox),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise AgentUnavailable(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
    pump = _Pump(proc, (stdin_text or "").encode("utf-8"))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    err_tail: deque[str] = deque(maxlen=TAIL_LINES)
    timed_out = idle = False
    stopped: str | None = None
    last_output = last_tick = started
    exited_at = 0.0
    try:
        if on_start is not None:
            on_start(AttemptProcess(group=proc.pid, leader_start=start_ticks(proc.pid), marker=marker))
        with log.open("a", encoding="utf-8") as out:
            while pump.open_streams:
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
                        tick_s - (now - last_tick),
                        timeout_s - (now - started),
                        0.25 if exited_at else tick_s,
                    ),
                )
                for tag, line in pump.poll(wait):
                    last_output = time.monotonic()
                    if tag == "out":
                        out.write(line + "\n")
                        tail.append(line)
                        if stopped is None:
                            stopped = on_line(line)
                    else:
                        out.write(f"[stderr] {line}\n")
                        err_tail.append(line)
                        if stopped is None and on_stderr_line is not None:
                            stopped = on_stderr_line(line)
                out.flush()
                if stopped is None and time.monotonic() - last_tick >= tick_s:
                    last_tick = time.monotonic()
                    stopped = on_tick()
                if stopped is not None:
                    break
            if pump.open_streams:
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
        pump.close()
        # what left the group (setsid, daemonised): started after the attempt's first process
        kill_marked(f"{RUN_MARKER}={marker}", window=PidWindow(proc.pid, forks))
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


def run_marked(
    argv: Sequence[str], *, env: Mapping[str, str], agent: str, task_id: str, **run: Any
) -> ProcessResult:
    """``run_process`` for an agent CLI, then kill whatever of the run is left anywhere (the CLI's
    tools may start sessions of their own, outside its group): every process whose environment
    holds the run's marker (``env[RUN_MARKER]``, set here when absent), with a warning naming
    ``agent``, the task and the pids. The marker sweep runs however the run ended."""
    env = dict(env)
    marker = env.setdefault(RUN_MARKER, uuid.uuid4().hex)
    try:
        return run_process(argv, env=env, **run)
    finally:
        leftovers = kill_marked(f"{RUN_MARKER}={marker}")
        if leftovers:
            logger.warning(
                "killed processes the %s run left behind", agent, extra={"task": task_id, "pids": leftovers}
            )
