"""A private, real dockerd for the tests: installed if missing, started as the test session's
own child on a socket under a temp dir, stopped and wiped after; and the test image, built
locally FROM scratch with busybox-static (no registry is reachable here)."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import docker
import pytest

ROOT = Path(__file__).resolve().parents[3]
START_DOCKERD = ROOT / "scripts" / "start-dockerd.sh"
BUSYBOX = Path("/bin/busybox")
TEST_IMAGE = "orch-test/busybox:1"
_READY_S = 60.0

_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/sh", "-c", "mkdir -p /tmp && chmod 1777 /tmp"]
"""


@attrs.frozen
class Dockerd:
    """A running private daemon: where to reach it and where its files are."""

    base_url: str
    root: Path
    log: Path


def _skip(why: str) -> None:
    print(f"\nSKIP docker tests: {why}")  # shown with -s; the skip reason says it again under -ra
    pytest.skip(why)


def install_docker() -> None:
    """docker.io and busybox-static, installed when missing (as root, apt-get); skips saying why."""
    done = subprocess.run(
        [str(START_DOCKERD), "--install-only"], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        _skip(f"no Docker daemon can start here: {(done.stderr or done.stdout).strip()}")


def _log_tail(log: Path) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    return ""


def _unmount_under(root: Path) -> None:
    """What a killed daemon left mounted under ``root`` (overlay2 layers, netns), deepest first."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _stop(proc: subprocess.Popen[bytes], base_url: str) -> None:
    if _listening(base_url.removeprefix("unix://")):
        client = docker.DockerClient(base_url=base_url, version="1.41", timeout=30)
        with contextlib.suppress(docker.errors.DockerException, OSError):
            for container in client.containers.list(all=True):
                container.remove(force=True)
        client.close()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_dockerd() -> Iterator[Dockerd]:
    """Start a private dockerd (skipping, with the reason, when it cannot); stop and wipe it after."""
    install_docker()
    # a short path: the daemon's and containerd's unix sockets live under it (108-byte limit)
    root = Path(tempfile.mkdtemp(prefix="orch-dockerd.", dir="/tmp"))
    log = root.parent / f"{root.name}.log"
    base_url = f"unix://{root}/docker.sock"
    with log.open("wb") as out:
        # --pdeathsig: the daemon gets SIGTERM if the test process dies without stopping it
        setpriv = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
        proc = subprocess.Popen(
            [*setpriv, str(START_DOCKERD), str(root)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        client = _wait_ready(proc, base_url, log)
        client.close()
        yield Dockerd(base_url=base_url, root=root, log=log)
    finally:
        _stop(proc, base_url)
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
        log.unlink(missing_ok=True)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> docker.DockerClient:
    deadline = time.monotonic() + _READY_S
    while True:
        if proc.poll() is not None:
            _skip(f"dockerd exited with {proc.returncode} at start: {_log_tail(log)}")
        if _listening(base_url.removeprefix("unix://")):
            client = docker.DockerClient(base_url=base_url, version="1.41", timeout=10)
            with contextlib.suppress(docker.errors.DockerException, OSError):  # not serving yet
                if client.ping():
                    return client
            client.close()
        if time.monotonic() > deadline:
            _skip(f"dockerd did not answer on {base_url} within {_READY_S:g}s: {_log_tail(log)}")
        time.sleep(0.05)


def _listening(path: str) -> bool:
    """Whether a unix socket at ``path`` accepts connections (a failed SDK call would leak one)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def build_test_image(base_url: str, tag: str = TEST_IMAGE) -> str:
    """Build ``tag`` FROM scratch with the host's static busybox (sh, sleep, id...); returns the tag."""
    with tempfile.TemporaryDirectory(prefix="orch-image.") as context:
        shutil.copy2(BUSYBOX, Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(_DOCKERFILE)
        client = docker.DockerClient(base_url=base_url, version="1.41", timeout=120)
        try:
            client.images.build(path=context, tag=tag, rm=True, forcerm=True)
        finally:
            client.close()
    return tag


GIT_IMAGE = "orch-test/busybox-git:1"


def _with_libraries(program: str) -> list[Path]:
    """``program`` and the shared libraries it loads (what ldd lists), to copy into an image."""
    done = subprocess.run(["ldd", program], capture_output=True, text=True, check=True, timeout=30)
    found = [Path(program)]
    for line in done.stdout.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0] if words else ""
        if path.startswith("/"):
            found.append(Path(path))
    return found


def build_git_image(base_url: str, tag: str = GIT_IMAGE) -> str:
    """The test image plus the host's git and the libraries it loads, at their own paths (skips,
    saying why, without git or ldd here)."""
    git = shutil.which("git")
    if git is None or shutil.which("ldd") is None:
        pytest.skip("git and ldd are needed on this machine to build the test image with git")
    base = shared_test_image()
    with tempfile.TemporaryDirectory(prefix="orch-image.") as context:
        lines = [f"FROM {base}"]
        for i, path in enumerate(_with_libraries(git)):
            shutil.copy2(path.resolve(), Path(context) / f"f{i}")
            lines.append(f"COPY f{i} {path}")
        (Path(context) / "Dockerfile").write_text("\n".join(lines) + "\n")
        client = docker.DockerClient(base_url=base_url, version="1.41", timeout=120)
        try:
            client.images.build(path=context, tag=tag, rm=True, forcerm=True)
        finally:
            client.close()
    return tag


_SHARED: dict[str, object] = {}


def shared_dockerd() -> Dockerd:
    """One private daemon for the whole test process, started on first use and stopped at its
    exit: the integration tests and the contract suite (tests/contract) share it."""
    if "skip" in _SHARED:
        pytest.skip(str(_SHARED["skip"]))
    if "daemon" not in _SHARED:
        stack = contextlib.ExitStack()
        try:
            _SHARED["daemon"] = stack.enter_context(running_dockerd())
        except pytest.skip.Exception as skipped:
            _SHARED["skip"] = str(skipped)
            raise
        atexit.register(stack.close)
    daemon = _SHARED["daemon"]
    assert isinstance(daemon, Dockerd)
    return daemon


def shared_test_image() -> str:
    """The test image on the shared daemon, built once."""
    if "image" not in _SHARED:
        _SHARED["image"] = build_test_image(shared_dockerd().base_url)
    return str(_SHARED["image"])


def shared_git_image() -> str:
    """The test image with git on the shared daemon, built once."""
    if "git-image" not in _SHARED:
        _SHARED["git-image"] = build_git_image(shared_dockerd().base_url)
    return str(_SHARED["git-image"])
