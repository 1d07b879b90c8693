"""The Workers contract on threads."""

from __future__ import annotations

import pytest

from adapters.system.workers import ThreadWorkers
from orchcore.testing.contracts import WorkersContract, WorkersFactory


class TestThreadWorkers(WorkersContract):
    @pytest.fixture
    def make_workers(self) -> WorkersFactory:
        return ThreadWorkers
