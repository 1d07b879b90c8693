"""Task worktrees through the git CLI: ``git worktree add``, ``commit-tree``, ``apply``.

The git CLI rather than pygit2: libgit2's worktree support cannot create a branch and a
worktree in one step nor apply a patch three-way, and each of these runs once per task, so a
process per call costs little beside an agent's run. The task's one commit is written with
``git commit-tree`` (which runs no hook at all) and the branch moved with ``update-ref``, so a
user's hooks never run for orch's own commit and an agent's commits, if any, are squashed
into it. A worktree's record (its base, ports, copied files) is a JSON file beside it,
written before the worktree exists and removed after it is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import cattrs

from orchcore.errors import WorktreeError
from orchcore.ports.worktrees import Applied, PortRange, Worktree, WorktreeSetup
from orchcore.tasks import file_stem

_TIMEOUT_S = 120.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_converter = cattrs.Converter(forbid_extra_keys=True)
# `git worktree add/remove/prune` read every worktree's admin files: two at once in one repository
# fail ("failed to read .git/worktrees/x/commondir"), so the engine's slots take turns here
_ADMIN = threading.Lock()


def worktrees_dir(state_dir: str, workspace: str) -> str:
    """Where the worktrees of ``workspace`` live: one folder per project, keyed by its path."""
    resolved = str(Path(workspace).resolve())
    key = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    name = _UNSAFE.sub("_", Path(resolved).name) or "root"
    return str(Path(state_dir) / "worktrees" / f"{name}-{key}")


def _part(value: str) -> str:
    """``value`` as one safe ref and path component (distinct values stay distinct)."""
    safe = _UNSAFE.sub("_", value)
    if safe == value and value:
        return value
    return f"{safe[:40] or 'x'}+{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def branch_name(session_id: str, task_id: str) -> str:
    """The branch a task's worktree is on: ``orch/<session>/<task>``."""
    return f"orch/{_part(session_id)}/{_part(file_stem(task_id))}"


