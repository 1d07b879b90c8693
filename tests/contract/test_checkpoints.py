"""The Checkpoints contract on the shadow git directory, against real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from orchcore.errors import CheckpointError
from orchcore.ports.checkpoints import Moment
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


def test_orch_diff_works_while_a_checkpoint_holds_the_index_and_a_stale_tree_is_never_taken(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    checkpoints = ShadowGitCheckpoints(str(repo), shadow)
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    (repo / "a.txt").write_text("two\n")
    lock = Path(shadow) / "index.lock"
    lock.write_text("")  # a checkpoint being taken by the engine right now
    assert "+two" in checkpoints.diff(before, None)
    with pytest.raises(CheckpointError, match=r"index\.lock"):
        checkpoints.take("s", "t", 1, Moment.AFTER)
    lock.unlink()
    after = checkpoints.take("s", "t", 1, Moment.AFTER)
    assert [c.path for c in checkpoints.changes(before, after)] == ["a.txt"]
