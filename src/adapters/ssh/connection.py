"""One SSH connection to the agent host (paramiko): host key checked, retried with backoff.

Every library error leaves here as AgentUnavailable (cannot connect: a user must
act) or HostLost (the connection dropped: another try may succeed).
"""

from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path

import attrs
import paramiko

from orchcore.errors import AgentUnavailable

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_KEEPALIVE_S = 5


class HostLost(Exception):
    """The connection to the host dropped or could not be made (network, sshd restarting)."""


@attrs.frozen
class SshTarget:
    """Where and as whom to log in; the key is a file path or the ssh agent's, never its contents."""

    host: str
    user: str
    port: int = 22
    key_file: str | None = None
    known_hosts: str = attrs.field(factory=lambda: str(Path("~/.ssh/known_hosts").expanduser()))
    connect_attempts: int = 4
    backoff_s: float = 0.5

    @property
    def name(self) -> str:
        """The host as known_hosts spells it: ``host`` on port 22, ``[host]:port`` otherwise."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def _unknown_host(target: SshTarget, exc: Exception) -> AgentUnavailable:
    scan = f"ssh-keyscan -p {target.port} {shlex.quote(target.host)}"
    return AgentUnavailable(
        f"ssh host {target.name} is not trusted: its key is not in {target.known_hosts} ({exc}); "
        f"check its fingerprint, then add it with: {scan} >> {shlex.quote(target.known_hosts)}"
    )


def connect_once(target: SshTarget) -> paramiko.SSHClient:
    """Log in once; AgentUnavailable for what a user must fix, HostLost for what may pass."""
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(target.known_hosts)
    except OSError as exc:
        raise AgentUnavailable(
            f"cannot read known_hosts {target.known_hosts} for ssh host {target.name}: {exc.strerror or exc}"
        ) from exc
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.user,
            key_filename=target.key_file,
            allow_agent=True,
            look_for_keys=target.key_file is None,
            timeout=_CONNECT_TIMEOUT_S,
            banner_timeout=_CONNECT_TIMEOUT_S,
            auth_timeout=_CONNECT_TIMEOUT_S,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise AgentUnavailable(
            f"ssh host {target.name} offered a key that differs from the one in {target.known_hosts}: "
            "refusing to connect (if the host was reinstalled, remove its old line there)"
        ) from exc
    except paramiko.AuthenticationException as exc:
        client.close()
        how = f"key file {target.key_file}" if target.key_file else "the ssh agent's and default keys"
        raise AgentUnavailable(f"ssh login as {target.user!r} on {target.name} refused with {how}") from exc
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise _unknown_host(target, exc) from exc
        raise HostLost(f"ssh to {target.name} failed: {exc}") from exc
    except (TimeoutError, OSError, EOFError) as exc:
        client.close()
        raise HostLost(f"cannot reach ssh host {target.name}: {exc}") from exc
    except ValueError as exc:  # an unreadable key file
        client.close()
        raise AgentUnavailable(f"cannot use ssh key file {target.key_file}: {exc}") from exc
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(_KEEPALIVE_S)
    return client


def connect(target: SshTarget) -> paramiko.SSHClient:
    """Log in, retrying a dropped or refused connection with backoff; AgentUnavailable at the end."""
    delay = target.backoff_s
    for attempt in range(1, target.connect_attempts + 1):
        try:
            return connect_once(target)
        except HostLost as exc:
            if attempt == target.connect_attempts:
                raise AgentUnavailable(f"{exc} (after {attempt} attempts)") from exc
            logger.warning("ssh connect failed, retrying", extra={"host": target.name, "attempt": attempt})
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def alive(client: paramiko.SSHClient | None) -> bool:
    """Whether ``client``'s connection still stands."""
    transport = client.get_transport() if client is not None else None
    return transport is not None and transport.is_active()


def run_quiet(client: paramiko.SSHClient, command: str, stdin: bytes = b"", timeout_s: float = 60.0) -> bytes:
    """Run a short helper command; its stdout. HostLost if the connection drops, RuntimeError on
    a non-zero exit (with its stderr)."""
    try:
        channel = client.get_transport().open_session(timeout=_CONNECT_TIMEOUT_S)
        channel.settimeout(timeout_s)
        channel.exec_command(command)
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        out = bytearray()
        err = bytearray()
        while True:
            chunk = channel.recv(65536)
            if not chunk:
                break
            out += chunk
        while channel.recv_stderr_ready() or not channel.exit_status_ready():
            chunk = channel.recv_stderr(65536)
            if not chunk:
                break
            err += chunk
        status = channel.recv_exit_status()
        channel.close()
    except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
        raise HostLost(f"ssh connection lost: {exc}") from exc
    if status != 0:
        text = err.decode("utf-8", "replace").strip()
        raise RuntimeError(f"exit {status}: {text}")
    return bytes(out)
