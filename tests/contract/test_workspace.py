"""The Workspace contract on the git workspace."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.guards.workspace import GitWorkspace
from orchcore.testing.contracts import WorkspaceContract, WorkspaceFactory
from orchcore.testing.contracts.workspace import RepoMaker

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def init_repo(folder: Path) -> None:
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "commit", "-q", "--allow-empty", "-m", "first"],
    ):
        subprocess.run(argv, cwd=folder, env=GIT_ENV, check=True)


class TestGitWorkspace(WorkspaceContract):
    @pytest.fixture
    def make_workspace(self, tmp_path_factory: pytest.TempPathFactory) -> WorkspaceFactory:
        guards = tmp_path_factory.mktemp("guards")
        return lambda folder: GitWorkspace(str(folder), str(guards))

    @pytest.fixture
    def make_repo(self) -> RepoMaker:
        return init_repo
