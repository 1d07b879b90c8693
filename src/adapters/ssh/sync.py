"""The workspace to the host and its changes back, as tar streams over the SSH connection.

Tar rather than a git bundle: an agent's workspace has uncommitted and untracked
files that a bundle leaves out, and may be no repository at all; ``.git`` travels
as files, so the local refs check sees what the agent did to it. Rather than
rsync: it needs nothing on the host beyond ``tar`` and GNU ``find``, and no
second login. Going back only what the manifest (type, size, mtime) says changed
is sent; what is gone there is deleted here. Extraction uses tarfile's ``data``
filter: a member that would land outside the workspace (``..``, an absolute
path, through a symlink) is refused and reported, never written.
"""

from __future__ import annotations

import logging
import shlex
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import attrs
import paramiko

from adapters.ssh.connection import HostLost, run_quiet

logger = logging.getLogger(__name__)

Manifest = dict[str, tuple[str, int, str]]
"""path relative to the workspace -> (type letter from find, size, mtime)."""

_CHUNK = 1 << 16


@attrs.define
class _ChannelWriter:
    """The write end tarfile streams into: a remote command's stdin."""

    channel: paramiko.Channel

    def write(self, data: bytes) -> int:
        self.channel.sendall(data)
        return len(data)


def _excluded(relative: str, exclude: Iterable[str]) -> bool:
    return any(relative == e or relative.startswith(e.rstrip("/") + "/") for e in exclude)


def upload(client: paramiko.SSHClient, workdir: str, remote: str, exclude: tuple[str, ...]) -> Manifest:
    """Replace ``remote`` with a copy of ``workdir``; the manifest of what is there now."""
    quoted = shlex.quote(remote)
    command = f"rm -rf {quoted} && mkdir -p {quoted} && tar -xf - -C {quoted}"
    try:
        channel = client.get_transport().open_session()
        channel.exec_command(command)
        root = Path(workdir)
        with tarfile.open(fileobj=_ChannelWriter(channel), mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root).as_posix()
                if not _excluded(relative, exclude):
                    tar.add(str(path), arcname=relative, recursive=False)
        channel.shutdown_write()
        status = channel.recv_exit_status()
        err = channel.recv_stderr(_CHUNK).decode("utf-8", "replace").strip()
        channel.close()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise HostLost(f"ssh connection lost while copying the workspace: {exc}") from exc
    if status != 0:
        raise HostLost(f"copying the workspace to {remote} on the host failed (exit {status}): {err}")
    return manifest(client, remote)


def manifest(client: paramiko.SSHClient, remote: str) -> Manifest:
    """What is under ``remote`` on the host."""
    listing = run_quiet(
        client, f"cd {shlex.quote(remote)} && find . -mindepth 1 -printf '%y\\t%s\\t%T@\\t%P\\0'"
    )
    found: Manifest = {}
    for entry in listing.decode("utf-8", "surrogateescape").split("\0"):
        if entry:
            kind, size, mtime, relative = entry.split("\t", 3)
            found[relative] = (kind, 0 if kind == "d" else int(size), "" if kind == "d" else mtime)
    return found


def download(
    client: paramiko.SSHClient, remote: str, workdir: str, before: Manifest, exclude: tuple[str, ...]
) -> list[str]:
    """Bring what changed under ``remote`` since ``before`` into ``workdir``; the problems, if any."""
    after = manifest(client, remote)
    changed = sorted(p for p, entry in after.items() if before.get(p) != entry and not _excluded(p, exclude))
    problems: list[str] = []
    root = Path(workdir)
    if changed:
        names = "\0".join(changed).encode("utf-8", "surrogateescape") + b"\0"
        command = f"tar -cf - -C {shlex.quote(remote)} --no-recursion --null -T -"
        try:
            channel = client.get_transport().open_session()
            channel.exec_command(command)
            channel.sendall(names)
            channel.shutdown_write()
            with channel.makefile("rb") as stream:
                problems += _extract(stream, root)
            status = channel.recv_exit_status()
            channel.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise HostLost(f"ssh connection lost while bringing the changes back: {exc}") from exc
        if status != 0:
            problems.append(f"tar on the host exited {status} while sending the changes")
    gone = sorted((p for p in before if p not in after and not _excluded(p, exclude)), reverse=True)
    for relative in gone:  # deepest first, so a folder is empty when its turn comes
        path = root / relative
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            problems.append(f"cannot delete {relative} here as it was on the host: {exc.strerror or exc}")
    return problems


def _extract(stream: IO[bytes], root: Path) -> list[str]:
    problems = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            target = root / member.name
            if member.isfile() and (target.is_symlink() or target.is_dir()):
                _remove(target)
            try:
                tar.extract(member, root, filter="data")
            except (tarfile.FilterError, OSError) as exc:
                problems.append(f"{member.name}: not brought back ({exc})")
    return problems


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() and not child.is_symlink() else child.unlink()
        path.rmdir()
    else:
        path.unlink()
