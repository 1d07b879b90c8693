"""The Checkpoints contract on the shadow git directory, against real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
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


def test_a_held_index_lock_neither_blocks_a_checkpoint_nor_gives_it_a_stale_tree(tmp_path: Path) -> None:
    """Another git holding the shadow index (or one that crashed holding it): `orch diff` and the
    next checkpoint still see the workspace as it is, and the lock is left to its owner."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    checkpoints = ShadowGitCheckpoints(str(repo), shadow)
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    assert Path(shadow).parent.stat().st_mode & 0o777 == 0o700  # copies of the user's files: theirs only
    (repo / "a.txt").write_text("two\n")
    lock = Path(shadow) / "index.lock"
    lock.write_text("")
    assert "+two" in checkpoints.diff(before, None)
    for n in range(70):  # enough changed files that the index is due to be saved meanwhile
        (repo / f"new{n}.txt").write_text(f"{n}\n")
    after = checkpoints.take("s", "t", 1, Moment.AFTER)
    assert lock.exists()
    assert len(checkpoints.changes(before, after)) == 71
    assert "+two" in checkpoints.diff(before, after)
    lock.unlink()
    again = ShadowGitCheckpoints(str(repo), shadow).take("s", "t", 2, Moment.BEFORE)
    assert list(checkpoints.changes(after, again)) == []


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


NAMES = ("a.txt", "d/b.txt", "d/e/c.txt", "x.log")  # *.log is ignored


def files_of(repo: Path) -> dict[str, str]:
    return {
        p.relative_to(repo).as_posix(): p.read_text()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before_ops=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["", "1", "2", None])), max_size=6),
    agent_ops=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["", "3", "4", None])), max_size=6),
)
def test_restoring_what_changed_gives_back_the_checkpoint_and_leaves_ignored_files(
    tmp_path_factory: pytest.TempPathFactory,
    before_ops: list[tuple[str, str | None]],
    agent_ops: list[tuple[str, str | None]],
) -> None:
    """Any edits, creations and deletions (None) an agent makes are undone exactly."""
    root = tmp_path_factory.mktemp("prop")
    repo = root / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("*.log\n")
    run_git(repo, "add", ".gitignore")
    run_git(repo, "commit", "-q", "-m", "one")

    def apply(ops: list[tuple[str, str | None]]) -> None:
        for name, content in ops:
            path = repo / name
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)

    apply(before_ops)
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(root / "state"), str(repo)))
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    kept = files_of(repo)
    apply(agent_ops)
    ignored = files_of(repo).get("x.log")
    checkpoints.restore_files(before, [c.path for c in checkpoints.changes(before, None)])
    now = files_of(repo)
    assert now.get("x.log") == ignored
    assert {k: v for k, v in now.items() if k != "x.log"} == {k: v for k, v in kept.items() if k != "x.log"}


def test_an_empty_nested_repository_is_left_out_but_the_rest_is_kept(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "inner").mkdir(parents=True)
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo / "inner", "init", "-q")  # no commit: git cannot record it
    (repo / "a.txt").write_text("one\n")
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(tmp_path / "state"), str(repo)))
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    (repo / "a.txt").write_text("two\n")
    assert [c.path for c in checkpoints.changes(before, None)] == ["a.txt"]
