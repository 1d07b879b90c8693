"""The Worktrees contract: a task's worktree is its own checkout and branch, orch records its
change as one commit, and applying it changes the user's tree only when it applies cleanly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.errors import WorktreeError
from orchcore.ports.worktrees import PortRange, Worktrees, WorktreeSetup
from orchcore.testing.contracts.checkpoints import GitRunner

# (user's repository) -> Worktrees
WorktreesFactory = Callable[[Path], Worktrees]
PORTS = PortRange(20000, 10)


def _tree_bytes(repo: Path) -> dict[str, bytes]:
    """Every file of the user's work tree (not .git) and its bytes: what 'unchanged' means."""
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


class WorktreesContract:
    """Subclass as ``TestMyWorktrees(WorktreesContract)``; override ``make_worktrees`` and ``git``.
    Each test gets a repository with ``app.txt`` (ten lines) committed and an ignored ``.env``."""

    @pytest.fixture
    def make_worktrees(self) -> WorktreesFactory:
        msg = "override make_worktrees"
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
        (repo / ".gitignore").write_text(".env\n")
        (repo / "app.txt").write_text("".join(f"line {n}\n" for n in range(10)))
        git(repo, "add", ".gitignore", "app.txt")
        git(repo, "commit", "-q", "-m", "first")
        (repo / ".env").write_text("TOKEN=not-for-commits\n")
        return repo

    def test_a_worktree_is_the_base_commit_on_its_own_branch_and_leaves_the_user_tree_alone(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        before = _tree_bytes(repo)
        base = worktrees.base_commit()
        tree = worktrees.create("s1", "a", base, PORTS, WorktreeSetup(copy=(".env",)))
        assert tree.branch == "orch/s1/a"
        assert tree.base == base == git(repo, "rev-parse", "HEAD").strip()
        assert git(Path(tree.path), "rev-parse", "HEAD").strip() == base
        assert git(Path(tree.path), "symbolic-ref", "HEAD").strip() == "refs/heads/orch/s1/a"
        assert (Path(tree.path) / "app.txt").read_text() == (repo / "app.txt").read_text()
        assert (Path(tree.path) / ".env").read_text() == "TOKEN=not-for-commits\n"
        assert not Path(tree.path).resolve().is_relative_to(repo.resolve())
        assert _tree_bytes(repo) == before
        assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
        assert worktrees.find("s1", "a") == tree
        assert [t.task_id for t in worktrees.worktrees("s1")] == ["a"]
        assert worktrees.worktrees("other") == []

    def test_setup_commands_run_in_the_worktree_with_the_task_port_range(
        self, make_worktrees: WorktreesFactory, repo: Path
    ) -> None:
        worktrees = make_worktrees(repo)
        setup = WorktreeSetup(commands=('echo "$ORCH_PORT_BASE $ORCH_PORT_COUNT" > ports.txt',))
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PortRange(20030, 10), setup)
        assert (Path(tree.path) / "ports.txt").read_text() == "20030 10\n"
        assert not (repo / "ports.txt").exists()

    def test_a_failing_setup_names_the_command_and_leaves_no_worktree_nor_branch(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        setup = WorktreeSetup(commands=("echo installing; exit 3",))
        with pytest.raises(WorktreeError, match="exited 3") as caught:
            worktrees.create("s1", "a", worktrees.base_commit(), PORTS, setup)
        assert "installing" in str(caught.value)
        assert worktrees.find("s1", "a") is None
        assert "orch/" not in git(repo, "branch", "--list")
        assert len(git(repo, "worktree", "list").splitlines()) == 1

    def test_a_setup_command_past_its_timeout_is_stopped_and_said(
        self, make_worktrees: WorktreesFactory, repo: Path
    ) -> None:
        worktrees = make_worktrees(repo)
        setup = WorktreeSetup(commands=("sleep 30",), timeout_s=0.5)
        with pytest.raises(WorktreeError, match=r"within 0\.5 s"):
            worktrees.create("s1", "a", worktrees.base_commit(), PORTS, setup)
        assert worktrees.find("s1", "a") is None

    def test_files_to_copy_that_are_missing_are_all_named_before_anything_is_made(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        setup = WorktreeSetup(copy=(".env", "config/local.yml", "../outside.txt"))
        with pytest.raises(WorktreeError, match=r"config/local\.yml, \.\./outside\.txt"):
            worktrees.create("s1", "a", worktrees.base_commit(), PORTS, setup)
        assert "orch/" not in git(repo, "branch", "--list")

    def test_a_second_worktree_for_the_same_task_is_refused(
        self, make_worktrees: WorktreesFactory, repo: Path
    ) -> None:
        worktrees = make_worktrees(repo)
        worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        with pytest.raises(WorktreeError, match="already has a worktree"):
            worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())

    def test_the_task_change_is_one_commit_by_orch_without_the_copied_files_or_hooks(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        hooks = repo / ".git" / "hooks"
        hooks.mkdir(exist_ok=True)
        for hook in ("pre-commit", "commit-msg", "post-commit"):
            (hooks / hook).write_text(f"#!/bin/sh\ntouch {repo}/hook-ran\nexit 1\n")
            (hooks / hook).chmod(0o755)
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup(copy=(".env",)))
        work = Path(tree.path)
        assert worktrees.commit(tree, "orch: nothing") is None
        (work / "app.txt").write_text("changed\n")
        (work / "new.txt").write_text("new\n")
        first = worktrees.commit(tree, "orch: session s1, task a")
        assert first is not None
        (work / "more.txt").write_text("more\n")
        second = worktrees.commit(tree, "orch: session s1, task a")
        assert second is not None
        assert worktrees.commit(tree, "orch: session s1, task a") == second  # nothing new: the same
        assert git(repo, "rev-list", "--count", f"{tree.base}..{tree.branch}").strip() == "1"
        assert git(repo, "log", "-1", "--format=%an <%ae>|%cn|%s", tree.branch).strip() == (
            "orch <orch@localhost>|orch|orch: session s1, task a"
        )
        files = git(repo, "diff", "--name-only", tree.base, tree.branch).split()
        assert files == ["app.txt", "more.txt", "new.txt"]
        assert not (repo / "hook-ran").exists()

    def test_the_one_commit_holds_when_the_repository_packs_its_refs_between_commits(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        """`git gc` / `git pack-refs` moves branch tips into packed-refs: orch still finds them."""
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        work = Path(tree.path)
        (work / "new.txt").write_text("new\n")
        first = worktrees.commit(tree, "orch: task a")
        git(repo, "pack-refs", "--all")
        assert worktrees.commit(tree, "orch: task a") == first  # nothing new: the same commit
        (work / "more.txt").write_text("more\n")
        second = worktrees.commit(tree, "orch: task a")
        assert second not in (None, first)
        assert git(repo, "rev-list", "--count", f"{tree.base}..{tree.branch}").strip() == "1"
        (work / "new.txt").unlink()
        (work / "more.txt").unlink()
        git(repo, "pack-refs", "--all")
        assert worktrees.commit(tree, "orch: task a") is None  # back to the base: no commit left
        assert git(repo, "rev-parse", tree.branch).strip() == tree.base

    def test_worktrees_of_several_tasks_are_made_and_committed_at_once(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        base = worktrees.base_commit()
        errors: list[BaseException] = []

        def task(n: int) -> None:
            try:
                tree = worktrees.create("s1", f"t{n}", base, PortRange(20000 + 10 * n, 10), WorktreeSetup())
                (Path(tree.path) / f"t{n}.txt").write_text(f"task {n}\n")
                worktrees.commit(tree, f"task {n}")
            except BaseException as exc:  # noqa: BLE001 - reported below, with the others
                errors.append(exc)

        threads = [threading.Thread(target=task, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert [t.task_id for t in worktrees.worktrees("s1")] == sorted(f"t{n}" for n in range(16))
        for n in range(16):
            assert git(repo, "show", f"orch/s1/t{n}:t{n}.txt") == f"task {n}\n"

    def test_combine_holds_every_dependency_and_a_dependent_started_on_it_sees_them(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        base = worktrees.base_commit()
        lines = [f"line {n}\n" for n in range(10)]
        first = worktrees.create("s1", "a", base, PORTS, WorktreeSetup())
        (Path(first.path) / "app.txt").write_text("".join(["a line 0\n", *lines[1:]]))
        second = worktrees.create("s1", "b", base, PortRange(20010, 10), WorktreeSetup())
        (Path(second.path) / "b.txt").write_text("from b\n")
        (Path(second.path) / "app.txt").write_text("".join([*lines[:9], "b line 9\n"]))
        tip_a, tip_b = worktrees.commit(first, "task a"), worktrees.commit(second, "task b")
        assert tip_a is not None
        assert tip_b is not None
        refs_before = git(repo, "for-each-ref")
        assert worktrees.combine([tip_a], "one") == tip_a
        both = worktrees.combine([tip_a, tip_b], "a and b")
        assert worktrees.combine([both, tip_a], "again") == both  # one already in it adds nothing
        assert git(repo, "for-each-ref") == refs_before  # no ref made or moved
        dependent = worktrees.create("s1", "c", both, PortRange(20020, 10), WorktreeSetup())
        work = Path(dependent.path)
        assert (work / "b.txt").read_text() == "from b\n"
        assert (work / "app.txt").read_text() == "".join(["a line 0\n", *lines[1:9], "b line 9\n"])
        (work / "c.txt").write_text("from c\n")
        worktrees.commit(dependent, "task c")
        assert list(worktrees.files(dependent)) == ["c.txt"]  # its own change only, for review

    def test_combine_names_the_files_of_dependencies_that_conflict(
        self, make_worktrees: WorktreesFactory, repo: Path
    ) -> None:
        worktrees = make_worktrees(repo)
        base = worktrees.base_commit()
        tips = []
        for n, task in enumerate(("a", "b")):
            tree = worktrees.create("s1", task, base, PortRange(20000 + 10 * n, 10), WorktreeSetup())
            (Path(tree.path) / "app.txt").write_text(f"{task} rewrote it\n")
            tip = worktrees.commit(tree, f"task {task}")
            assert tip is not None
            tips.append(tip)
        with pytest.raises(WorktreeError, match=r"conflict in: app\.txt"):
            worktrees.combine(tips, "a and b")

    def test_diff_shows_the_task_commit_against_its_base(
        self, make_worktrees: WorktreesFactory, repo: Path
    ) -> None:
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        assert worktrees.diff(tree) == ""
        (Path(tree.path) / "app.txt").write_text("line 0\nchanged\n")
        worktrees.commit(tree, "task a")
        diff = worktrees.diff(tree)
        assert "+changed" in diff
        assert "-line 1" in diff
        assert "app.txt" in worktrees.diff(tree, stat=True)
        assert list(worktrees.files(tree)) == ["app.txt"]

    def test_apply_brings_the_change_into_the_user_tree_uncommitted(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        head = git(repo, "rev-parse", "HEAD")
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        (Path(tree.path) / "app.txt").write_text("line 0\nby the task\n")
        (Path(tree.path) / "new.txt").write_text("new\n")
        worktrees.commit(tree, "task a")
        applied = worktrees.apply(tree)
        assert applied.ok
        assert sorted(applied.files) == ["app.txt", "new.txt"]
        assert (repo / "app.txt").read_text() == "line 0\nby the task\n"
        assert (repo / "new.txt").read_text() == "new\n"
        assert git(repo, "rev-parse", "HEAD") == head

    def test_apply_merges_three_way_when_the_user_changed_other_lines_since(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        lines = [f"line {n}\n" for n in range(10)]
        (Path(tree.path) / "app.txt").write_text("".join([*lines[:8], "task line 8\n", lines[9]]))
        worktrees.commit(tree, "task a")
        (repo / "app.txt").write_text("".join(["user line 0\n", "user line 1\n", *lines[2:]]))
        git(repo, "commit", "-q", "-am", "the user goes on")
        (repo / "app.txt").write_text("".join(["user line 0\n", "user line 1\n", *lines[2:]]))
        assert worktrees.apply(tree).ok
        text = (repo / "app.txt").read_text()
        assert text.startswith("user line 0\n")
        assert "task line 8\n" in text
        assert git(repo, "diff", "--cached", "--name-only").strip() == ""  # the user's index is theirs

    def test_a_conflicting_apply_leaves_the_user_tree_exactly_as_it_was_and_names_the_files(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        (Path(tree.path) / "app.txt").write_text("task's first line\n")
        (Path(tree.path) / "fine.txt").write_text("no conflict here\n")
        worktrees.commit(tree, "task a")
        (repo / "app.txt").write_text("user's first line\n")
        for committed in (True, False):
            if committed:
                git(repo, "commit", "-q", "-am", "the user's own edit")
            before, status = _tree_bytes(repo), git(repo, "status", "--porcelain")
            applied = worktrees.apply(tree)
            assert not applied.ok
            assert applied.conflicts == ("app.txt",)
            assert _tree_bytes(repo) == before
            assert git(repo, "status", "--porcelain") == status
            (repo / "app.txt").write_text("user's uncommitted line\n")

    def test_remove_deletes_the_worktree_and_branch_and_may_run_twice(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup(copy=(".env",)))
        (Path(tree.path) / "app.txt").write_text("x\n")
        worktrees.commit(tree, "task a")
        worktrees.remove(tree)
        worktrees.remove(tree)
        assert not Path(tree.path).exists()
        assert worktrees.find("s1", "a") is None
        assert "orch/" not in git(repo, "branch", "--list")
        assert len(git(repo, "worktree", "list").splitlines()) == 1
        again = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        assert (Path(again.path) / "app.txt").read_text().startswith("line 0")

    def test_a_copied_file_the_repository_tracks_keeps_its_committed_content_in_the_task_commit(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        (repo / "config").mkdir()
        (repo / "config" / "local.yml").write_text("db: example\n")
        git(repo, "add", "config/local.yml")
        git(repo, "commit", "-q", "-m", "a template")
        (repo / "config" / "local.yml").write_text("db: my-own-password\n")
        worktrees = make_worktrees(repo)
        setup = WorktreeSetup(copy=("config/local.yml",))
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, setup)
        assert (Path(tree.path) / "config" / "local.yml").read_text() == "db: my-own-password\n"
        (Path(tree.path) / "app.txt").write_text("changed\n")
        worktrees.commit(tree, "task a")
        assert "my-own-password" not in worktrees.diff(tree)
        assert git(repo, "show", f"{tree.branch}:config/local.yml") == "db: example\n"

    def test_ids_that_are_not_ref_names_still_get_distinct_branches(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        worktrees = make_worktrees(repo)
        base = worktrees.base_commit()
        one = worktrees.create("2026-12-02 run", "Fix: login", base, PORTS, WorktreeSetup())
        two = worktrees.create("2026-12-02 run", "fix login", base, PortRange(20010, 10), WorktreeSetup())
        assert one.branch != two.branch
        for tree in (one, two):
            git(repo, "check-ref-format", f"refs/heads/{tree.branch}")
            assert tree.branch.startswith("orch/")
        assert {t.task_id for t in worktrees.worktrees("2026-12-02 run")} == {"Fix: login", "fix login"}

    def test_apply_reproduces_deletions_binary_files_and_odd_names_exactly(
        self, make_worktrees: WorktreesFactory, repo: Path, git: GitRunner
    ) -> None:
        (repo / "gone.txt").write_text("to delete\n")
        git(repo, "add", "gone.txt")
        git(repo, "commit", "-q", "-m", "one more")
        worktrees = make_worktrees(repo)
        tree = worktrees.create("s1", "a", worktrees.base_commit(), PORTS, WorktreeSetup())
        work = Path(tree.path)
        (work / "gone.txt").unlink()
        (work / "logo.bin").write_bytes(bytes(range(256)) * 4)
        (work / "docs dir").mkdir()
        (work / "docs dir" / "notes ü.md").write_text("odd name\n")
        worktrees.commit(tree, "task a")
        expected = {k: v for k, v in _tree_bytes(work).items() if k != ".env"}
        applied = worktrees.apply(tree)
        assert applied.ok
        assert sorted(applied.files) == ["docs dir/notes ü.md", "gone.txt", "logo.bin"]
        assert {k: v for k, v in _tree_bytes(repo).items() if k != ".env"} == expected
