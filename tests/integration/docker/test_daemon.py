"""The test set-up itself: a private daemon that runs the local image, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.docker.daemon import Dockerd, running_dockerd

pytestmark = pytest.mark.integration


def test_the_test_image_runs_busybox_with_no_registry(dockerd: Dockerd, busybox_image: str) -> None:
    client = docker.DockerClient(base_url=dockerd.base_url, version="1.41")
    out = client.containers.run(busybox_image, ["sh", "-c", "echo hello from $(uname -s)"], remove=True)
    client.close()
    assert out == b"hello from Linux\n"


def test_a_daemon_stopped_after_use_leaves_no_socket_files_or_mounts() -> None:
    with running_dockerd() as daemon:
        root = daemon.root
        assert Path(daemon.base_url.removeprefix("unix://")).is_socket()
    assert not root.exists()
    assert str(root) not in Path("/proc/self/mounts").read_text()
