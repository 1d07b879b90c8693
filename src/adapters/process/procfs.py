"""What the kernel's ``/proc`` says about an attempt's processes: find them by marker, group and pid
window, and kill them. Linux only; elsewhere nothing is found."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from orchcore.errors import AgentUnavailable
from orchcore.sandbox import AttemptProcess

RUN_MARKER = "ORCHCORE_AGENT_RUN"
"""Set to a fresh id in every run's environment, to find what the run left behind."""
_SWEEP_ROUNDS = 3
_RESERVED_PIDS = 1000  # the kernel wraps to 300 (RESERVED_PIDS), not 1: a cycle is a little shorter


def _read(path: str) -> bytes | None:
    """A ``/proc`` file's bytes, None if it is gone or not ours to read. Plain ``os`` calls: a
    sweep reads one per process on the machine, where ``pathlib`` tripled the cost."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _stat_fields(pid: int, proc_root: Path) -> list[str] | None:
    """``/proc/PID/stat`` from field 3 (state) on; None if the process is gone."""
    stat = _read(f"{proc_root}/{pid}/stat")
    if stat is None:
        return None
    return stat.decode("utf-8", "replace").rpartition(")")[2].split()


def start_ticks(pid: int, proc_root: Path = Path("/proc")) -> int:
    """When ``pid`` started, in clock ticks since boot (0 if unknown): a pid's identity."""
    fields = _stat_fields(pid, proc_root)
    return int(fields[19]) if fields and len(fields) > 19 else 0


def _alive(pid: int, proc_root: Path) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid, proc_root)
    return bool(fields) and fields[0] not in ("Z", "X")  # type: ignore[index]


def _has_entry(pid: int, needle: bytes, proc_root: Path) -> bool:
    environ = _read(f"{proc_root}/{pid}/environ")  # None: gone meanwhile, or not ours to read
    return environ is not None and needle in environ.split(b"\0")


def _kill_and_wait(find: Callable[[], list[int]], proc_root: Path, wait_s: float) -> list[int]:
    killed: list[int] = []
    for _ in range(_SWEEP_ROUNDS):  # a shell being killed may have forked once more
        found = find()
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed.extend(p for p in found if p not in killed)
        deadline = time.monotonic() + wait_s
        while any(_alive(pid, proc_root) for pid in found) and time.monotonic() < deadline:
            time.sleep(0.02)
    return killed


def _pids(proc_root: Path) -> list[int]:
    with os.scandir(
        proc_root
    ) as listing:  # not Path.iterdir: no Path object per process, after every attempt
        return [int(entry.name) for entry in listing if entry.name.isdigit()]


def _kernel_number(path: Path, prefix: str = "") -> int | None:
    """The number in a ``/proc`` file (after ``prefix`` on its line, if given); None if unreadable."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(prefix):
            with contextlib.suppress(ValueError):
                return int(line.removeprefix(prefix).strip())
    return None


@attrs.frozen
class PidWindow:
    """The pids an attempt's processes can have: those given out from its first process on.

    Linux gives out pids in increasing order, wrapping at ``pid_max``, so everything the
    attempt started has a pid in the cyclic range from ``first`` to the last pid given out,
    unless a whole cycle of pids went by: the kernel's fork counter (``forks`` at the start)
    says when that may be, and then any pid may be the attempt's. Skipping the other pids
    spares reading the environment of every process on the machine after every attempt.
    """

    first: int
    forks: int | None

    @classmethod
    def now(cls, first: int, proc_root: Path = Path("/proc")) -> PidWindow:
        """A window opened now, for an attempt whose first process is (or will be) ``first``."""
        return cls(first, _kernel_number(proc_root / "stat", "processes "))

    def holds(self, pid: int, *, last: int | None, forks: int | None, pid_max: int | None) -> bool:
        """True if ``pid`` may be the attempt's, given the last pid, fork count and pid_max now."""
        if self.forks is None or forks is None or last is None or pid_max is None:
            return True
        if forks - self.forks >= pid_max - _RESERVED_PIDS:
            return True  # a whole cycle may have gone by: any pid may be one the attempt started
        if last >= self.first:
            return self.first <= pid <= last
        return pid >= self.first or pid <= last

    def predicate(self, proc_root: Path = Path("/proc")) -> Callable[[int], bool]:
        """``holds`` with the kernel's counters read once, now."""
        last = _kernel_number(proc_root / "sys" / "kernel" / "ns_last_pid")
        forks = _kernel_number(proc_root / "stat", "processes ")
        pid_max = _kernel_number(proc_root / "sys" / "kernel" / "pid_max")
        return lambda pid: self.holds(pid, last=last, forks=forks, pid_max=pid_max)


def kill_marked(
    entry: str, proc_root: Path = Path("/proc"), wait_s: float = 2.0, window: PidWindow | None = None
) -> list[int]:
    """SIGKILL every process whose environment holds ``entry`` (``NAME=value``); return their pids.

    Claude Code starts each Bash tool command in a session of its own, and a
    ``setsid`` job leaves the group too; they inherit the run's environment, so a
    per-run marker finds them. Only pids in ``window`` are looked at, when given. Waits
    up to ``wait_s`` for them to be gone. Linux only (reads ``/proc``); elsewhere it finds nothing.
    """
    needle, own = entry.encode(), os.getpid()
    if not proc_root.is_dir():
        return []

    def find() -> list[int]:
        maybe = window.predicate(proc_root) if window is not None else lambda _: True  # anew each round
        return [p for p in _pids(proc_root) if p != own and maybe(p) and _has_entry(p, needle, proc_root)]

    return _kill_and_wait(find, proc_root, wait_s)


def process_table(entry: str, proc_root: Path = Path("/proc")) -> tuple[list[tuple[int, int, int]], set[int]]:
    """``(pid, parent pid, start ticks)`` of every live process, and the pids whose environment holds
    ``entry`` (a process's environment may be unreadable: its parent link still is)."""
    table, marked, needle, own = [], set(), entry.encode(), os.getpid()
    if not proc_root.is_dir():
        return [], set()
    for pid in _pids(proc_root):
        fields = _stat_fields(pid, proc_root)
        if pid == own or not fields or len(fields) < 20 or fields[0] in ("Z", "X"):
            continue
        table.append((pid, int(fields[1]), int(fields[19])))
        if _has_entry(pid, needle, proc_root):
            marked.add(pid)
    return table, marked


def reap_attempt(attempt: AttemptProcess, proc_root: Path = Path("/proc"), wait_s: float = 10.0) -> list[int]:
    """Kill what is left of an attempt whose orch died; return once none of it runs.

    Its process group (members that started no earlier than the recorded leader:
    a pgid is not reused while any member lives) and every process carrying its
    marker. Raises AgentUnavailable if some of it is still alive after ``wait_s``,
    so a new attempt never overlaps the old one.
    """
    needle, own = f"{RUN_MARKER}={attempt.marker}".encode(), os.getpid()
    if not proc_root.is_dir():
        return []

    def ours(pid: int) -> bool:
        fields = _stat_fields(pid, proc_root)
        if not fields or len(fields) < 20 or fields[0] in ("Z", "X"):
            return False
        in_group = int(fields[2]) == attempt.group and int(fields[19]) >= attempt.leader_start
        return in_group or _has_entry(pid, needle, proc_root)

    def find() -> list[int]:
        return [p for p in _pids(proc_root) if p != own and ours(p)]

    killed = _kill_and_wait(find, proc_root, wait_s)
    left = find()
    if left:
        raise AgentUnavailable(
            f"processes of the previous attempt still run after SIGKILL (pids {left}); not starting another"
        )
    return killed
