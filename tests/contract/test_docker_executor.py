"""The Executor contract on the Docker executor, against a real private dockerd (skips, saying
why, where none can start); after each test no container of it is left."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from adapters.docker.executor import DockerExecutor, from_config
from orchcore.testing.contracts import ExecutorContract, ExecutorFactory, RunningCounter
from tests.contract.test_executor import count_local
from tests.integration.docker.daemon import Dockerd, shared_dockerd, shared_test_image

pytestmark = pytest.mark.integration


@pytest.fixture
def daemon() -> Iterator[Dockerd]:
    daemon = shared_dockerd()
    yield daemon
    client = docker.DockerClient(base_url=daemon.base_url, version="1.41")
    left = [c.name for c in client.containers.list(all=True)]
    client.close()
    assert left == [], f"containers left after the test: {left}"


class TestDockerExecutor(ExecutorContract):
    @pytest.fixture
    def make_executor(self, daemon: Dockerd) -> ExecutorFactory:
        config = {"kind": "docker", "image": shared_test_image(), "host": daemon.base_url}

        def make() -> DockerExecutor:
            return from_config(config)

        return make

    @pytest.fixture
    def count_running(self) -> RunningCounter:
        return count_local  # the daemon is on this machine: its containers' processes are in /proc
