"""`orch doctor`'s model: what one check found, the rules that judge a probe, and the verdict.

Probing the machine is I/O and lives in adapters (``adapters.host``, the agents' own
``check()``, the Ollama adapter); this module only says what a probe's result means and
what to do about it, so every message a user reads is decided here and tested without a
machine in a particular state.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

import attrs

from orchcore.sandbox import SandboxMode


class Status(enum.StrEnum):
    """How one check came out: ``fail`` stops a run, ``warn`` makes it worse, ``skip`` does not apply."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@attrs.frozen
class Check:
    """One thing doctor looked at: its name, what it found, and (unless ok) the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def skip(name: str, detail: str) -> Check:
    return Check(name, Status.SKIP, detail)


# File systems SQLite's locking (and WAL's shared memory) is not safe on.
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "fuse.rclone", "glusterfs"}
)


def state_dir_check(
    path: str, *, writable: str | None, filesystem: str | None, schema: int | None, expected_schema: int
) -> Check:
    """The state dir: ``writable`` is None when a file could be written there, else why not;
    ``filesystem`` its mount's type (None: unknown); ``schema`` the database's version (None: no
    database yet)."""
    name = "state dir"
    if writable is not None:
        return fail(
            name,
            f"{path} is not writable: {writable}",
            "make it writable for this user (chown/chmod), or set paths.state_dir to a folder that is",
        )
    if filesystem in NETWORK_FILESYSTEMS:
        return fail(
            name,
            f"{path} is on a network file system ({filesystem}): SQLite's locks are not safe there",
            "set paths.state_dir to a folder on a local disk",
        )
    if schema is None:
        return ok(name, f"{path} (writable; no sessions yet)")
    if schema > expected_schema:
        return fail(
            name,
            f"{path}/state.db has schema version {schema}; this orch reads {expected_schema}",
            "upgrade orch to the version that wrote it (or use another paths.state_dir)",
        )
    if schema < expected_schema:
        return ok(name, f"{path} (schema {schema}: upgraded to {expected_schema} on the next write)")
    return ok(name, f"{path} (schema {schema})")


def sandbox_check(mode: SandboxMode, remote: str | None, found: str | None, why: str) -> Check:
    """The agents' OS sandbox under ``sandbox.mode``: ``remote`` names the executor when agents
    do not run here; ``found`` is bubblewrap's path when a probe sandbox started, else ``why`` not."""
    name = "sandbox"
    if mode is SandboxMode.OFF:
        return skip(name, "turned off in the config (sandbox: off)")
    if remote is not None:
        return skip(name, f"agents run on {remote}, which is their boundary")
    if found is not None:
        return ok(name, f"bubblewrap starts a sandbox here ({found})")
    fix = (
        "apt-get install bubblewrap; if it is installed, allow unprivileged user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04 "
        "kernel.apparmor_restrict_unprivileged_userns=0); in a Docker container give it "
        "--security-opt seccomp=unconfined, apparmor=unconfined and systempaths=unconfined (compose.yaml does)"
    )
    if mode is SandboxMode.ON:
        return fail(name, f"sandbox: on, but {why}: no agent can start", fix)
    return warn(
        name,
        f"agents would run WITHOUT the OS sandbox: {why}",
        f"{fix}; or say it is meant with sandbox: off",
    )


def port_check(host: str, port: int, problem: str | None) -> Check:
    """Whether `orch serve` can listen on ``host:port``; ``problem`` is why a bind failed."""
    name = f"port {port}"
    if problem is None:
        return ok(name, f"{host}:{port} is free for `orch serve`")
    return fail(
        name,
        f"cannot listen on {host}:{port}: {problem}",
        f"stop what listens there (`ss -ltnp 'sport = :{port}'`), or run `orch serve --port N` with another port",
    )


MAX_CLOCK_SKEW_S = 5.0


def clock_check(zone: str | None, synchronised: bool | None, skew_s: float | None) -> Check:
    """The clock: the machine's time zone name, whether NTP says it is in sync (None: unknown)
    and, when a server's Date header was compared, how far off it is."""
    name = "clock"
    where = zone or "an unnamed zone"
    if skew_s is not None and abs(skew_s) > MAX_CLOCK_SKEW_S:
        return fail(
            name,
            f"the clock is {skew_s:+.0f} s off (time zone {where})",
            "turn on time sync: `timedatectl set-ntp true` (or install chrony)",
        )
    if synchronised is False:
        return warn(
            name,
            f"time zone {where}; the clock is not synchronised (budget days and timeouts follow it)",
            "turn on time sync: `timedatectl set-ntp true` (or install chrony)",
        )
    if zone is None:
        return warn(
            name,
            "the machine's time zone has no name: a 'local' budget day falls back to UTC",
            "set one: `timedatectl set-timezone Europe/Berlin` (or TZ=...), or budget.timezone in the config",
        )
    synced = "" if synchronised is None else ", synchronised"
    return ok(name, f"time zone {zone}{synced}")


def exit_code(checks: Iterable[Check]) -> int:
    """0 when nothing failed, else 1 (warnings do not fail: they are said)."""
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def summary(checks: Sequence[Check]) -> str:
    """One line: how many checks passed, and the names of those that did not."""
    failed = [c.name for c in checks if c.status is Status.FAIL]
    warned = [c.name for c in checks if c.status is Status.WARN]
    passed = sum(1 for c in checks if c.status is Status.OK)
    parts = [f"{passed} ok"]
    if warned:
        parts.append(f"{len(warned)} warning{'s' * (len(warned) != 1)} ({', '.join(warned)})")
    if failed:
        parts.append(f"{len(failed)} failed ({', '.join(failed)})")
    verdict = "not ready" if failed else "ready"
    return f"{verdict}: {'; '.join(parts)}"
