"""bubblewrap (``bwrap``): the policy's boundary enforced by Linux namespaces and mounts.

The whole file system is bound read-only, the policy's writable paths are bound
back read-write, hidden directories get an empty read-only tmpfs and hidden files
``/dev/null`` over them; the agent gets a PID namespace of its own that dies with
bwrap, and bwrap dies with orch (``--die-with-parent``).
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from orchcore.sandbox import Network, SandboxPolicy, under

_PROBE_TIMEOUT_S = 10.0


class PathKind(enum.Enum):
    """What is at a path on the host, which decides how it is bound or hidden."""

    DIRECTORY = "directory"
    FILE = "file"
    MISSING = "missing"


def host_kind(path: str) -> PathKind:
    """The kind of ``path`` on this machine (symlinks followed)."""
    if os.path.isdir(path):  # noqa: PTH112 - one stat, strings in and out
        return PathKind.DIRECTORY
    if os.path.exists(path):  # noqa: PTH110
        return PathKind.FILE
    return PathKind.MISSING


def _by_depth(paths: Sequence[str]) -> list[str]:
    """Outer paths first: a bind mounted later covers what an earlier one put there."""
    return sorted(dict.fromkeys(paths), key=lambda p: (p.count("/"), p))


def bwrap_argv(
    policy: SandboxPolicy,
    command: Sequence[str],
    *,
    cwd: str,
    kind: Callable[[str], PathKind] = host_kind,
    bwrap: str = "bwrap",
    kept_in_tmp: Sequence[str] = (),
) -> list[str]:
    """The argv that runs ``command`` in ``cwd`` under ``policy``; ``kind`` says what each path is.

    ``kept_in_tmp``: folders under /tmp shown again read-only in the private /tmp (where the
    agent's own program is installed), bound before anything is hidden so what the policy hides
    inside them stays hidden.

    Paths that do not exist are left out (nothing there to protect or to write).
    Order matters to bwrap: the read-only root, then writable binds, then what is
    hidden, then what is shown again read-only, then the writable paths inside a
    hidden folder (the guards' refusals folder in the state dir) bound again, then
    the hidden tmpfs made read-only.
    """
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if policy.private_tmp:
        argv += ["--tmpfs", "/tmp"]  # noqa: S108 - a fresh, private tmpfs, not the host's /tmp
        for path in _by_depth(kept_in_tmp):
            if kind(path) is not PathKind.MISSING:
                argv += ["--ro-bind", path, path]
    for path in _by_depth(policy.writable):
        if kind(path) is not PathKind.MISSING:
            argv += ["--bind", path, path]
    hidden_dirs: list[str] = []
    for path in _by_depth(policy.hidden):
        if any(under(path, outer) for outer in hidden_dirs):
            continue  # already out of sight
        found = kind(path)
        if found is PathKind.DIRECTORY:
            argv += ["--tmpfs", path]
            hidden_dirs.append(path)
        elif found is PathKind.FILE:
            argv += ["--ro-bind", "/dev/null", path]
    for path in _by_depth(policy.readable):
        if kind(path) is not PathKind.MISSING:
            argv += ["--ro-bind", path, path]
    for path in _by_depth(policy.writable):  # writable inside what a hidden folder shows again read-only
        shown_again = any(under(path, shown) for shown in policy.readable)
        if (
            shown_again
            and any(under(path, outer) for outer in hidden_dirs)
            and kind(path) is not PathKind.MISSING
        ):
            argv += ["--bind", path, path]
    for path in hidden_dirs:
        argv += ["--remount-ro", path]
    if policy.network is Network.CLOSED:
        argv.append("--unshare-net")
    # --new-session: no TIOCSTI into orch's terminal; --die-with-parent: the PID namespace dies with orch
    argv += ["--unshare-pid", "--die-with-parent", "--new-session", "--chdir", cwd, "--", *command]
    return argv


def _resolved(paths: Sequence[str]) -> tuple[str, ...]:
    """Each path with its symlinks resolved: hiding a link would hide nothing (and bwrap
    cannot mount over one), hiding its target hides what it leads to."""
    return tuple(os.path.realpath(path) for path in paths)


_TMP = "/tmp"  # noqa: S108 - the host's /tmp, which a private_tmp policy replaces


def program_folder_in_tmp(command: Sequence[str]) -> str | None:
    """The folder directly under /tmp that holds ``command``'s program (its real path, symlinks
    followed: ``node_modules/.bin/x`` leads into the package), else None.

    A private /tmp would hide a program installed there (a checkout cloned under /tmp with its
    tools in it): bwrap then fails with ``execvp ...: No such file or directory``. That one folder
    is shown again, read-only; nothing else of the host's /tmp is.
    """
    if not command:
        return None
    found = command[0] if os.path.isabs(command[0]) else shutil.which(command[0])  # noqa: PTH117
    if found is None:
        return None
    for candidate in (os.path.abspath(found), os.path.realpath(found)):  # noqa: PTH100
        if under(candidate, _TMP) and candidate != _TMP:
            first = candidate[len(_TMP) + 1 :].split("/", 1)[0]
            return os.path.realpath(f"{_TMP}/{first}")
    return None


def sandboxed(policy: SandboxPolicy, command: Sequence[str], *, cwd: str, bwrap: str = "bwrap") -> list[str]:
    """``bwrap_argv`` against this machine's file system, symlinks resolved (bwrap mounts on real paths).

    With a private /tmp, the folder under /tmp holding the program itself stays visible read-only.
    """
    real = SandboxPolicy(
        writable=_resolved(policy.writable),
        hidden=_resolved(policy.hidden),
        readable=_resolved(policy.readable),
        network=policy.network,
        private_tmp=policy.private_tmp,
    )
    kept = program_folder_in_tmp(command) if policy.private_tmp else None
    return bwrap_argv(real, command, cwd=cwd, bwrap=bwrap, kept_in_tmp=() if kept is None else (kept,))


def probe_bwrap(path: str | None = None) -> tuple[str | None, str]:
    """``(bwrap's path, "")`` if a sandbox can start here, else ``(None, why not)``."""
    found = path or shutil.which("bwrap")
    if found is None:
        return None, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = bwrap_argv(SandboxPolicy(), ["/bin/true"], cwd="/", bwrap=found)
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            probe, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot run {found}: {exc}"
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return None, f"bwrap cannot create a sandbox here ({said[0]}); user namespaces may be disabled"
    if not Path(found).is_absolute():
        found = str(Path(found).resolve())
    return found, ""
