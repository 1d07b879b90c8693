"""The OS sandbox an agent runs in, as values: what it may write, what it must not see.

Pattern matching on command text can never be complete; the operating system can
enforce a boundary. This module says what the boundary is (pure values, no I/O);
an adapter compiles it into the controls of one mechanism (bubblewrap on Linux).
It also names what identifies an attempt's processes, so a resumed session can
kill what a crashed one left running before it starts the next attempt.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import attrs

from orchcore.records import AttemptProcess, Event, EventKind, JsonObject, Mutation, Snapshot
from orchcore.state import TaskState

__all__ = [
    "HOME_SECRETS",
    "NO_REAPER",
    "AttemptProcess",
    "Network",
    "ProcessReaper",
    "SandboxMode",
    "SandboxPolicy",
    "SandboxStatus",
    "agent_sandbox",
    "left_running",
    "process_data",
    "process_from_data",
    "record_process",
    "sandbox_event",
    "sandbox_line",
    "under",
]


class SandboxMode(enum.StrEnum):
    """Whether agents run in the sandbox: ``auto`` uses it where it works and says so where not."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class Network(enum.StrEnum):
    """The sandbox's network: open (agents must reach their API) or closed (no interface but lo)."""

    OPEN = "open"
    CLOSED = "closed"


HOME_SECRETS: tuple[str, ...] = (
    ".ssh",
    ".aws",
    ".config/gh",
    ".netrc",
    ".docker",
    ".gnupg",
    ".kube",
    ".git-credentials",
    ".config/gcloud",
    ".azure",
    ".pypirc",
)
"""What under HOME holds keys and tokens: never visible inside the sandbox."""


def _absolute(value: Iterable[str]) -> tuple[str, ...]:
    paths = tuple(value)
    for path in paths:
        if not posixpath.isabs(path):
            raise ValueError(f"sandbox paths must be absolute, got {path!r}")
    return tuple(dict.fromkeys(posixpath.normpath(p) for p in paths))


@attrs.frozen
class SandboxPolicy:
    """What a sandboxed agent process may do to the file system and the network.

    Everything is read-only but ``writable``; ``hidden`` paths are not visible at all
    (an empty directory or an empty file stands in), even under a writable one;
    ``readable`` paths are shown again read-only under a hidden one (the run's own
    settings, the guards' shims: the agent must run them, never change them).
    /tmp is private to the run when ``private_tmp``.
    """

    writable: tuple[str, ...] = attrs.field(default=(), converter=_absolute)
    hidden: tuple[str, ...] = attrs.field(default=(), converter=_absolute)
    readable: tuple[str, ...] = attrs.field(default=(), converter=_absolute)
    network: Network = Network.OPEN
    private_tmp: bool = True
    home: str | None = None  # the agent's HOME: what ``~`` in a tool call it makes means

    def allowing_writes(self, *paths: str) -> SandboxPolicy:
        """The same policy with ``paths`` writable too (an agent's own config or cache dir)."""
        return attrs.evolve(self, writable=(*self.writable, *paths))

    def showing(self, *paths: str) -> SandboxPolicy:
        """The same policy with ``paths`` readable again under what is hidden."""
        return attrs.evolve(self, readable=(*self.readable, *paths))


