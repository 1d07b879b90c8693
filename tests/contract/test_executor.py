"""The Executor contract on the local executor (the SSH one runs it in tests/integration/ssh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.process.executor import LocalExecutor
from orchcore.testing.contracts import ExecutorContract, ExecutorFactory, RunningCounter


def count_local(token: str) -> int:
    """Live (not zombie) processes on this machine whose command line holds ``token``."""
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        found += token.encode() in cmdline and state != "Z"
    return found


class TestLocalExecutor(ExecutorContract):
    @pytest.fixture
    def make_executor(self) -> ExecutorFactory:
        return LocalExecutor

    @pytest.fixture
    def count_running(self) -> RunningCounter:
        return count_local
