"""The CheckRunner contract on the shell runner, unsandboxed and (where bubblewrap works) sandboxed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.checks import ShellCheckRunner
from adapters.sandbox.bwrap import probe_bwrap
from orchcore.ports.checks import CheckRunner
from orchcore.sandbox import SandboxPolicy
from orchcore.supervise.evidence import CheckResult
from orchcore.testing.contracts import CheckRunnerContract, CheckRunnerFactory

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


class TestShellCheckRunner(CheckRunnerContract):
    @pytest.fixture
    def make_check_runner(self, tmp_path_factory: pytest.TempPathFactory) -> CheckRunnerFactory:
        logs = tmp_path_factory.mktemp("logs")
        return lambda workdir: ShellCheckRunner(str(workdir), env=ENV, log_path=str(logs / "checks.log"))


class _Sandboxed:
    """The shell runner with every check inside bubblewrap, the workspace its only writable place."""

    def __init__(self, workdir: Path, log: Path) -> None:
        self._inner = ShellCheckRunner(str(workdir), env=ENV, log_path=str(log))
        self._policy = SandboxPolicy(writable=(str(workdir),))

    def run(self, command: str, *, timeout_s: float, sandbox: SandboxPolicy | None = None) -> CheckResult:
        return self._inner.run(command, timeout_s=timeout_s, sandbox=sandbox or self._policy)

    def read_text(self, path: str) -> str | None:
        return self._inner.read_text(path)


class TestSandboxedShellCheckRunner(CheckRunnerContract):
    @pytest.fixture
    def make_check_runner(self, tmp_path_factory: pytest.TempPathFactory) -> CheckRunnerFactory:
        found, why = probe_bwrap()
        if found is None:
            pytest.skip(f"bubblewrap cannot sandbox here: {why}")
        logs = tmp_path_factory.mktemp("logs")

        def make(workdir: Path) -> CheckRunner:
            return _Sandboxed(workdir, logs / "checks.log")

        return make


def test_a_sandboxed_check_cannot_write_outside_the_workspace(tmp_path: Path) -> None:
    found, why = probe_bwrap()
    if found is None:
        pytest.skip(f"bubblewrap cannot sandbox here: {why}")
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    runner = ShellCheckRunner(str(workspace), env=ENV, log_path=str(tmp_path / "checks.log"))
    policy = SandboxPolicy(writable=(str(workspace),))
    result = runner.run(f"touch {outside}/x", timeout_s=30, sandbox=policy)
    assert not result.passed
    assert not (outside / "x").exists()
