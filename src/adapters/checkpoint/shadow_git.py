"""Checkpoints in a shadow git directory: its own object store and index under orch's state dir.

Taking a checkpoint and comparing two runs in-process through libgit2 (``libgit``):
the workspace is staged into one persistent shadow index whose stat cache re-hashes
only files whose stat changed, so an unchanged workspace costs a stat walk and no
process. The rarer commands (``orch diff``'s text, restoring files and refs) run
``git --git-dir=<shadow> --work-tree=<workspace>``. Neither reads system or user
config, and nothing lands in the user's repository: no ref, stash, object or
config entry. The user's ``.gitignore`` files (and ``.git/info/exclude``) apply,
so untracked files are kept and ignored ones are not. A checkpoint is a commit
whose message is JSON (session, task, attempt, moment, the user's refs and HEAD),
named by ``refs/checkpoints/<session>/<seq>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import pygit2

from adapters.checkpoint import libgit
from orchcore.errors import CheckpointError
from orchcore.ports.checkpoints import Checkpoint, FileChange, Moment

logger = logging.getLogger(__name__)
_TIMEOUT_S = 120.0
_SAVE_PATHS, _SAVE_BYTES = 64, 8 << 20  # the index's stat cache is saved past this much unsaved
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_IDENTITY = {
    "GIT_AUTHOR_NAME": "orchcore",
    "GIT_AUTHOR_EMAIL": "checkpoints@orchcore.invalid",
    "GIT_COMMITTER_NAME": "orchcore",
    "GIT_COMMITTER_EMAIL": "checkpoints@orchcore.invalid",
}


def shadow_dir(state_dir: str, workspace: str) -> str:
    """Where the shadow repository of ``workspace`` lives: one per project, keyed by its path."""
    resolved = str(Path(workspace).resolve())
    key = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    name = _UNSAFE.sub("_", Path(resolved).name) or "root"
    return str(Path(state_dir) / "checkpoints" / f"{name}-{key}.git")


def _ref_part(value: str) -> str:
    """A session id as one safe ref component."""
    return _UNSAFE.sub("_", value) or "_"


SECRET_FILES = (".env", ".env.*", "!.env.example", "!.env.sample", "!.env.template")
"""Left out of every checkpoint, at any depth: dotenv files hold secrets (orch's among them);
the committed templates of them do not, and are kept."""


@attrs.define
class ShadowGitCheckpoints:
    """Satisfies ``orchcore.ports.Checkpoints`` for the workspace at ``workdir``.

    ``shadow`` is the shadow git directory (see ``shadow_dir``); it is created on first use.
    ``path`` is the PATH git runs with (nothing else of orch's environment reaches it).
    """

    workdir: str
    shadow: str
    git: str = "git"
    path: str = "/usr/local/bin:/usr/bin:/bin"
    _repo: pygit2.Repository | None = attrs.field(default=None, init=False)  # the shadow, opened once
    _user_repo: pygit2.Repository | None = attrs.field(default=None, init=False)
    _next_seq: dict[str, int] = attrs.field(factory=dict, init=False)  # per ref prefix: no listing per take
    _unsaved: tuple[int, int] = attrs.field(default=(0, 0), init=False)  # paths, bytes staged since saved

    # --- the port ---------------------------------------------------------------------------

    def take(self, session_id: str, task_id: str, attempt: int, moment: Moment) -> Checkpoint:
        repo = self._shadow_repo()
        with self._translated("cannot take a checkpoint"):
            tree = self._stage(repo, saving=True)
        refs = self._user_refs()
        message = json.dumps(
            {"session": session_id, "task": task_id, "attempt": attempt, "moment": str(moment), "refs": refs},
            sort_keys=True,
        )
        prefix = f"refs/checkpoints/{_ref_part(session_id)}/"
        with self._translated("cannot record a checkpoint"):
            commit = libgit.write_commit(
                repo, tree, message, _IDENTITY["GIT_COMMITTER_NAME"], _IDENTITY["GIT_COMMITTER_EMAIL"]
            )
            seq = self._next_seq.get(prefix) or libgit.count(repo, prefix) + 1
            for _ in range(20):  # the ref is created only if new: another orch may take a number meanwhile
                if libgit.create_ref(repo, f"{prefix}{seq:06d}", commit):
                    self._next_seq[prefix] = seq + 1
                    return Checkpoint(str(commit), seq, session_id, task_id, attempt, moment, refs)
                seq = max(seq + 1, libgit.count(repo, prefix) + 1)
        raise CheckpointError(f"checkpoint: cannot record a checkpoint in {self.shadow}: no free number")

    def checkpoints(self, session_id: str) -> list[Checkpoint]:
        found = []
        repo = self._shadow_repo()
        with self._translated("cannot list the checkpoints"):
            listed = libgit.listing(repo, f"refs/checkpoints/{_ref_part(session_id)}/")
        for seq, commit, body in listed:
            data = json.loads(body)
            if data.get("session") != session_id:
                continue
            found.append(
                Checkpoint(
                    commit,
                    seq,
                    str(data["session"]),
                    str(data["task"]),
                    int(data["attempt"]),
                    Moment(data["moment"]),
                    {str(k): str(v) for k, v in data.get("refs", {}).items()},
                )
            )
        return sorted(found, key=lambda c: c.seq)

    def changes(self, old: Checkpoint, new: Checkpoint | None) -> list[FileChange]:
        repo = self._shadow_repo()
        with self._translated("cannot compare checkpoints"):
            after = libgit.commit_tree(repo, new.id) if new is not None else self._scratch_tree()
            found = libgit.tree_changes(repo, libgit.commit_tree(repo, old.id), after)
        return [FileChange(path, before, now) for path, before, now in found]

    def diff(self, old: Checkpoint, new: Checkpoint | None, *, stat: bool = False) -> str:
        after = f"{new.id}^{{tree}}" if new is not None else str(self._scratch_tree())
        style = ["--stat"] if stat else ["-p"]
        return self._shadow("diff-tree", "-r", "--no-renames", *style, f"{old.id}^{{tree}}", after)

    def committed(self, checkpoint: Checkpoint, paths: Sequence[str]) -> dict[str, str | None]:
        # paths relative to the workspace, also when it is a folder inside the repository
        head = self._resolve_head(checkpoint.refs)
        return libgit.committed(self._user(), self.workdir, head, paths)

    def restore_files(self, source: Checkpoint, paths: Sequence[str]) -> None:
        if not paths:
            return
        present = set(self._shadow("ls-tree", "-r", "-z", "--name-only", source.id, "--", *paths).split("\0"))
        back = [p for p in paths if p in present]
        if back:
            self._shadow("checkout", source.id, "--", *back)
        root = Path(self.workdir)
        for path in (p for p in paths if p not in present):
            target = root / path
            if target.is_file() or target.is_symlink():
                target.unlink()
            _remove_empty_parents(target.parent, root)

    def refs(self) -> dict[str, str]:
        return self._user_refs()

    def restore_refs(self, source: Checkpoint, names: Sequence[str] | None = None) -> list[str]:
        now = self._user_refs()
        chosen = set(now) | set(source.refs) if names is None else set(names)
        wanted = {name: value for name, value in source.refs.items() if name in chosen}
        lines = []
        stdin = []
        for name in sorted(chosen):
            if name == "HEAD" or now.get(name) == wanted.get(name):
                continue
            if name in wanted:
                stdin.append(f"update {name} {wanted[name]}\n")
                lines.append(f"{name} back to {wanted[name][:7]}")
            else:
                stdin.append(f"delete {name}\n")
                lines.append(f"{name} removed")
        broken = self._broken_loose_refs(wanted)
        for name in broken:
            (Path(self._user_git_dir()) / name).unlink(missing_ok=True)
        if stdin:
            self._user_checked("update-ref", "--no-deref", "--stdin", stdin="".join(stdin))
        for name in broken:
            if not any(line.startswith(f"{name} ") for line in lines):
                self._user_checked("update-ref", name, wanted[name])
                lines.append(f"{name} back to {wanted[name][:7]}")
        head = wanted.get("HEAD")
        if head is not None and self._user_refs().get("HEAD") != head:
            if head.startswith("ref: "):
                self._user_checked("symbolic-ref", "HEAD", head.removeprefix("ref: "))
                lines.insert(0, f"HEAD back to {head.removeprefix('ref: ')}")
            else:
                self._user_checked("update-ref", "--no-deref", "HEAD", head)
                lines.insert(0, f"HEAD back to {head[:7]}")
        return lines

    # --- the shadow repository ------------------------------------------------------------------

    def _stage(self, repo: pygit2.Repository, *, saving: bool) -> pygit2.Oid:
        """The workspace's tree now. The index is saved (with ``saving``) once enough is staged
        since it last was: a file staged but unsaved is hashed again by each snapshot (git's
        racy-clean rule), while each save rewrites the whole index."""
        index = libgit.shadow_index(repo)
        staged = libgit.stage(index, self.workdir)
        paths, size = self._unsaved[0] + staged.paths, self._unsaved[1] + staged.size
        first = not (Path(self.shadow) / "index").exists()
        if saving and (first or paths >= _SAVE_PATHS or size >= _SAVE_BYTES) and libgit.save(index):
            paths, size = 0, 0
        self._unsaved = (paths, size)
        return staged.tree

    def _scratch_tree(self) -> pygit2.Oid:
        """The workspace's tree now, staged in memory only: readers (``orch diff``) never take
        the index lock a running engine's checkpoint needs."""
        repo = self._shadow_repo()
        with self._translated("cannot read the workspace"):
            return self._stage(repo, saving=False)

    def _shadow_repo(self) -> pygit2.Repository:
        if self._repo is not None:
            return self._repo
        shadow = Path(self.shadow)
        if not (shadow / "HEAD").is_file():
            shadow.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # copies of your files: yours only
            self._run([self.git, "init", "-q", "--bare", str(shadow)], env=self._env(), cwd=None)
            for key, value in (
                ("core.bare", "false"),
                ("core.autocrlf", "false"),
                ("core.untrackedCache", "true"),
                ("core.fsmonitor", "false"),
                ("gc.auto", "0"),
                ("index.threads", "true"),
            ):
                self._shadow("config", key, value)
        self._write_excludes(shadow)
        libgit.isolate()
        user = self._user()
        excludes = Path(user.path) / "info" / "exclude" if user is not None else None
        with self._translated("cannot open the checkpoint store"):
            self._repo = libgit.open_shadow(
                self.shadow, self.workdir, str(excludes) if excludes and excludes.is_file() else None
            )
        return self._repo

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """libgit2's errors as CheckpointError, naming the workspace and the store."""
        try:
            yield
        except (pygit2.GitError, KeyError, ValueError) as exc:
            msg = f"checkpoint: {what} of {self.workdir} in {self.shadow}: {exc}"
            lock = Path(self.shadow) / "index.lock"
            if lock.exists():
                msg += f" ({lock} exists: if no orch or git is running on this store, remove it)"
            raise CheckpointError(msg) from exc

    def _write_excludes(self, shadow: Path) -> None:
        """Keep orch's own state out of the snapshot when it sits inside the workspace, and every
        dotenv file (secrets: never copied into the store nor shown by `orch diff`)."""
        root = Path(self.workdir).resolve()
        lines = [
            "/" + inside.relative_to(root).as_posix() + "/"
            for inside in (shadow.resolve().parent.parent, shadow.resolve())
            if inside.is_relative_to(root) and inside != root
        ]
        lines += list(SECRET_FILES)
        info = shadow / "info" / "exclude"
        info.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{line}\n" for line in lines)
        if not info.is_file() or info.read_text(encoding="utf-8") != text:
            info.write_text(text, encoding="utf-8")

    def _shadow(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return self._run(
            self._shadow_argv(*args), env=self._env(), cwd=self.workdir, check=check, stdin=stdin
        )

    def _shadow_argv(self, *args: str) -> list[str]:
        return [self.git, f"--git-dir={self.shadow}", f"--work-tree={self.workdir}", *args]

    # --- the user's repository (read, and refs written back only by restore_refs) -------------

    def _user_git(self, *args: str) -> str | None:
        argv = [self.git, "--no-optional-locks", "-c", "core.hooksPath=/dev/null", "-C", self.workdir, *args]
        done = self._exec(argv, env=self._env(), cwd=self.workdir)
        return done.stdout if done.returncode == 0 else None

    def _user_checked(self, *args: str, stdin: str | None = None) -> str:
        argv = [self.git, "-c", "core.hooksPath=/dev/null", "-C", self.workdir, *args]
        return self._run(argv, env=self._env(), cwd=self.workdir, stdin=stdin)

    def _user(self) -> pygit2.Repository | None:
        """The user's repository, opened once found (looked for again while there is none)."""
        if self._user_repo is None:
            self._user_repo = libgit.open_user(self.workdir)
        return self._user_repo

    def _user_git_dir(self) -> str:
        user = self._user()
        return "" if user is None else user.path.rstrip("/")

    def _user_refs(self) -> dict[str, str]:
        return libgit.read_refs(self._user())

    def _broken_loose_refs(self, wanted: Mapping[str, str]) -> list[str]:
        """Loose ref files of ``wanted`` refs whose content no longer names an object (written by hand)."""
        git_dir = self._user_git_dir()
        if not git_dir:
            return []
        broken = []
        for name in wanted:
            path = Path(git_dir) / name
            if name == "HEAD" or not path.is_file():
                continue
            content = path.read_text(encoding="utf-8", errors="replace").strip()
            if content.startswith("ref: "):
                continue
            if self._user_git("cat-file", "-e", f"{content}^{{commit}}") is None:
                broken.append(name)
        return broken

    def _resolve_head(self, refs: Mapping[str, str]) -> str | None:
        head = refs.get("HEAD")
        if head is None:
            return None
        return refs.get(head.removeprefix("ref: ")) if head.startswith("ref: ") else head

    # --- processes ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {
            "PATH": self.path,
            "LANG": "C.UTF-8",
            **_IDENTITY,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "HOME": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LITERAL_PATHSPECS": "1",
            "GIT_OPTIONAL_LOCKS": "0",
        }

    def _run(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        check: bool = True,
        stdin: str | None = None,
    ) -> str:
        done = self._exec(argv, env=env, cwd=cwd, stdin=stdin)
        if check and done.returncode != 0:
            what = " ".join(a for a in argv[1:5] if not a.startswith("-"))
            raise CheckpointError(f"checkpoint: git {what} failed in {self.workdir}: {done.stderr.strip()}")
        return done.stdout

    def _exec(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(  # noqa: S603 - a fixed git command line, no shell
                argv,
                capture_output=True,
                text=True,
                env={**(self._env() if env is None else env), **(extra or {})},
                cwd=self.workdir if cwd is None else cwd,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CheckpointError(f"checkpoint: cannot run {argv[0]} in {self.workdir}: {exc}") from exc


def _remove_empty_parents(directory: Path, root: Path) -> None:
    while directory != root and directory.is_relative_to(root):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
