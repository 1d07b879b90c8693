"""`orch diff` and `orch apply` on a task that ran in its own worktree: a real session (`orch
run`, the command agent), a real git repository, the task's branch made by the Worktrees
adapter as the parallel engine will make it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.worktrees import GitWorktrees, worktrees_dir
from orchcore.ports.worktrees import PortRange, Worktree, WorktreeSetup
from tests.integration.test_checkpoints import git, orch

pytestmark = pytest.mark.integration


def _user_tree(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp/project (app.txt committed) and a completed one-task session `orch run` made in the
    user's tree (max_parallel 1); the tests below make its branch as the parallel engine does
    (tests/integration/test_parallel_run.py runs the engine itself with max_parallel 4)."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.txt").write_text("first\nsecond\n")
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", "first")
    (tmp_path / "agent.sh").write_text("#!/bin/sh\ncat >/dev/null\n")
    (tmp_path / "tasks.md").write_text("# Tasks\n## Task 1: add a feature\n**Claude Instruction:**\ndo it\n")
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
    )
    done = orch(tmp_path, "run", "tasks.md")
    assert done.returncode == 0, done.stderr
    return repo


def task_branch(project: Path, app_text: str) -> Worktree:
    """The worktree and one commit task 1 of the newest session would have made."""
    root = project.parent
    sid = json.loads(orch(root, "status", "--json").stdout)["session"]["id"]
    worktrees = GitWorktrees(str(project), worktrees_dir(str(root / "state"), str(project)))
    tree = worktrees.create(sid, "1", worktrees.base_commit(), PortRange(20000, 10), WorktreeSetup())
    (Path(tree.path) / "app.txt").write_text(app_text)
    (Path(tree.path) / "feature.txt").write_text("new feature\n")
    assert worktrees.commit(tree, f"orch: session {sid}, task 1: add a feature") is not None
    return tree


def test_diff_shows_the_task_branch_and_apply_brings_it_in_and_removes_it(project: Path) -> None:
    root = project.parent
    tree = task_branch(project, "first\nsecond\nthird\n")
    shown = orch(root, "diff", "1")
    assert shown.returncode == 0, shown.stderr
    assert f"branch {tree.branch}" in shown.stderr
    assert "+third" in shown.stdout
    assert "+new feature" in shown.stdout
    as_json = json.loads(orch(root, "diff", "1", "--json").stdout)
    assert (as_json["branch"], as_json["files"]) == (tree.branch, ["app.txt", "feature.txt"])
    applied = orch(root, "apply", "1", "--json")
    assert applied.returncode == 0, applied.stderr
    payload = json.loads(applied.stdout)
    assert (payload["applied"], payload["removed"]) == (True, True)
    assert sorted(payload["files"]) == ["app.txt", "feature.txt"]
    assert (project / "app.txt").read_text() == "first\nsecond\nthird\n"
    assert (project / "feature.txt").read_text() == "new feature\n"
    assert not Path(tree.path).exists()
    assert "orch/" not in git(project, "branch", "--list")
    again = orch(root, "apply", "1")
    assert again.returncode == 3
    assert "has no worktree" in again.stderr


def test_a_conflicting_apply_names_the_files_and_changes_nothing(project: Path) -> None:
    root = project.parent
    tree = task_branch(project, "the task's line\n")
    (project / "app.txt").write_text("my own uncommitted line\n")
    before = _user_tree(project)
    status = git(project, "status", "--porcelain")
    done = orch(root, "apply", "1")
    assert done.returncode == 3
    assert "app.txt conflict(s) with your changes. Nothing was changed" in done.stderr
    assert done.stderr.count("\n") == 1  # one clear line, no traceback
    assert _user_tree(project) == before
    assert git(project, "status", "--porcelain") == status
    assert Path(tree.path).exists()  # kept for the user to merge by hand
    as_json = json.loads(orch(root, "apply", "1", "--json").stdout)
    assert (as_json["applied"], as_json["conflicts"]) == (False, ["app.txt"])


def test_diff_of_a_task_that_ran_in_the_user_tree_still_shows_its_checkpoints(project: Path) -> None:
    done = orch(project.parent, "diff", "1")
    assert done.returncode == 0, done.stderr
    assert "before attempt 1" in done.stderr


def test_apply_on_a_task_without_a_worktree_says_why(project: Path) -> None:
    done = orch(project.parent, "apply", "1")
    assert done.returncode == 3
    assert "ran in your tree" in done.stderr


def test_a_change_left_uncommitted_in_the_worktree_is_recorded_and_applied_not_lost(project: Path) -> None:
    """orch stopped after the task completed but before its commit: apply records it first."""
    root = project.parent
    sid = json.loads(orch(root, "status", "--json").stdout)["session"]["id"]
    worktrees = GitWorktrees(str(project), worktrees_dir(str(root / "state"), str(project)))
    tree = worktrees.create(sid, "1", worktrees.base_commit(), PortRange(20000, 10), WorktreeSetup())
    (Path(tree.path) / "feature.txt").write_text("not committed yet\n")
    done = orch(root, "apply", "1")
    assert done.returncode == 0, done.stderr
    assert (project / "feature.txt").read_text() == "not committed yet\n"
    assert "1 file(s)" in done.stdout


def test_a_task_that_did_not_complete_is_not_applied(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.txt").write_text("first\n")
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", "first")
    (tmp_path / "agent.sh").write_text("#!/bin/sh\ncat >/dev/null\nexit 1\n")
    (tmp_path / "tasks.md").write_text("# Tasks\n## Task 1: fails\n**Claude Instruction:**\ndo it\n")
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n  max_attempts: 1\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
    )
    orch(tmp_path, "run", "tasks.md")
    tree = task_branch(repo, "the failed task's line\n")
    done = orch(tmp_path, "apply", "1")
    assert done.returncode == 3
    assert "task 1 is failed, not completed" in done.stderr
    assert (repo / "app.txt").read_text() == "first\n"
    assert Path(tree.path).exists()
