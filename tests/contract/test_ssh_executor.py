"""The Executor contract on the SSH executor, against a real sshd on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("paramiko", reason="the ssh extra (paramiko) is not installed")

from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from orchcore.testing.contracts import ExecutorContract, ExecutorFactory, RunningCounter
from tests.sshd import Sshd, running_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def target(sshd: Sshd) -> SshTarget:
    return SshTarget(
        host="127.0.0.1", port=sshd.port, user=sshd.user, key_file=sshd.key_file, known_hosts=sshd.known_hosts
    )


class TestSshExecutor(ExecutorContract):
    @pytest.fixture
    def make_executor(
        self, sshd: Sshd, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ExecutorFactory]:
        remote = tmp_path_factory.mktemp("remote")
        made: list[SshExecutor] = []

        def make() -> SshExecutor:
            made.append(SshExecutor(target(sshd), remote_dir=str(remote)))
            return made[-1]

        yield make
        for executor in made:
            executor.close()

    @pytest.fixture
    def count_running(self, sshd: Sshd) -> RunningCounter:
        def count(token: str) -> int:
            out = sshd.run("ps -eo stat=,args=")
            return sum(
                token in line and not line.startswith("Z") and "ps -eo" not in line
                for line in out.splitlines()
            )

        return count
