"""Refs read from the repository's files give what git itself gives, on real repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.guards.local_files import LOCAL_FILES
from adapters.guards.workspace import GitWorkspace
from orchcore.safety.ref_files import refs_from_files, valid_ref_name
from orchcore.safety.refs import read_refs

pytestmark = pytest.mark.integration

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, "-C", str(folder), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def by_git(folder: Path) -> dict[str, str]:
    """What the guards read with git processes (for-each-ref, symbolic-ref, rev-parse)."""

    def run(*args: str) -> str | None:
        argv = ["git", "--no-optional-locks", "-C", str(folder), *args]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else None

    return read_refs(run)


def by_files(folder: Path) -> dict[str, str] | None:
    return refs_from_files(os.path.realpath(folder), LOCAL_FILES)


def same(folder: Path) -> dict[str, str]:
    expected = by_git(folder)
    assert by_files(folder) == expected
    return expected


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "a.txt").write_text("a\n")
    git(folder, "add", "a.txt")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_an_empty_repository_has_only_its_unborn_head(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert same(tmp_path) == {"HEAD": "ref: refs/heads/main"}


def test_a_folder_outside_any_repository_has_no_refs(tmp_path: Path) -> None:
    assert same(tmp_path) == {}


def test_branches_tags_and_head_match_git(repo: Path) -> None:
    git(repo, "branch", "feature")
    git(repo, "tag", "light")
    git(repo, "tag", "-a", "-m", "annotated", "v1")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    found = same(repo)
    assert found["HEAD"] == "ref: refs/heads/main"
    assert found["refs/tags/v1"] != found["refs/tags/light"]  # the tag object, not the commit it peels to


def test_packed_refs_and_a_loose_ref_over_a_packed_one_match_git(repo: Path) -> None:
    git(repo, "branch", "feature")
    git(repo, "tag", "-a", "-m", "annotated", "v1")
    git(repo, "pack-refs", "--all")
    assert "^" in (repo / ".git" / "packed-refs").read_text()  # a peeled line is there to skip
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")  # main: loose again, newer than packed
    git(repo, "branch", "-f", "feature", "HEAD")
    found = same(repo)
    assert found["refs/heads/feature"] == found["refs/heads/main"]


def test_deleted_refs_are_gone_packed_or_loose(repo: Path) -> None:
    git(repo, "branch", "packed-one")
    git(repo, "pack-refs", "--all")
    git(repo, "branch", "loose-one")
    git(repo, "branch", "-D", "packed-one")
    git(repo, "branch", "-D", "loose-one")
    found = same(repo)
    assert "refs/heads/packed-one" not in found
    assert "refs/heads/loose-one" not in found


def test_a_detached_head_is_its_commit(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    found = same(repo)
    assert found["HEAD"] == found["refs/heads/main"]


def test_a_symbolic_ref_and_a_dangling_one_match_git(repo: Path) -> None:
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    git(repo, "symbolic-ref", "refs/remotes/origin/gone", "refs/remotes/origin/nothing")
    found = same(repo)
    assert found["refs/remotes/origin/HEAD"] == found["refs/heads/main"]
    assert "refs/remotes/origin/gone" not in found


def test_a_linked_worktree_has_its_own_head_and_per_worktree_refs(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "-b", "side", str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "on the side")
    git(other, "update-ref", "refs/worktree/mine", "HEAD")
    git(repo, "update-ref", "refs/bisect/bad", "HEAD")
    in_worktree, in_main = same(other), same(repo)
    assert in_worktree["HEAD"] == "ref: refs/heads/side"
    assert in_main["HEAD"] == "ref: refs/heads/main"
    assert "refs/worktree/mine" in in_worktree
    assert "refs/worktree/mine" not in in_main
    assert "refs/bisect/bad" in in_main
    assert "refs/bisect/bad" not in in_worktree


def test_a_gitdir_file_with_a_relative_path_matches_git(repo: Path, tmp_path: Path) -> None:
    (repo / ".git").rename(tmp_path / "store.git")  # as a submodule's .git file points at its store
    (repo / ".git").write_text("gitdir: ../store.git\n")
    assert "refs/heads/main" in same(repo)


def test_a_folder_inside_the_repository_reads_the_repository(repo: Path) -> None:
    inner = repo / "src" / "deep"
    inner.mkdir(parents=True)
    assert same(inner) == same(repo)


def test_a_bare_repository_matches_git(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    assert "refs/heads/main" in same(bare)


def test_lock_files_and_broken_refs_are_left_out_as_git_leaves_them(repo: Path) -> None:
    heads = repo / ".git" / "refs" / "heads"
    (heads / "main.lock").write_text("0" * 40 + "\n")
    (heads / "garbage").write_text("not an object id\n")
    (heads / "null").write_text("0" * 40 + "\n")
    found = same(repo)
    assert set(found) == {"HEAD", "refs/heads/main"}


def test_a_packed_refs_file_git_cannot_read_falls_back_to_git(repo: Path, tmp_path: Path) -> None:
    (repo / ".git" / "packed-refs").write_text("this is no packed-refs line\n")
    assert by_files(repo) is None
    workspace = GitWorkspace(str(repo), str(tmp_path / "guards"))
    assert workspace.refs() == by_git(repo)


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("branch"), st.sampled_from(["a", "b", "x/y"])),
        st.tuples(st.just("delete"), st.sampled_from(["a", "b", "x/y"])),
        st.tuples(st.just("tag"), st.sampled_from(["t1", "t2"])),
        st.tuples(st.just("commit"), st.just("")),
        st.tuples(st.just("pack"), st.just("")),
        st.tuples(st.just("detach"), st.just("")),
        st.tuples(st.just("checkout"), st.sampled_from(["main", "a"])),
    ),
    min_size=1,
    max_size=8,
)


def apply(folder: Path, operation: str, name: str) -> None:
    argv = {
        "branch": ["branch", "-f", name],
        "delete": ["branch", "-D", name],
        "tag": ["tag", "-f", "-a", "-m", name, name],
        "commit": ["commit", "-q", "--allow-empty", "-m", "step"],
        "pack": ["pack-refs", "--all"],
        "detach": ["checkout", "-q", "--detach"],
        "checkout": ["checkout", "-q", name],
    }[operation]
    subprocess.run(
        ["git", *IDENTITY, "-C", str(folder), *argv], capture_output=True, check=False
    )  # some fail (deleting a missing branch, checking out the current one): git then changed nothing


def test_any_sequence_of_ref_operations_reads_as_git_reads_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(OPERATIONS)
    def check(operations: list[tuple[str, str]]) -> None:
        folder = tmp_path_factory.mktemp("prop")
        git(folder, "init", "-q")
        git(folder, "commit", "-q", "--allow-empty", "-m", "first")
        for operation, name in operations:
            apply(folder, operation, name)
            same(folder)

    check()


def test_a_ref_name_is_valid_exactly_when_git_check_ref_format_accepts_it() -> None:
    @settings(max_examples=60, deadline=None)
    @given(st.text(alphabet="ab.-_@{}~^: /*?[\\\x7f", min_size=1, max_size=12))
    @example("a..b")
    @example("a.lock/b")
    @example("a/.b")
    @example("a@{b")
    @example("a.")
    @example("@")
    @example("a//b")
    def check(name: str) -> None:
        ref = f"refs/{name}"
        done = subprocess.run(
            ["git", "check-ref-format", "--allow-onelevel", ref], capture_output=True, check=False
        )
        assert valid_ref_name(ref) is (done.returncode == 0), ref

    check()
