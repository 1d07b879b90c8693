"""A real sshd on loopback for every SSH test here (installed if missing, else skipped saying why)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sshd import Sshd, running_sshd

pytest.importorskip("paramiko", reason="the ssh extra (paramiko) is not installed")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
