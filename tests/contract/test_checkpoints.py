"""The Checkpoints contract on the shadow git directory, against real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from orchcore.testing.contracts import CheckpointsContract, CheckpointsFactory, GitRunner

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def run_git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True)
    return done.stdout


class TestShadowGitCheckpoints(CheckpointsContract):
    @pytest.fixture
    def make_checkpoints(self, tmp_path_factory: pytest.TempPathFactory) -> CheckpointsFactory:
        state = tmp_path_factory.mktemp("state")
        return lambda folder: ShadowGitCheckpoints(str(folder), shadow_dir(str(state), str(folder)))

    @pytest.fixture
    def git(self) -> GitRunner:
        return run_git