@attrs.define
class GitWorktrees:
    """Satisfies ``orchcore.ports.Worktrees`` for the repository at ``workdir``; worktrees go
    under ``root`` (see ``worktrees_dir``). ``environment`` is all a setup command gets, with
    ``ORCH_PORT_BASE``/``ORCH_PORT_COUNT`` added; ``author`` signs orch's commits."""

    workdir: str
    root: str
    environment: Mapping[str, str] = attrs.field(factory=lambda: {"PATH": "/usr/local/bin:/usr/bin:/bin"})
    author: tuple[str, str] = ("orch", "orch@localhost")
    git: str = "git"
    _trees: dict[str, str] = attrs.field(factory=dict, init=False, repr=False)  # commit -> its tree
    _common_dir: str | None = attrs.field(default=None, init=False, repr=False)

    def _git(self, *args: str, cwd: str | None = None, stdin: bytes | None = None, check: bool = True) -> str:
        name, email = self.author
        env = {
            "PATH": self.environment.get("PATH", "/usr/bin:/bin"),
            "HOME": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "LC_ALL": "C",
        }
        try:
            done = subprocess.run(  # noqa: S603 - git with an argument list, no shell
                [self.git, *args],
                cwd=cwd or self.workdir,
                env=env,
                input=stdin,
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WorktreeError(f"git {args[0]} could not run: {exc}") from exc
        if check and done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip()[-500:]
            raise WorktreeError(f"git {' '.join(args[:2])} failed (exit {done.returncode}): {why}")
        return done.stdout.decode(errors="replace")

    def _record_path(self, session_id: str, task_id: str) -> Path:
        return Path(self.root) / _part(session_id) / f"{_part(file_stem(task_id))}.json"

    def base_commit(self) -> str:
        """The commit the user's HEAD names now."""
        return self._git("rev-parse", "--verify", "HEAD^{commit}").strip()

    def create(
        self, session_id: str, task_id: str, base: str, ports: PortRange, setup: WorktreeSetup
    ) -> Worktree:
        """Check out ``base`` on ``orch/<session>/<task>``, copy the listed files, run the setup."""
        record = self._record_path(session_id, task_id)
        branch = branch_name(session_id, task_id)
        if record.exists() or self._has_branch(branch):
            raise WorktreeError(
                f"task {task_id} already has a worktree or a branch {branch}; remove it first"
            )
        missing = [p for p in setup.copy if not self._inside(p) or not (Path(self.workdir) / p).is_file()]
        if missing:
            raise WorktreeError(f"worktrees.copy: not a file inside {self.workdir}: {', '.join(missing)}")
        path = str(record.with_suffix(""))
        commit = self._git("rev-parse", "--verify", f"{base}^{{commit}}").strip()
        tree = Worktree(session_id, task_id, path, branch, commit, ports, tuple(setup.copy))
        record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        record.write_text(json.dumps(_converter.unstructure(tree)))  # before the worktree: remove finds it
        try:
            with _ADMIN:
                self._git("worktree", "add", "-q", "-b", branch, path, commit)
            for rel in setup.copy:
                target = Path(path) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(self.workdir) / rel, target)
            for command in setup.commands:
                self._run_setup(tree, command, setup.timeout_s)
        except (WorktreeError, OSError) as exc:
            self.remove(tree)
            if isinstance(exc, WorktreeError):
                raise
            raise WorktreeError(f"worktree for task {task_id}: {exc}") from exc
        return tree

    def _has_branch(self, branch: str) -> bool:
        """Whether the branch exists (rev-parse: unlike `git branch`, it reads no other worktree)."""
        found = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        return bool(found.strip())

    def _inside(self, rel: str) -> bool:
        root = Path(self.workdir).resolve()
        return not Path(rel).is_absolute() and (root / rel).resolve().is_relative_to(root)

    def _run_setup(self, tree: Worktree, command: str, timeout_s: float) -> None:
        env = {
            **self.environment,
            "ORCH_PORT_BASE": str(tree.ports.base),
            "ORCH_PORT_COUNT": str(tree.ports.size),
        }
        proc = subprocess.Popen(  # noqa: S603 - the user's own setup command, from their config
            ["/bin/sh", "-c", command],
            cwd=tree.path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a timeout stops the command's whole process group
        )
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise WorktreeError(
                f"worktrees.setup: {command!r} did not finish within {timeout_s:g} s (task {tree.task_id})"
            ) from None
        if proc.returncode != 0:
            tail = output.decode(errors="replace").strip()[-500:]
            raise WorktreeError(
                f"worktrees.setup: {command!r} exited {proc.returncode} (task {tree.task_id}): {tail}"
            )

    def combine(self, commits: Sequence[str], message: str) -> str:
        """``git merge-tree --write-tree`` (no working tree, no index, no ref), then ``commit-tree``
        with every commit as a parent, folded left to right."""
        if not commits:
            raise WorktreeError("combine: no commit to start from")
        merged = self._git("rev-parse", "--verify", f"{commits[0]}^{{commit}}").strip()
        for other in commits[1:]:
            other_id = self._git("rev-parse", "--verify", f"{other}^{{commit}}").strip()
            if self._is_ancestor(other_id, merged):  # already in it
                continue
            if self._is_ancestor(merged, other_id):
                merged = other_id
                continue
            out = self._git(
                "merge-tree", "--write-tree", "--name-only", "--no-messages", merged, other_id, check=False
            )
            lines = out.splitlines()
            if not lines or not lines[0].strip():
                raise WorktreeError(
                    f"combine: git merge-tree printed nothing for {merged[:7]} and {other_id[:7]}"
                )
            conflicted = [line for line in lines[1:] if line.strip()]
            if conflicted:
                raise WorktreeError(
                    f"the changes of {merged[:7]} and {other_id[:7]} conflict in: {', '.join(sorted(set(conflicted)))}"
                )
            merged = self._git(
                "commit-tree", lines[0].strip(), "-p", merged, "-p", other_id, "-m", message
            ).strip()
        return merged

    def _is_ancestor(self, older: str, newer: str) -> bool:
        try:
            self._git("merge-base", "--is-ancestor", older, newer)
        except WorktreeError:
            return False
        return True

    def worktrees(self, session_id: str) -> Sequence[Worktree]:
        """The worktrees of ``session_id`` whose record exists, by task id."""
        folder = Path(self.root) / _part(session_id)
        found = [self._load(p) for p in folder.glob("*.json")] if folder.is_dir() else []
        return sorted(found, key=lambda t: t.task_id)

    def find(self, session_id: str, task_id: str) -> Worktree | None:
        """The worktree of this task, if its record exists."""
        record = self._record_path(session_id, task_id)
        return self._load(record) if record.exists() else None

    @staticmethod
    def _load(record: Path) -> Worktree:
        try:
            return _converter.structure(json.loads(record.read_text()), Worktree)
        except (OSError, ValueError, cattrs.errors.BaseValidationError) as exc:
            raise WorktreeError(f"{record}: unreadable worktree record ({exc}); delete it") from exc

    def _tip(self, tree: Worktree) -> str:
        return self._git("rev-parse", "--verify", f"refs/heads/{tree.branch}^{{commit}}").strip()

    def commit(self, worktree: Worktree, message: str) -> str | None:
        """Stage the task's changes (not the copied files) and make them the branch's one commit.

        Four git processes in the usual case (add, write-tree, commit-tree, update-ref): the base's
        tree is asked once per base, and the branch's tip is read from its loose ref file when it
        has one (else asked)."""
        path = worktree.path
        self._git("add", "-A", cwd=path)
        if worktree.copied:  # staged as the branch has them: the user's local files stay out
            self._git("reset", "-q", "--", *worktree.copied, cwd=path)
        tree = self._git("write-tree", cwd=path).strip()
        head = f"refs/heads/{worktree.branch}"
        base_tree = self._tree_of(worktree.base)
        tip = self._loose_ref(head) or self._git("rev-parse", f"{head}^{{commit}}").strip()
        if tree == base_tree:
            if tip != worktree.base:
                self._git("update-ref", head, worktree.base, tip)
            return None
        if tip != worktree.base and self._git("rev-parse", f"{tip}^{{tree}}").strip() == tree:
            return tip  # already recorded (a resume after the commit)
        new = self._git("commit-tree", tree, "-p", worktree.base, "-m", message, cwd=path).strip()
        self._git("update-ref", head, new, tip)
        return new

    def _tree_of(self, commit: str) -> str:
        """The tree of ``commit`` (a full id: what it names never changes), asked of git once."""
        found = self._trees.get(commit)
        if found is None:
            found = self._trees[commit] = self._git("rev-parse", f"{commit}^{{tree}}").strip()
        return found

    def _loose_ref(self, ref: str) -> str | None:
        """The object id in ``ref``'s loose file in the repository's common git dir; None when it
        has none (packed, symbolic, or anything unexpected): then git is asked."""
        if self._common_dir is None:
            found = self._git("rev-parse", "--git-common-dir").strip()  # relative to workdir, or absolute
            self._common_dir = str(Path(self.workdir, found).resolve())
        try:
            text = (Path(self._common_dir) / ref).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text if _OBJECT_ID.fullmatch(text) else None

    def diff(self, worktree: Worktree, *, stat: bool = False) -> str:
        """The branch's commit against the base."""
        form = "--stat" if stat else "--binary"
        return self._git("diff", "--no-renames", form, worktree.base, self._tip(worktree))

    def files(self, worktree: Worktree) -> Sequence[str]:
        """The paths the branch's commit touches."""
        names = self._git("diff", "--no-renames", "--name-only", "-z", worktree.base, self._tip(worktree))
        return sorted(names.split("\0")[:-1])

    def apply(self, worktree: Worktree) -> Applied:
        """Apply the task's diff to the user's working tree: as is when its context matches, else
        three-way when the files it touches are as HEAD has them; on conflict, nothing changes."""
        files = tuple(self.files(worktree))
        if not files:
            return Applied()
        patch = self._git("diff", "--no-renames", "--binary", worktree.base, self._tip(worktree)).encode()
        if self._applies(patch):
            self._git("apply", "--whitespace=nowarn", stdin=patch)
            return Applied(files=files)
        clean = not self._git("status", "--porcelain", "-z", "--untracked-files=all", "--", *files).strip(
            "\0"
        )
        if clean:
            merged = self._applies(patch, three_way=True)
            unmerged = self._git("diff", "--name-only", "-z", "--diff-filter=U").split("\0")[:-1]
            self._restore_index(files)
            if merged and not unmerged and self._changed(files):
                return Applied(files=files)
            self._restore_tree(files)
            return Applied(conflicts=tuple(unmerged) or self._conflicting(patch, files))
        return Applied(conflicts=self._conflicting(patch, files))

    def _applies(self, patch: bytes, include: str | None = None, *, three_way: bool = False) -> bool:
        """Whether ``patch`` (only ``include``'s part) applies; ``three_way`` applies it for real."""
        args = ["apply", "--3way" if three_way else "--check", "--whitespace=nowarn"]
        args += [f"--include={include}"] if include else []
        try:
            self._git(*args, stdin=patch)
        except WorktreeError:
            return False
        return True

    def _conflicting(self, patch: bytes, files: Sequence[str]) -> tuple[str, ...]:
        """The files whose part of ``patch`` does not apply on its own (all, if each does)."""
        bad = tuple(f for f in files if not self._applies(patch, include=f))
        return bad or tuple(files)

    def _changed(self, files: Sequence[str]) -> bool:
        return bool(
            self._git("status", "--porcelain", "-z", "--untracked-files=all", "--", *files).strip("\0")
        )

    def _restore_index(self, files: Sequence[str]) -> None:
        """Unstage what ``apply --3way`` staged: the user's index stays theirs."""
        self._git("reset", "-q", "--", *files, check=False)

    def _restore_tree(self, files: Sequence[str]) -> None:
        """Put ``files`` (each clean against HEAD before) back as HEAD has them."""
        tracked = self._git("ls-tree", "-z", "--name-only", "HEAD", "--", *files).split("\0")[:-1]
        if tracked:
            self._git("checkout", "-q", "HEAD", "--", *tracked)
        for rel in set(files) - set(tracked):
            (Path(self.workdir) / rel).unlink(missing_ok=True)

    def remove(self, worktree: Worktree) -> None:
        """Delete the worktree, its branch and its record; prune git's worktree list."""
        with _ADMIN:
            if Path(worktree.path).exists():
                self._git("worktree", "remove", "--force", "--force", worktree.path, check=False)
                shutil.rmtree(worktree.path, ignore_errors=True)
            self._git("worktree", "prune")
            if self._has_branch(worktree.branch):
                self._git("branch", "-D", "-q", worktree.branch)
        self._record_path(worktree.session_id, worktree.task_id).unlink(missing_ok=True)
