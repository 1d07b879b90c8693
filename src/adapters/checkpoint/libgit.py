"""The hot path of the shadow-git checkpoints in-process, through libgit2 (pygit2).

Staging the workspace into the shadow index, writing its tree, the checkpoint commit and ref,
reading the user's refs and comparing two snapshots spawn no process: an unchanged workspace
costs a stat of each file against the index's stat cache. What is staged is what
``git add -A`` stages (tracked and untracked files, not ignored ones, a nested repository as
the commit its HEAD names), so stores written by the git commands before stay readable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import attrs
import pygit2
from pygit2.enums import ConfigLevel, DeltaStatus, DiffOption, FileMode, ReferenceType

logger = logging.getLogger(__name__)

# not UPDATE_INDEX: it saves the index from inside the diff, whenever a racily clean file was hashed
_STAGE = DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS | DiffOption.INCLUDE_TYPECHANGE
_BLOB_OR_LINK = (pygit2.Blob, pygit2.Commit)


def isolate() -> None:
    """Read no system, global or XDG git config (nor the global excludes file), as the git
    commands here run with GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL and HOME=/dev/null: what a
    checkpoint holds must not depend on whose home orch runs in. Process-wide; idempotent."""
    for level in (ConfigLevel.SYSTEM, ConfigLevel.XDG, ConfigLevel.GLOBAL, ConfigLevel.PROGRAMDATA):
        pygit2.settings.search_path[level] = ""


def open_shadow(shadow: str, workdir: str, excludes_file: str | None) -> pygit2.Repository:
    """The shadow repository with ``workdir`` as its work tree; ``excludes_file`` (the user's
    ``info/exclude``) is its core.excludesFile, written to its config only when it differs."""
    repo = pygit2.Repository(shadow)
    repo.workdir = workdir
    config = repo.config
    current = config["core.excludesFile"] if "core.excludesFile" in config else None  # noqa: SIM401 - no .get
    if current != excludes_file:
        if excludes_file is None:
            del config["core.excludesFile"]
        else:
            config["core.excludesFile"] = excludes_file
    return repo


@attrs.frozen
class Staged:
    """A workspace staged into an index: its tree, and how many paths (and bytes) changed."""

    tree: pygit2.Oid
    paths: int
    size: int


def stage(index: pygit2.Index, workdir: str) -> Staged:
    """Bring ``index`` (in memory) up to the workspace and write its tree. Deleted paths go, new
    and changed ones are hashed, unchanged ones cost a stat; a path that cannot be read is left
    as it was, with a warning."""
    index.read(False)  # reloaded only if another git wrote it since
    deltas = list(index.diff_to_workdir(_STAGE).deltas)
    gone = [d.old_file.path for d in deltas if d.status == DeltaStatus.DELETED]
    for path in gone:  # first: a file may have become a directory
        index.remove(path)
    added = [d.new_file for d in deltas if d.status != DeltaStatus.DELETED]
    skipped = [file.path for file in added if not _add(index, workdir, file.path)]
    if skipped:
        logger.warning("checkpoint: some files were left out: %s", ", ".join(skipped)[:500])
    size = sum(file.size for file in added)
    return Staged(index.write_tree(), len(deltas) - len(skipped), size)


def shadow_index(repo: pygit2.Repository) -> pygit2.Index:
    """The shadow's index as on disk; one that cannot be read (torn by a crash, a disk error) is
    set aside as ``index.unreadable`` and started anew: it is only a cache of file stats, so
    the next snapshot hashes every file once and is right."""
    path = Path(repo.path) / "index"
    index: pygit2.Index
    try:
        index = repo.index
        index.read(False)
    except pygit2.GitError as exc:
        logger.warning("checkpoint: the shadow index %s could not be read (%s); starting it anew", path, exc)
        path.replace(path.with_name("index.unreadable"))
        index = repo.index
        index.read(True)
    return index


def save(index: pygit2.Index) -> bool:
    """Save the index's stat cache to disk; False when another git holds its lock (the cache is
    only a cache: checkpoints stay right, the next one hashes a little more)."""
    try:
        index.write()
    except pygit2.GitError as exc:
        logger.warning("checkpoint: the shadow index was not saved: %s", exc)
        return False
    return True


def _add(index: pygit2.Index, workdir: str, path: str) -> bool:
    """Stage one path; a directory libgit2 did not enter is a nested repository, recorded as the
    commit its HEAD names (none checked out: left out, as git does)."""
    try:
        if not path.endswith("/"):
            index.add(path)
            return True
        nested = pygit2.Repository(str(Path(workdir) / path))
        if nested.head_is_unborn:
            return False
        index.add(pygit2.IndexEntry(path.rstrip("/"), nested.head.peel(pygit2.Commit).id, FileMode.COMMIT))
    except (pygit2.GitError, OSError, KeyError):
        return False
    return True


def tree_changes(
    repo: pygit2.Repository, old_tree: pygit2.Oid, new_tree: pygit2.Oid
) -> list[tuple[str, str | None, str | None]]:
    """``(path, before, after)`` for each path that differs between two trees, by path; ids are
    content ids, None where the path is absent (``git diff-tree -r --no-renames``)."""
    old, new = repo[old_tree].peel(pygit2.Tree), repo[new_tree].peel(pygit2.Tree)
    found = []
    for delta in old.diff_to_tree(new, DiffOption.INCLUDE_TYPECHANGE).deltas:
        before = None if delta.status == DeltaStatus.ADDED else str(delta.old_file.id)
        after = None if delta.status == DeltaStatus.DELETED else str(delta.new_file.id)
        found.append((delta.old_file.path if after is None else delta.new_file.path, before, after))
    return found


def commit_tree(repo: pygit2.Repository, ref: str) -> pygit2.Oid:
    """The tree of the commit (or tree) ``ref`` names in ``repo``."""
    return repo.revparse_single(ref).peel(pygit2.Tree).id


def open_user(workdir: str) -> pygit2.Repository | None:
    """The user's repository holding ``workdir`` (found upward, not across file systems, as
    ``git -C`` does), or None: none, or one git would refuse too (not the user's)."""
    try:  # not pygit2.discover_repository: on "none found" (1.21) it returns None without a
        # reference, so after ~1,000 attempts outside a repository Python aborts at exit
        return pygit2.Repository(workdir)  # searches upward, within one file system
    except pygit2.GitError:
        return None


def read_refs(repo: pygit2.Repository | None) -> dict[str, str]:
    """Every ref under ``refs/`` as the object it names (a symbolic one: what it resolves to)
    and HEAD as ``"ref: refs/heads/x"`` or an id: what ``git for-each-ref`` and
    ``git symbolic-ref HEAD`` show, so refs stored by the git commands compare equal. A broken
    ref (unreadable, or symbolic to nothing) is left out, as git leaves it out."""
    if repo is None:
        return {}
    found = {}
    try:
        names = repo.listall_references()
    except pygit2.GitError:  # as git for-each-ref failing: no refs to speak of
        return {}
    for name in names:
        try:
            target = repo.lookup_reference(name).resolve().target
        except (pygit2.GitError, KeyError, ValueError):
            continue
        if isinstance(target, pygit2.Oid):
            found[name] = str(target)
    try:
        head = repo.lookup_reference("HEAD")
    except (pygit2.GitError, KeyError, ValueError):
        return found
    if head.type == ReferenceType.SYMBOLIC:
        found["HEAD"] = f"ref: {head.target}"
    else:
        found["HEAD"] = str(head.target)
    return found


def committed(
    repo: pygit2.Repository | None, workdir: str, head: str | None, paths: Sequence[str]
) -> dict[str, str | None]:
    """The content id of each path (relative to ``workdir``) in the user's commit ``head``; None
    where the commit or the path is absent or is a directory (``git ls-tree -r``)."""
    found: dict[str, str | None] = dict.fromkeys(paths)
    if repo is None or head is None or not repo.workdir or not paths:
        return found
    try:
        tree = repo[head].peel(pygit2.Tree)
        prefix = Path(workdir).resolve().relative_to(Path(repo.workdir).resolve()).as_posix()
    except (pygit2.GitError, KeyError, ValueError):  # no such commit, or a workspace outside the work tree
        return found
    for path in paths:
        entry = _entry(tree, path if prefix == "." else f"{prefix}/{path}")
        if entry is not None:
            found[path] = entry
    return found


def _entry(tree: pygit2.Tree, path: str) -> str | None:
    try:
        obj = tree[path]
    except (KeyError, pygit2.GitError):
        return None
    return str(obj.id) if isinstance(obj, _BLOB_OR_LINK) else None


def listing(repo: pygit2.Repository, prefix: str) -> list[tuple[int, str, str]]:
    """``(seq, commit id, message)`` of each checkpoint ref under ``prefix``."""
    found = []
    for name in repo.listall_references():
        tail = name.removeprefix(prefix)
        if name.startswith(prefix) and tail.isdigit():
            commit = repo.lookup_reference(name).peel(pygit2.Commit)
            found.append((int(tail), str(commit.id), commit.message.strip()))
    return found


def count(repo: pygit2.Repository, prefix: str) -> int:
    """How many refs lie under ``prefix``."""
    return sum(1 for name in repo.listall_references() if name.startswith(prefix))


def write_commit(
    repo: pygit2.Repository, tree: pygit2.Oid, message: str, name: str, email: str
) -> pygit2.Oid:
    """The checkpoint commit of ``tree``: no parent, ``message`` as ``git commit-tree -m`` writes it."""
    who = pygit2.Signature(name, email)
    return repo.create_commit(None, who, who, message + "\n", tree, [])


def create_ref(repo: pygit2.Repository, name: str, commit: pygit2.Oid) -> bool:
    """Create ref ``name`` for ``commit`` only if it is new (under its lock); False if it exists."""
    try:
        repo.references.create(name, commit)
    except pygit2.AlreadyExistsError:
        return False
    return True
