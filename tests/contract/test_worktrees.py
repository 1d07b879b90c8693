"""The Worktrees contract on the git CLI adapter, against real git repositories."""

from __future__ import annotations

import pytest

from adapters.worktrees import GitWorktrees, worktrees_dir
from orchcore.testing.contracts import GitRunner, WorktreesContract, WorktreesFactory
from tests.contract.test_checkpoints import run_git


class TestGitWorktrees(WorktreesContract):
    @pytest.fixture
    def make_worktrees(self, tmp_path_factory: pytest.TempPathFactory) -> WorktreesFactory:
        state = tmp_path_factory.mktemp("state")
        return lambda repo: GitWorktrees(str(repo), worktrees_dir(str(state), str(repo)))

    @pytest.fixture
    def git(self) -> GitRunner:
        return run_git
