"""The Checkpoints contract: a snapshot holds tracked and untracked files but not ignored ones,
puts files and refs back as they were, and leaves no trace in the user's repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.ports.checkpoints import Checkpoints, Moment

# (workspace folder) -> Checkpoints
CheckpointsFactory = Callable[[Path], Checkpoints]
# git(folder, *args) -> stdout: runs the real git in the user's repository, for set-up and checks
GitRunner = Callable[..., str]


def _trace(git: GitRunner, repo: Path) -> tuple[str, str, str, bytes]:
    """What the user's repository holds of its own: refs, stashes, object count, config bytes."""
    return (
        git(repo, "for-each-ref"),
        git(repo, "stash", "list"),
        git(repo, "count-objects", "-v"),
        (repo / ".git" / "config").read_bytes(),
    )


class CheckpointsContract:
    """Subclass as ``TestMyCheckpoints(CheckpointsContract)``; override ``make_checkpoints``
    and ``git``. Each test gets a repository with ``kept.txt`` committed, ``.gitignore``
    ignoring ``*.log``, an untracked ``notes.txt`` and an ignored ``debug.log``."""

    @pytest.fixture
    def make_checkpoints(self) -> CheckpointsFactory:
        msg = "override make_checkpoints"
        raise NotImplementedError(msg)

    @pytest.fixture
    def git(self) -> GitRunner:
        msg = "override git"
        raise NotImplementedError(msg)

    @pytest.fixture
    def repo(self, tmp_path: Path, git: GitRunner) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / ".gitignore").write_text("*.log\n")
        (repo / "kept.txt").write_text("committed\n")
        git(repo, "add", ".gitignore", "kept.txt")
        git(repo, "commit", "-q", "-m", "first")
        (repo / "notes.txt").write_text("untracked\n")
        (repo / "debug.log").write_text("ignored\n")
        return repo

    def test_checkpoints_are_listed_in_the_order_taken_with_who_took_them(
        self, make_checkpoints: CheckpointsFactory, repo: Path
    ) -> None:
        checkpoints = make_checkpoints(repo)
        first = checkpoints.take("s1", "a", 1, Moment.BEFORE)
        second = checkpoints.take("s1", "a", 1, Moment.AFTER)
        checkpoints.take("s2", "b", 1, Moment.BEFORE)
        listed = list(checkpoints.checkpoints("s1"))
        assert [(c.task_id, c.attempt, c.moment) for c in listed] == [
            ("a", 1, Moment.BEFORE),
            ("a", 1, Moment.AFTER),
        ]
        assert [c.id for c in listed] == [first.id, second.id]
        assert listed[0].refs["HEAD"] == "ref: refs/heads/main"
        assert "refs/heads/main" in listed[0].refs

    def test_changes_name_edited_created_and_deleted_files_but_never_ignored_ones(
        self, make_checkpoints: CheckpointsFactory, repo: Path
    ) -> None:
        checkpoints = make_checkpoints(repo)
        before = checkpoints.take("s", "a", 1, Moment.BEFORE)
        (repo / "kept.txt").write_text("edited\n")
        (repo / "notes.txt").unlink()
        (repo / "new.txt").write_text("new\n")
        (repo / "debug.log").write_text("still ignored\n")
        changes = {c.path: (c.before is None, c.after is None) for c in checkpoints.changes(before, None)}
        assert changes == {"kept.txt": (False, False), "notes.txt": (False, True), "new.txt": (True, False)}
        diff = checkpoints.diff(before, None)
        assert "-committed" in diff
        assert "+edited" in diff
        assert "debug.log" not in diff

    def test_restoring_files_brings_back_content_and_removes_new_files_but_leaves_ignored_ones(
        self, make_checkpoints: CheckpointsFactory, repo: Path
    ) -> None:
        checkpoints = make_checkpoints(repo)
        before = checkpoints.take("s", "a", 1, Moment.BEFORE)
        (repo / "kept.txt").write_text("edited\n")
        (repo / "notes.txt").unlink()
        (repo / "sub").mkdir()
        (repo / "sub" / "new.txt").write_text("new\n")
        (repo / "debug.log").write_text("changed, ignored\n")
        paths = [c.path for c in checkpoints.changes(before, None)]
        checkpoints.restore_files(before, paths)
        assert (repo / "kept.txt").read_text() == "committed\n"
        assert (repo / "notes.txt").read_text() == "untracked\n"
        assert not (repo / "sub").exists()
        assert (repo / "debug.log").read_text() == "changed, ignored\n"
        assert list(checkpoints.changes(before, None)) == []

    def test_refs_and_head_come_back_and_created_refs_go(
        self, make_checkpoints: CheckpointsFactory, repo: Path, git: GitRunner
    ) -> None:
        checkpoints = make_checkpoints(repo)
        before = checkpoints.take("s", "a", 1, Moment.BEFORE)
        old = git(repo, "rev-parse", "main").strip()
        git(repo, "commit", "-q", "--allow-empty", "-m", "agent")
        git(repo, "branch", "extra")
        git(repo, "checkout", "-q", "--detach")
        lines = checkpoints.restore_refs(before)
        assert git(repo, "rev-parse", "main").strip() == old
        assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
        assert "extra" not in git(repo, "branch", "--list")
        assert any("refs/heads/main" in line for line in lines)
        assert any(line.startswith("HEAD") for line in lines)

    def test_restoring_named_refs_leaves_the_others_and_refs_reads_them(
        self, make_checkpoints: CheckpointsFactory, repo: Path, git: GitRunner
    ) -> None:
        checkpoints = make_checkpoints(repo)
        before = checkpoints.take("s", "a", 1, Moment.BEFORE)
        old = git(repo, "rev-parse", "main").strip()
        git(repo, "commit", "-q", "--allow-empty", "-m", "agent")
        git(repo, "branch", "users-own")
        moved = dict(checkpoints.refs())
        assert moved["refs/heads/main"] != old
        assert "refs/heads/users-own" in moved
        checkpoints.restore_refs(before, ["refs/heads/main"])
        assert git(repo, "rev-parse", "main").strip() == old
        assert "users-own" in git(repo, "branch", "--list")

    def test_committed_gives_the_version_head_named_when_the_checkpoint_was_taken(
        self, make_checkpoints: CheckpointsFactory, repo: Path, git: GitRunner
    ) -> None:
        checkpoints = make_checkpoints(repo)
        (repo / "kept.txt").write_text("dirty\n")
        before = checkpoints.take("s", "a", 1, Moment.BEFORE)
        blob = git(repo, "rev-parse", "HEAD:kept.txt").strip()
        assert dict(checkpoints.committed(before, ["kept.txt", "notes.txt"])) == {
            "kept.txt": blob,
            "notes.txt": None,
        }

    def test_the_users_repository_gains_no_ref_stash_object_or_config_entry(
        self, make_checkpoints: CheckpointsFactory, repo: Path, git: GitRunner
    ) -> None:
        before_trace = _trace(git, repo)
        checkpoints = make_checkpoints(repo)
        (repo / "kept.txt").write_text("edited\n")
        (repo / "fresh.txt").write_text("a new file's content\n")
        first = checkpoints.take("s", "a", 1, Moment.BEFORE)
        (repo / "kept.txt").write_text("edited again\n")
        checkpoints.take("s", "a", 1, Moment.AFTER)
        checkpoints.diff(first, None, stat=True)
        checkpoints.restore_files(first, ["kept.txt"])
        checkpoints.restore_refs(first)
        assert _trace(git, repo) == before_trace
