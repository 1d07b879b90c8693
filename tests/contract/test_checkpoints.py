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


def test_a_workspace_inside_a_repository_sees_its_excludes_and_committed_versions(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    run_git(repo, "init", "-q", "-b", "main")
    (repo / ".git" / "info" / "exclude").write_text("*.tmp\n")
    (repo / "sub" / "f.txt").write_text("committed\n")
    run_git(repo, "add", "sub/f.txt")
    run_git(repo, "commit", "-q", "-m", "one")
    (repo / "sub" / "f.txt").write_text("dirty\n")
    (repo / "sub" / "scratch.tmp").write_text("excluded\n")
    checkpoints = ShadowGitCheckpoints(
        str(repo / "sub"), shadow_dir(str(tmp_path / "state"), str(repo / "sub"))
    )
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    blob = run_git(repo, "rev-parse", "HEAD:sub/f.txt").strip()
    assert dict(checkpoints.committed(before, ["f.txt"])) == {"f.txt": blob}
    (repo / "sub" / "scratch.tmp").write_text("changed\n")
    assert list(checkpoints.changes(before, None)) == []
