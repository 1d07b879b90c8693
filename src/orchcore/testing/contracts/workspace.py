"""The Workspace contract: refs are read without changing anything, and the
guards an agent runs under are in force through its environment alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.ports.workspace import Workspace
from orchcore.safety import DEFAULT_POLICY

# (folder to guard) -> Workspace; the folder is a git repository with one commit, or empty
WorkspaceFactory = Callable[[Path], Workspace]
RepoMaker = Callable[[Path], None]


class WorkspaceContract:
    """Subclass as ``TestMyWorkspace(WorkspaceContract)``; override ``make_workspace``
    and ``make_repo`` (which turns a folder into a repository with one commit)."""

    @pytest.fixture
    def make_workspace(self) -> WorkspaceFactory:
        msg = "override make_workspace"
        raise NotImplementedError(msg)

    @pytest.fixture
    def make_repo(self) -> RepoMaker:
        msg = "override make_repo"
        raise NotImplementedError(msg)

    def test_a_folder_that_is_no_repository_has_no_refs(
        self, make_workspace: WorkspaceFactory, tmp_path: Path
    ) -> None:
        assert dict(make_workspace(tmp_path).refs()) == {}

    def test_a_repository_has_head_and_its_branch(
        self, make_workspace: WorkspaceFactory, make_repo: RepoMaker, tmp_path: Path
    ) -> None:
        make_repo(tmp_path)
        refs = dict(make_workspace(tmp_path).refs())
        assert "HEAD" in refs
        assert any(name.startswith("refs/heads/") for name in refs)

    def test_reading_refs_changes_nothing(
        self, make_workspace: WorkspaceFactory, make_repo: RepoMaker, tmp_path: Path
    ) -> None:
        make_repo(tmp_path)
        before = sorted(
            (p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()
        )
        workspace = make_workspace(tmp_path)
        assert workspace.refs() == workspace.refs()
        after = sorted(
            (p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file()
        )
        assert after == before

    def test_guards_come_first_on_path_and_are_stable(
        self, make_workspace: WorkspaceFactory, tmp_path: Path
    ) -> None:
        workspace = make_workspace(tmp_path)
        first = dict(workspace.guard_env(DEFAULT_POLICY, "/usr/bin:/bin"))
        second = dict(workspace.guard_env(DEFAULT_POLICY, "/usr/bin:/bin"))
        assert first == second
        path = first.get("PATH", "/usr/bin:/bin")
        assert path.endswith("/usr/bin:/bin")
        assert all(Path(d).is_dir() for d in path.split(":")[: -len(["/usr/bin", "/bin"])])

    def test_with_nothing_refused_there_are_no_refusals_to_take(
        self, make_workspace: WorkspaceFactory, tmp_path: Path
    ) -> None:
        workspace = make_workspace(tmp_path)
        workspace.guard_env(DEFAULT_POLICY, "/usr/bin:/bin")
        assert list(workspace.take_refusals()) == []
        assert list(workspace.take_refusals()) == []
