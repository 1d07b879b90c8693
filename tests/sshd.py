"""A real OpenSSH server on loopback for the SSH executor's tests: installed when missing, run
as this process's own child (``sshd -D -e``, so it is reaped) with a temporary host key, a
temporary client key in authorized_keys and a known_hosts that trusts only that host key."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

_READY_S = 15.0


def _sshd_binary() -> str:
    """The sshd program, installed quietly with apt-get (as root) if missing; skips, saying why."""
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("sshd is not installed and these tests are not root, so cannot apt-get openssh-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [
        "apt-get",
        "install",
        "-y",
        "-qq",
        "-o",
        "DPkg::Lock::Timeout=300",
        "openssh-server",
    ]  # waits for another apt
    done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        update = ["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300"]
        subprocess.run(update, capture_output=True, env=env, check=False)
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or not Path("/usr/sbin/sshd").exists():
        pytest.skip(f"cannot install openssh-server with apt-get: {done.stderr.strip()[-300:]}")
    return "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Sshd:
    """One sshd on 127.0.0.1:``port`` that trusts ``key_file``, trusted by ``known_hosts``."""

    binary: str
    folder: Path
    port: int
    user: str
    key_file: str
    known_hosts: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.folder / "sshd_config"

    def start(self) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        with (self.folder / "sshd.log").open("ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen([self.binary, "-D", "-e", "-f", str(self.config)], stderr=log)
        deadline = time.monotonic() + _READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.skip(f"sshd exited at start: {(self.folder / 'sshd.log').read_text()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        pytest.skip(f"sshd did not listen on 127.0.0.1:{self.port} within {_READY_S:g}s")

    def sessions(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def drop_connections(self) -> None:
        """Kill every connection's sshd process: clients see the connection drop, commands live on."""
        for pid in self.sessions():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            self.drop_connections()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def run(self, command: str) -> str:
        """Run ``command`` on the host as the test user would (through real ssh)."""
        done = subprocess.run(
            ["ssh", "-p", str(self.port), "-i", self.key_file, "-o", f"UserKnownHostsFile={self.known_hosts}",
             "-o", "BatchMode=yes", f"{self.user}@127.0.0.1", command],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
        return done.stdout


@contextlib.contextmanager
def running_sshd(folder: Path) -> Iterator[Sshd]:
    """An sshd for the tests in ``folder``; stopped (and reaped) after."""
    binary = _sshd_binary()
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is missing (Debian openssh-client)")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = free_port()
    host_type, host_key = (folder / "host_key.pub").read_text().split()[:2]
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_type} {host_key}\n")
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
        "MaxSessions 100\nMaxStartups 100\nLogLevel ERROR\n"
    )
    user = getpass.getuser()
    sshd = Sshd(binary, folder, port, user, str(folder / "client_key"), str(folder / "known_hosts"))
    sshd.start()
    try:
        yield sshd
    finally:
        sshd.stop()
