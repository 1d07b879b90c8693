"""The CheckRunner contract: a check's exit code, output and timeout as a user's gate needs them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.ports.checks import CheckRunner

CheckRunnerFactory = Callable[[Path], CheckRunner]
"""Builds a runner for the workspace folder given (which the test fills with files)."""


def _running_with(token: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``token``: pids differ inside a sandbox."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


class CheckRunnerContract:
    """Subclass as ``TestMyRunner(CheckRunnerContract)`` and override ``make_check_runner``."""

    @pytest.fixture
    def make_check_runner(self) -> CheckRunnerFactory:
        msg = "override make_check_runner"
        raise NotImplementedError(msg)

    def test_a_passing_check_passes_with_its_output(
        self, make_check_runner: CheckRunnerFactory, tmp_path: Path
    ) -> None:
        (tmp_path / "a.txt").write_text("hello\n")
        result = make_check_runner(tmp_path).run("cat a.txt", timeout_s=30)
        assert result.passed
        assert result.exit_code == 0
        assert "hello" in result.output_tail
        assert result.command == "cat a.txt"

    def test_a_failing_check_keeps_its_exit_code_and_the_end_of_its_output(
        self, make_check_runner: CheckRunnerFactory, tmp_path: Path
    ) -> None:
        command = "for i in $(seq 1 500); do echo line $i; done; echo 'E   assert 1 == 2'; exit 3"
        result = make_check_runner(tmp_path).run(command, timeout_s=30)
        assert not result.passed
        assert result.exit_code == 3
        assert "assert 1 == 2" in result.output_tail
        assert "line 1\n" not in result.output_tail  # a tail, not the whole output

    def test_a_command_that_does_not_exist_fails_without_raising(
        self, make_check_runner: CheckRunnerFactory, tmp_path: Path
    ) -> None:
        result = make_check_runner(tmp_path).run("no-such-check-command-xyz", timeout_s=30)
        assert not result.passed
        assert result.exit_code == 127

    def test_a_check_past_its_timeout_is_killed_with_its_children(
        self, make_check_runner: CheckRunnerFactory, tmp_path: Path
    ) -> None:
        token = f"60.{os.getpid()}{id(tmp_path) % 100000}"  # a sleep no other test runs
        result = make_check_runner(tmp_path).run(f"sleep {token} & sleep {token}", timeout_s=1)
        assert result.timed_out
        assert result.exit_code is None
        assert not result.passed
        assert result.duration_s < 30
        assert _running_with(token) == [], "a process of the check outlived its timeout"

    def test_checks_run_in_the_workspace(self, make_check_runner: CheckRunnerFactory, tmp_path: Path) -> None:
        result = make_check_runner(tmp_path).run("pwd", timeout_s=30)
        assert os.path.realpath(result.output_tail.strip()) == os.path.realpath(tmp_path)

    def test_read_text_sees_workspace_files_and_nothing_outside(
        self, make_check_runner: CheckRunnerFactory, tmp_path: Path
    ) -> None:
        workspace = tmp_path / "ws"
        (workspace / "docs").mkdir(parents=True)
        (workspace / "docs" / "a.md").write_text("# A\n")
        (tmp_path / "secret.txt").write_text("outside\n")
        runner = make_check_runner(workspace)
        assert runner.read_text("docs/a.md") == "# A\n"
        assert runner.read_text("./docs/a.md") == "# A\n"
        assert runner.read_text("docs/missing.md") is None
        assert runner.read_text("../secret.txt") is None
        assert runner.read_text("docs") is None
