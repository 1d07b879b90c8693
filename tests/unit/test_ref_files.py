"""Reading refs from a repository's files where only git could tell, on an in-memory file tree."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from orchcore.safety.ref_files import refs_from_files

A, B = "a" * 40, "b" * 40


class MemoryFiles:
    """``GitFiles`` over a dict of absolute path -> text; directories are implied by the paths."""

    def __init__(self, files: Mapping[str, str], dirs: tuple[str, ...] = ()) -> None:
        self.files = dict(files)
        self.dirs = {posixpath.dirname(p) for p in files} | set(dirs)
        for path in list(self.dirs):
            while path != "/":
                path = posixpath.dirname(path)
                self.dirs.add(path)

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def is_dir(self, path: str) -> bool:
        return path in self.dirs

    def device(self, path: str) -> int | None:
        return 1 if path in self.dirs or path in self.files else None

    def files_under(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        found = [p.removeprefix(prefix) for p in self.files if p.startswith(prefix)]
        return [
            rel
            for rel in found
            if not any(part.startswith(".") for part in rel.split("/")) and not rel.endswith(".lock")
        ]


def repo(**extra: str) -> dict[str, str]:
    return {
        "/w/.git/HEAD": "ref: refs/heads/main\n",
        "/w/.git/refs/heads/main": A + "\n",
        "/w/.git/objects/info/packs": "",
        **{f"/w/.git/{k.replace('__', '/')}": v for k, v in extra.items()},
    }


def test_a_plain_repository_reads_its_branch_and_head() -> None:
    assert refs_from_files("/w", MemoryFiles(repo())) == {
        "HEAD": "ref: refs/heads/main",
        "refs/heads/main": A,
    }


def test_a_reftable_store_is_left_to_git() -> None:
    files = MemoryFiles(repo(), dirs=("/w/.git/reftable",))
    assert refs_from_files("/w", files) is None


def test_a_gitdir_file_that_names_no_repository_is_left_to_git() -> None:
    files = MemoryFiles({"/w/.git": "gitdir: /nowhere\n", "/w/a.txt": "a"})
    assert refs_from_files("/w", files) is None
    assert refs_from_files("/w", MemoryFiles({"/w/.git": "not a gitfile\n"})) is None


def test_a_symbolic_ref_loop_is_left_out_like_a_broken_ref() -> None:
    files = MemoryFiles(repo(refs__heads__x="ref: refs/heads/y\n", refs__heads__y="ref: refs/heads/x\n"))
    found = refs_from_files("/w", files)
    assert found == {"HEAD": "ref: refs/heads/main", "refs/heads/main": A}


def test_a_broken_loose_ref_hides_the_packed_one_of_the_same_name() -> None:
    packed = f"# pack-refs with: peeled fully-peeled sorted\n{B} refs/heads/main\n{B} refs/tags/v1\n^{A}\n"
    files = MemoryFiles(repo(**{"packed-refs": packed, "refs__heads__main": "garbage\n"}))
    assert refs_from_files("/w", files) == {"HEAD": "ref: refs/heads/main", "refs/tags/v1": B}


def test_outside_any_repository_there_are_no_refs() -> None:
    assert refs_from_files("/w", MemoryFiles({"/w/a.txt": "a"})) == {}
