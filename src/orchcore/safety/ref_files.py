"""A repository's refs read from its files (``HEAD``, loose refs, ``packed-refs``), without running git.

The after-the-task check reads every ref twice per attempt; four git processes for that cost
more than the rest of orch's work on a task. This reads the same files git's ``files`` ref
backend reads and gives what ``git for-each-ref`` and ``symbolic-ref``/``rev-parse HEAD`` give
(see ``read_refs``): the repository is found by walking up from the workspace like git does
(``.git`` directory or ``gitdir:`` file, a bare directory, stopping at a mount point), a linked
worktree reads its own ``HEAD`` and per-worktree refs and the shared rest through
``commondir``, loose refs win over packed ones, peeled lines (``^id``) are skipped, symbolic
refs are followed, and broken refs (bad name, garbage, dangling, null id) are left out as git
leaves them out. Where this cannot be sure (a ``reftable`` store, an unreadable ``packed-refs``
line, an invalid ``gitdir:`` file) it answers None and the caller asks git. Git's
environment (``GIT_DIR``, ``GIT_CEILING_DIRECTORIES``) and ``safe.directory`` are not consulted:
the workspace's repository is the one found above it. A ref whose object is missing is kept
(git hides it): a hand-written ref file is still a change to the refs.

Pure: every file access goes through ``GitFiles``; paths are joined with ``posixpath``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_NULL_ID = re.compile(r"0{40}|0{64}")
_FORBIDDEN_IN_NAMES = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
PER_WORKTREE = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")
"""Ref namespaces each worktree keeps in its own git dir (git 2.39's ``files`` backend)."""
_SYMREF_DEPTH = 5  # git's SYMREF_MAXDEPTH


class GitFiles(Protocol):
    """Read-only access to the files of a repository (an adapter gives the real filesystem)."""

    def read(self, path: str) -> str | None:
        """The text of the regular file at ``path``; None when there is none or it cannot be read."""
        ...

    def is_dir(self, path: str) -> bool:
        """True if ``path`` is a directory."""
        ...

    def device(self, path: str) -> int | None:
        """The device ``path`` lives on (None if it does not exist): discovery stops where it changes."""
        ...

    def files_under(self, directory: str) -> Sequence[str]:
        """Every regular file under ``directory``, relative and ``/``-separated, skipping names that
        start with ``.`` or end with ``.lock`` (as git does); empty when there is no such directory."""
        ...


class _Once:
    """A ``GitFiles`` that reads each file once per snapshot (discovery and the read share HEAD)."""

    def __init__(self, files: GitFiles) -> None:
        self._files = files
        self._texts: dict[str, str | None] = {}

    def read(self, path: str) -> str | None:
        if path not in self._texts:
            self._texts[path] = self._files.read(path)
        return self._texts[path]

    def is_dir(self, path: str) -> bool:
        return self._files.is_dir(path)

    def device(self, path: str) -> int | None:
        return self._files.device(path)

    def files_under(self, directory: str) -> Sequence[str]:
        return self._files.files_under(directory)


class _Unsure(Exception):
    """Something only git itself can answer: the caller falls back to running it."""


def valid_ref_name(name: str) -> bool:
    """Git's ``check_refname_format`` (one-level names allowed) for names taken from files."""
    if not name or name == "@" or name.endswith(("/", ".")) or _FORBIDDEN_IN_NAMES.search(name):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


def _valid_head(text: str | None) -> bool:
    """Git's ``validate_headref``: ``ref: refs/...`` or an object id."""
    if text is None:
        return False
    if text.startswith("ref:"):
        return text[4:].strip().startswith("refs/")
    return _OBJECT_ID.match(text) is not None


def _common_dir(git_dir: str, files: GitFiles) -> str:
    common = files.read(posixpath.join(git_dir, "commondir"))
    if common is None or not common.strip():
        return git_dir
    return posixpath.normpath(posixpath.join(git_dir, common.strip()))


def _is_git_dir(path: str, files: GitFiles) -> bool:
    """Git's ``is_git_directory``: a valid HEAD, and objects/ and refs/ in the common dir."""
    if not _valid_head(files.read(posixpath.join(path, "HEAD"))):
        return False
    common = _common_dir(path, files)
    return files.is_dir(posixpath.join(common, "objects")) and files.is_dir(posixpath.join(common, "refs"))


def find_git_dir(start: str, files: GitFiles) -> str | None:
    """The git dir of the repository ``start`` (absolute, symlinks resolved) is in; None outside one."""
    if not start.startswith("/") or not files.is_dir(start):
        return None
    device = files.device(start)
    folder = posixpath.normpath(start)
    while True:
        dot_git = posixpath.join(folder, ".git")
        if files.is_dir(dot_git):
            if _is_git_dir(dot_git, files):
                return dot_git
        else:
            gitfile = files.read(dot_git)
            if gitfile is not None:
                if not gitfile.startswith("gitdir:"):
                    raise _Unsure(f"{dot_git} is no gitdir file")
                target = posixpath.normpath(posixpath.join(folder, gitfile[7:].strip()))
                if not _is_git_dir(target, files):
                    raise _Unsure(f"{dot_git} names no git directory")
                return target
        if _is_git_dir(folder, files):
            return folder  # a bare repository
        parent = posixpath.dirname(folder)
        if parent == folder or files.device(parent) != device:
            return None
        folder = parent


def _packed(common: str, files: GitFiles) -> dict[str, str]:
    text = files.read(posixpath.join(common, "packed-refs"))
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line or line.startswith(("#", "^")):  # the header, a peeled tag's object
            continue
        object_id, _, name = line.partition(" ")
        if not _OBJECT_ID.fullmatch(object_id) or not name.startswith("refs/"):
            raise _Unsure(f"unexpected line in packed-refs: {line[:80]!r}")
        if valid_ref_name(name):
            found[name] = object_id
    return found


def _loose(git_dir: str, common: str, files: GitFiles) -> dict[str, str | None]:
    """Every loose ref's file text (None when unreadable), the per-worktree ones from ``git_dir``."""
    names = [f"refs/{rel}" for rel in files.files_under(posixpath.join(common, "refs"))]
    if git_dir != common:
        names = [n for n in names if not n.startswith(PER_WORKTREE)]
        for space in PER_WORKTREE:
            names += [space + rel for rel in files.files_under(posixpath.join(git_dir, space))]
    return {name: files.read(posixpath.join(_home(name, git_dir, common), name)) for name in names}


def _home(name: str, git_dir: str, common: str) -> str:
    return git_dir if name.startswith(PER_WORKTREE) or name == "HEAD" else common


def _resolve(
    name: str, loose: Mapping[str, str | None], packed: Mapping[str, str], head: str | None
) -> str | None:
    """The object id ``name`` ends at, following symbolic refs; None for a broken or dangling ref."""
    for _ in range(_SYMREF_DEPTH + 1):
        if name != "HEAD" and not valid_ref_name(name):
            return None
        text = head if name == "HEAD" else loose[name] if name in loose else packed.get(name)
        if text is None:
            return None
        text = text.strip()
        if not text.startswith("ref:"):
            object_id = text.split()[0] if text else ""
            ok = _OBJECT_ID.fullmatch(object_id) and not _NULL_ID.fullmatch(object_id)
            return object_id if ok else None
        name = text[4:].strip()
    return None


def _head(head: str, loose: Mapping[str, str | None], packed: Mapping[str, str]) -> str | None:
    """What ``symbolic-ref -q HEAD`` (as ``ref: <name>``), else ``rev-parse --verify HEAD``, says."""
    text = head.strip()
    if not text.startswith("ref:"):
        return _resolve("HEAD", loose, packed, head)
    name = text[4:].strip()
    for _ in range(_SYMREF_DEPTH):  # symbolic-ref names the last ref of a chain, existing or not
        target = loose.get(name) if name in loose else None
        if target is None or not target.strip().startswith("ref:"):
            break
        name = target.strip()[4:].strip()
    return f"ref: {name}"


def refs_from_files(start: str, files: GitFiles) -> dict[str, str] | None:
    """A ``Workspace.refs()`` snapshot of the repository around ``start``, read from its files.

    ``{}`` outside a repository; None when only git can tell (the caller runs ``read_refs``).
    """
    files = _Once(files)
    try:
        git_dir = find_git_dir(start, files)
        if git_dir is None:
            return {}
        common = _common_dir(git_dir, files)
        if files.is_dir(posixpath.join(common, "reftable")):
            return None
        head = files.read(posixpath.join(git_dir, "HEAD"))
        packed = _packed(common, files)
        loose = _loose(git_dir, common, files)
    except _Unsure:
        return None
    found = {}
    for name in sorted(set(packed) | set(loose)):
        object_id = _resolve(name, loose, packed, head)
        if object_id is not None:
            found[name] = object_id
    shown = _head(head, loose, packed) if head is not None else None
    if shown is not None:
        found["HEAD"] = shown
    return found
