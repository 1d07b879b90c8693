"""The SSH executor: an agent's command runs on another machine, its whole process tree killable.

The command starts as ``setsid -w sh run.sh``: a session and process group of its
own whose id the script prints first, so a timeout or stop sends ``kill -TERM --
-PGID`` (then ``-KILL``) over a second channel; closing a channel would leave it
running. The script is uploaded over SFTP (mode 0700) holding the environment,
so no secret is on a command line, and deletes itself before the command starts.
orch's guard directory is copied beside it with its paths rewritten and put first
on PATH. A connection lost mid-command fails the attempt as retryable, and the
remote group is killed once the host answers again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import posixpath
import shlex
import tarfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import paramiko

from adapters.ssh.connection import HostLost, SshTarget, alive, connect, run_quiet
from adapters.ssh.stream import RemoteRun
from adapters.ssh.sync import Manifest, download, upload
from orchcore.errors import AgentUnavailable
from orchcore.ports.executor import (
    AGENT_PATH_ENV,
    ExecResult,
    ExecSpec,
    LineHandler,
    StartHandler,
    TickHandler,
)
from orchcore.records import AttemptProcess

logger = logging.getLogger(__name__)

MARKER_VAR = "ORCH_RUN_MARKER"
_KEEP_FROM_LOGIN = ("HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def kill_script(pgid: int | None, marker: str) -> str:
    """TERM the group, KILL it after 2 s, and KILL what left the group but carries the marker."""
    sweep = (
        f"for e in /proc/[0-9]*/environ; do grep -qz '^{MARKER_VAR}={marker}$' $e 2>/dev/null && "
        "p=${e#/proc/} && kill -KILL ${p%/environ} 2>/dev/null; done; exit 0"
    )
    if pgid is None:
        return sweep
    return (
        f"kill -TERM -- -{pgid} 2>/dev/null; i=0; while [ $i -lt 20 ] && kill -0 -- -{pgid} 2>/dev/null; "
        f"do sleep 0.1; i=$((i+1)); done; kill -KILL -- -{pgid} 2>/dev/null; {sweep}"
    )


class SshExecutor:
    """Satisfies orchcore.ports.Executor on a host reached over SSH."""

    def __init__(
        self,
        target: SshTarget,
        *,
        remote_dir: str,
        sync: bool = True,
        guard_dir: str | None = None,
        guard_python: str | None = None,
        exclude: tuple[str, ...] = (),
    ) -> None:
        self.target = target
        self.remote_dir = remote_dir.rstrip("/") or "/"
        self.sync = sync
        self.guard_dir = guard_dir
        self.guard_python = guard_python
        self.exclude = exclude
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()
        self._manifests: dict[str, Manifest] = {}
        self._home: str | None = None
        self._orphans: list[tuple[int | None, str]] = []  # groups left running by a lost connection

    def _connected(self) -> paramiko.SSHClient:
        with self._lock:
            if not alive(self._client):
                if self._client is not None:
                    self._client.close()
                self._client = connect(self.target)
                self._reap_orphans(self._client)
            return self._client

    def _reap_orphans(self, client: paramiko.SSHClient) -> None:
        while self._orphans:
            pgid, marker = self._orphans[0]
            try:
                run_quiet(client, kill_script(pgid, marker))
            except (HostLost, RuntimeError):
                return
            self._orphans.pop(0)
            logger.warning("killed a remote process group left by a lost connection", extra={"pgid": pgid})

    @property
    def host_id(self) -> str:
        """How an attempt's processes record this host (``ssh://user@host:port``)."""
        return f"ssh://{self.target.user}@{self.target.host}:{self.target.port}"

    def reap(self, process: AttemptProcess) -> bool:
        """Kill what a crashed orch left of ``process`` on this host (its group, then its marker);
        False, saying why in the log, when it ran elsewhere or the host does not answer."""
        if process.host != self.host_id:
            logger.warning(
                "an interrupted attempt ran on %s, not on the configured %s: look for %s=%s there",
                process.host or "this machine",
                self.host_id,
                MARKER_VAR,
                process.marker,
            )
            return False
        try:
            run_quiet(self._connected(), kill_script(process.group or None, process.marker), timeout_s=30)
        except (HostLost, RuntimeError, AgentUnavailable) as exc:
            logger.warning("cannot reap an interrupted attempt on %s: %s", self.host_id, exc)
            return False
        logger.info(
            "killed what an interrupted attempt left on %s", self.host_id, extra={"pgid": process.group}
        )
        return True

    def close(self) -> None:
        """Drop the connection."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def check(self, program: str, env: Mapping[str, str]) -> None:
        """Log in and look ``program`` up on the host's PATH."""
        client = self._connected()
        probe = f"command -v {shlex.quote(program)} && command -v setsid && command -v tar"
        try:
            run_quiet(client, probe)
        except HostLost as exc:
            raise AgentUnavailable(str(exc)) from exc
        except RuntimeError as exc:
            raise AgentUnavailable(
                f"on ssh host {self.target.name}: {program!r}, setsid or tar not found on its PATH ({exc})"
            ) from exc

    def _absolute(self, path: str) -> str:
        """``path`` on the host, relative ones from the login's home (the command cds elsewhere)."""
        if posixpath.isabs(path):
            return path
        if self._home is None:
            try:
                self._home = run_quiet(self._connected(), "pwd").decode().strip() or "/"
            except (HostLost, RuntimeError) as exc:
                raise AgentUnavailable(
                    f"cannot find the home folder on ssh host {self.target.name}: {exc}"
                ) from exc
        return posixpath.normpath(posixpath.join(self._home, path))

    def _workspace(self, workdir: str) -> str:
        if not self.sync:
            return self._absolute(self.remote_dir)
        digest = hashlib.sha256(str(Path(workdir).resolve()).encode()).hexdigest()[:12]
        name = f"{Path(workdir).name or 'root'}-{digest}"
        return posixpath.join(self._absolute(self.remote_dir), name, "work")

    def prepare(self, workdir: str) -> str:
        """Copy ``workdir`` to the host (unless ``sync: false``: it is already there); the path there."""
        remote = self._workspace(workdir)
        if not self.sync:
            return remote
        for attempt in range(self.target.connect_attempts):
            try:
                self._manifests[remote] = upload(self._connected(), workdir, remote, self.exclude)
            except HostLost as exc:
                if attempt + 1 == self.target.connect_attempts:
                    raise AgentUnavailable(str(exc)) from exc
                time.sleep(self.target.backoff_s * 2**attempt)
            else:
                return remote
        raise AssertionError("unreachable")  # pragma: no cover

    def finish(self, workdir: str, prepared: str) -> None:
        """Bring the changes back; AgentUnavailable (the attempt failed) when they cannot come."""
        before = self._manifests.pop(prepared, None)
        if not self.sync or before is None:
            return
        try:
            problems = download(self._connected(), prepared, workdir, before, self.exclude)
        except HostLost as exc:
            raise AgentUnavailable(f"the attempt's changes could not come back from the host: {exc}") from exc
        for problem in problems:
            logger.warning("a change on the host was not brought back: %s", problem)

    def run(
        self,
        spec: ExecSpec,
        on_line: LineHandler,
        on_tick: TickHandler,
        on_start: StartHandler | None = None,
    ) -> ExecResult:
        """Run ``spec`` on the host (its local sandbox policy is not applied: the host is the boundary)."""
        client = self._connected()
        base = posixpath.join(posixpath.dirname(spec.cwd.rstrip("/")) or "/", ".orch-attempt")
        if not self.sync:  # never inside the user's own workspace there: in the login's home
            digest = hashlib.sha256(self.remote_dir.encode()).hexdigest()[:12]
            base = self._absolute(posixpath.join(".orch-attempts", digest))
        marker = hashlib.sha256(f"{spec.log_path}{time.time_ns()}".encode()).hexdigest()[:24]
        script = self._upload_attempt(client, spec, base, marker)
        log = Path(spec.log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        here = AttemptProcess(group=0, leader_start=0, marker=marker, host=self.host_id)
        if on_start is not None:  # recorded before it starts: a crash from here on leaves what to reap
            on_start(here)
        run = RemoteRun(
            client=client,
            command=f"setsid -w sh {shlex.quote(script)}",
            stdin=(spec.stdin_text or "").encode("utf-8") if spec.stdin_text is not None else None,
            kill=lambda pgid: self._kill(pgid, marker),
            on_pgid=None if on_start is None else (lambda pgid: on_start(attrs.evolve(here, group=pgid))),
        )
        with log.open("a", encoding="utf-8") as out:
            result = run.follow(spec, on_line, on_tick, out)
        if result.lost is not None:
            self._orphans.append((run.pgid, marker))
            with contextlib.suppress(AgentUnavailable):
                self._connected()  # kills it now if the host answers
        else:
            self._take_refusals(client, base)
            with contextlib.suppress(HostLost, RuntimeError):  # the prompt and guards are done with
                run_quiet(client, f"rm -rf {shlex.quote(base)}")
        return result

    def _kill(self, pgid: int | None, marker: str) -> None:
        try:
            run_quiet(self._connected(), kill_script(pgid, marker), timeout_s=30)
        except (HostLost, RuntimeError, AgentUnavailable):
            self._orphans.append((pgid, marker))

    def _remote_env(self, spec: ExecSpec, base: str, marker: str) -> tuple[dict[str, str], str]:
        """The env to export there, and the PATH prefix (the guards) to put before the host's PATH."""
        env = {k: v for k, v in spec.env.items() if k not in _KEEP_FROM_LOGIN}
        env[MARKER_VAR] = marker
        prefix = ""
        if self.guard_dir:
            local_bin = f"{self.guard_dir.rstrip('/')}/bin"
            remote_guard = posixpath.join(base, "guards")
            env = {k: v.replace(self.guard_dir.rstrip("/"), remote_guard) for k, v in env.items()}
            if local_bin in spec.env.get("PATH", "").split(":"):
                # without orch's Python there, the plain-sh shims refuse what needs no parsing
                shims = "bin" if self.guard_python else "sh-bin"
                prefix = f"{remote_guard}/{shims}:"
        return env, prefix

    def _upload_attempt(self, client: paramiko.SSHClient, spec: ExecSpec, base: str, marker: str) -> str:
        """Write the attempt's files, guards and run script under ``base``; the script's path."""
        env, prefix = self._remote_env(spec, base, marker)
        for file in spec.files:
            env[file.env_var] = posixpath.join(base, file.name)
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
        script = (
            '#!/bin/sh\necho "ORCH-PGID=$$"\nrm -f "$0"\n'
            f'{exports}export PATH={shlex.quote(prefix)}"${{PATH:-{_DEFAULT_PATH}}}"\n'
            f'export {AGENT_PATH_ENV}="$PATH"\n'
            f"cd {shlex.quote(spec.cwd)} || exit 126\nexec {shlex.join(spec.argv)}\n"
        )
        try:
            run_quiet(client, f"rm -rf {shlex.quote(base)} && mkdir -p -m 700 {shlex.quote(base)}")
            if self.guard_dir and Path(self.guard_dir).is_dir():
                self._upload_guards(client, posixpath.join(base, "guards"), spec.cwd)
            sftp = client.open_sftp()
            try:
                for file in spec.files:
                    with sftp.open(posixpath.join(base, file.name), "w") as handle:
                        handle.write(file.text.encode("utf-8"))
                path = posixpath.join(base, "run.sh")
                with sftp.open(path, "w") as handle:
                    handle.chmod(0o700)
                    handle.write(script.encode("utf-8"))
            finally:
                sftp.close()
        except (HostLost, RuntimeError, paramiko.SSHException, OSError) as exc:
            raise AgentUnavailable(
                f"cannot set the attempt up on ssh host {self.target.name}: {exc}"
            ) from exc
        return path

    def _upload_guards(self, client: paramiko.SSHClient, remote: str, workdir: str) -> None:
        """The guard dir as a tar, its paths (and the shims' Python) rewritten for the host."""
        local = Path(self.guard_dir or ".")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(local.rglob("*")):
                if not path.is_file() or path.is_symlink():
                    continue
                data = path.read_bytes().replace(str(local).encode(), remote.encode())
                if b"-m adapters.guards.shim" in data:
                    if self.guard_python is None:
                        continue  # orch is not on the host: this guard cannot run there
                    data = _with_python(data, self.guard_python, workdir)
                info = tarfile.TarInfo(path.relative_to(local).as_posix())
                info.size, info.mode = len(data), path.stat().st_mode & 0o755
                tar.addfile(info, io.BytesIO(data))
        quoted = shlex.quote(remote)
        refusals = shlex.quote(posixpath.join(remote, "refusals"))  # where the guards there record
        run_quiet(client, f"mkdir -p {quoted} {refusals} && tar -xf - -C {quoted}", stdin=buffer.getvalue())

    def _take_refusals(self, client: paramiko.SSHClient, base: str) -> None:
        """Append what the guards refused on the host to the local refusals, where the engine reads them."""
        if not self.guard_dir:
            return
        remote = posixpath.join(base, "guards")
        with contextlib.suppress(HostLost, RuntimeError):
            listing = run_quiet(client, f"cd {shlex.quote(remote)} && find . -name '*.jsonl' -print0")
            for relative in filter(None, listing.decode().split("\0")):
                text = run_quiet(client, f"cat {shlex.quote(posixpath.join(remote, relative))}")
                local = Path(self.guard_dir) / relative
                local.parent.mkdir(parents=True, exist_ok=True)
                with local.open("ab") as out:
                    out.write(text)


def from_config(config: Mapping[str, object]) -> SshExecutor:
    """Build from the ``agent.executor`` section (the entry-point factory signature), plus
    ``guard_dir`` and ``exclude`` from orch: its guard folder and what never to copy."""

    def text(key: str) -> str | None:
        value = config.get(key)
        return str(value) if value not in (None, "") else None

    host, user = text("host"), text("user")
    if host is None or user is None:
        raise AgentUnavailable("agent.executor: kind ssh needs host and user")
    port = config.get("port", 22)
    attempts = config.get("connect_attempts", 4)
    target = SshTarget(
        host=host,
        user=user,
        port=port if isinstance(port, int) else 22,
        key_file=text("key_file"),
        known_hosts=text("known_hosts") or str(Path("~/.ssh/known_hosts").expanduser()),
        connect_attempts=attempts if isinstance(attempts, int) and attempts > 0 else 4,
    )
    exclude = config.get("exclude") or ()
    return SshExecutor(
        target,
        remote_dir=text("remote_dir") or ".orch-work",
        sync=config.get("sync", True) is not False,
        guard_dir=text("guard_dir"),
        guard_python=text("guard_python"),
        exclude=tuple(str(e) for e in exclude) if isinstance(exclude, list | tuple) else (),
    )


def _with_python(script: bytes, python: str, workdir: str) -> bytes:
    """A shim's ``exec <python> -I -m adapters.guards.shim POLICY WORKDIR PROGRAM "$@"`` line with the
    host's interpreter and the workspace there."""
    lines = script.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"exec ") and b"-m adapters.guards.shim" in line:
            words = shlex.split(line.decode())[1:-1]  # without exec and "$@"
            words[0] = python
            words[words.index("adapters.guards.shim") + 2] = workdir
            lines[i] = f'exec {shlex.join(words)} "$@"'.encode()
    return b"\n".join(lines)


__all__ = ["SshExecutor"]