def under(path: str, folder: str) -> bool:
    """True if ``path`` is ``folder`` or inside it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def agent_sandbox(
    *,
    workdir: str,
    home: str | None,
    orch_paths: Iterable[str] = (),
    guard_dir: str | None = None,
    extra_hidden: Iterable[str] = (),
    writable_outside: Iterable[str] = (),
    network: Network = Network.OPEN,
) -> SandboxPolicy:
    """The default policy of a local agent.

    The workspace is writable; HOME's secrets, ``extra_hidden`` (relative ones are
    under HOME) and orch's own files (``orch_paths``: state dir, config file, ``.env``
    files) are hidden; the guard dir stays readable so its shims and hooks still run.
    """
    hidden = list(orch_paths)
    if home is not None:
        hidden += [posixpath.join(home, name) for name in HOME_SECRETS]
    for path in extra_hidden:
        expanded = (
            posixpath.join(home, path.removeprefix("~/")) if home and not path.startswith("/") else path
        )
        hidden.append(expanded)
    readable = [guard_dir] if guard_dir is not None else []
    return SandboxPolicy(
        writable=(workdir, *writable_outside),
        hidden=hidden,
        readable=readable,
        network=network,
        home=home,
    )


@attrs.frozen
class SandboxStatus:
    """Whether this run's agents are sandboxed, and why not: what start-up, status and report say."""

    active: bool
    reason: str = ""
    wanted: bool = True  # False when the user turned it off: no warning then

    def describe(self) -> str:
        """``sandbox: on (bubblewrap)`` or ``sandbox: off (why)``."""
        return f"sandbox: {'on' if self.active else 'off'}" + (f" ({self.reason})" if self.reason else "")


ProcessReaper = Callable[[AttemptProcess], object]
"""Kills what is left of an attempt and returns once none of it runs."""


def _ignore_processes(_: AttemptProcess) -> None:
    return None


NO_REAPER: ProcessReaper = _ignore_processes


def process_data(process: AttemptProcess) -> JsonObject:
    """The event data an agent reports its process with (kind ``process``)."""
    data: JsonObject = {
        "group": process.group,
        "leader_start": process.leader_start,
        "marker": process.marker,
    }
    if process.host:
        data["host"] = process.host
    return data


def process_from_data(data: Mapping[str, object]) -> AttemptProcess | None:
    """The process an agent event reported; None if the data is not such a report."""
    group, start, marker = data.get("group"), data.get("leader_start"), data.get("marker")
    host = data.get("host", "")
    if not (isinstance(group, int) and isinstance(start, int) and isinstance(marker, str)):
        return None
    if not isinstance(host, str) or isinstance(group, bool) or isinstance(start, bool):
        return None
    if group > 0 or (host and group == 0 and marker):  # elsewhere, the marker alone finds them
        return AttemptProcess(group=group, leader_start=start, marker=marker, host=host)
    return None


def left_running(snap: Snapshot) -> list[AttemptProcess]:
    """The recorded processes of attempts still stored as running: what a crash may have left."""
    return [
        run.attempts[-1].process
        for run in snap.runs.values()
        if run.state is TaskState.RUNNING and run.attempts and run.attempts[-1].process is not None
    ]


def record_process(snap: Snapshot, task_id: str, attempt: int, process: AttemptProcess) -> Mutation:
    """Store what identifies the processes of ``task_id``'s running ``attempt`` (nothing if it is not)."""
    run = snap.run(task_id)
    if run.state is not TaskState.RUNNING or run.attempt != attempt:
        return Mutation()
    last = attrs.evolve(run.attempts[-1], process=process)
    return Mutation(runs=(attrs.evolve(run, attempts=(*run.attempts[:-1], last)),))


def sandbox_event(status: SandboxStatus, now: datetime) -> Event:
    """The session event that says whether agents run in the sandbox (what status and report show)."""
    return Event(
        EventKind.SANDBOX,
        now,
        data={
            "active": status.active,
            "wanted": status.wanted,
            "reason": status.reason,
            "text": status.describe(),
        },
    )


def sandbox_line(events: Iterable[Event]) -> str | None:
    """What the latest run said about the sandbox, for status and report: ``sandbox: on (bubblewrap,
    network open)``, ``sandbox: off (why)``, led by ``WARNING`` when it was wanted but could not run."""
    said = [e for e in events if e.kind is EventKind.SANDBOX]
    if not said:
        return None
    data = said[-1].data
    text = (
        str(data.get("text", ""))
        or SandboxStatus(data.get("active") is True, str(data.get("reason", ""))).describe()
    )
    unwanted_off = data.get("active") is not True and data.get("wanted") is not False
    return f"WARNING: {text}, agents are not contained" if unwanted_off else text
