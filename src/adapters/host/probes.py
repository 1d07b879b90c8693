"""Each probe answers one question about this machine and never raises: a failure is the answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

_TIMEOUT_S = 10.0


def command_version(
    executable: str, args: Sequence[str] = ("--version",), env: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """``(first line of its version output, "")``, or ``(None, why not)`` when it is not found or fails."""
    path = env.get("PATH", os.defpath) if env is not None else None
    found = shutil.which(executable, path=path)
    if found is None:
        return None, f"{executable} is not on the PATH"
    try:
        done = subprocess.run(  # noqa: S603 - the configured executable, no shell
            [found, *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot run {found}: {exc}"
    said = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if done.returncode != 0:
        return None, f"{found} {' '.join(args)} exited {done.returncode}: {said[-1] if said else ''}".rstrip(
            ": "
        )
    return (said[0] if said else ""), ""


def writable_problem(folder: Path) -> str | None:
    """None when a file can be created in ``folder`` now, or in the nearest folder above it that
    exists (orch makes the rest on first use); else why not. Creates nothing that stays."""
    here = folder
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        return f"{here} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=here, prefix=".orch-doctor-"):
            pass
    except OSError as exc:
        return f"cannot create a file in {here}: {exc.strerror or exc}"
    return None


def filesystem_type(path: Path, mounts: Path = Path("/proc/self/mounts")) -> str | None:
    """The type of the file system ``path`` is on (the longest mount point above it); None if unknown."""
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > best[0]):
            best = (len(point), fields[2])
    return None if best is None else best[1]


def port_problem(host: str, port: int) -> str | None:
    """None when a listener can bind ``host:port`` now, else the error (address in use, ...)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def unreachable(url: str, timeout_s: float = 5.0) -> str | None:
    """None when a TCP connection to ``url``'s host and port opens, else why not (no secret in it)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"not a URL with a host: {parts.scheme or '?'}://..."
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"
    return None


def time_zone_name() -> str | None:
    """The machine's IANA time zone (tzlocal: TZ, /etc/timezone, /etc/localtime); None if it has none."""
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
    except Exception:  # noqa: BLE001 - tzlocal raises several kinds for a broken zone setup
        return None
    return name or None


def ntp_synchronised() -> bool | None:
    """What systemd-timedated says about time sync; None where it cannot tell (no systemd, a container)."""
    found = shutil.which("timedatectl")
    if found is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [found, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    if done.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"
