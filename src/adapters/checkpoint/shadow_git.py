"""Checkpoints in a shadow git directory: its own object store and index under orch's state dir.

Every git call here runs as ``git --git-dir=<shadow> --work-tree=<workspace>``
with no system or user config, so nothing lands in the user's repository: no
ref, stash, object or config entry. The user's ``.gitignore`` files (and
``.git/info/exclude``) apply, so untracked files are kept and ignored ones are
not. One persistent index makes ``git add -A`` re-hash only files whose stat
changed; trees and commits are written with plumbing (write-tree, commit-tree).
A checkpoint is a commit whose message is JSON (session, task, attempt, moment,
the user's refs and HEAD), named by ``refs/checkpoints/<session>/<seq>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from orchcore.errors import CheckpointError
from orchcore.ports.checkpoints import Checkpoint, FileChange, Moment
from orchcore.safety.refs import read_refs

logger = logging.getLogger(__name__)
_TIMEOUT_S = 120.0
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
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
    _ready: bool = attrs.field(default=False, init=False)
    _excludes: list[str] | None = attrs.field(default=None, init=False)  # the user's info/exclude

    # --- the port ---------------------------------------------------------------------------

    def take(self, session_id: str, task_id: str, attempt: int, moment: Moment) -> Checkpoint:
        tree = self._snapshot_tree()
        refs = self._user_refs()
        message = json.dumps(
            {"session": session_id, "task": task_id, "attempt": attempt, "moment": str(moment), "refs": refs},
            sort_keys=True,
        )
        commit = self._shadow("commit-tree", tree, "-m", message).strip()
        prefix = f"refs/checkpoints/{_ref_part(session_id)}/"
        seq = len(self._shadow("for-each-ref", "--format=%(refname)", prefix).split()) + 1
        error = ""
        for _ in range(20):  # the ref is created only if new: another orch may take a number meanwhile
            done = self._exec(self._shadow_argv("update-ref", f"{prefix}{seq:06d}", commit, ""))
            if done.returncode == 0:
                return Checkpoint(commit, seq, session_id, task_id, attempt, moment, refs)
            error, seq = done.stderr.strip(), seq + 1
        raise CheckpointError(f"checkpoint: cannot record a checkpoint in {self.shadow}: {error}")

    def checkpoints(self, session_id: str) -> list[Checkpoint]:
        found = []
        for seq, commit, body in self._listing(f"refs/checkpoints/{_ref_part(session_id)}/"):
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
        after = f"{new.id}^{{tree}}" if new is not None else self._scratch_tree()
        out = self._shadow("diff-tree", "-r", "-z", "--no-renames", f"{old.id}^{{tree}}", after)
        fields = out.split("\0")
        found = []
        for i in range(0, len(fields) - 1, 2):
            meta, path = fields[i].split(), fields[i + 1]
            if len(meta) < 5:
                continue
            old_id, new_id, status = meta[2], meta[3], meta[4]
            found.append(
                FileChange(path, None if status == "A" else old_id, None if status == "D" else new_id)
            )
        return found

    def diff(self, old: Checkpoint, new: Checkpoint | None, *, stat: bool = False) -> str:
        after = f"{new.id}^{{tree}}" if new is not None else self._scratch_tree()
        style = ["--stat"] if stat else ["-p"]
        return self._shadow("diff-tree", "-r", "--no-renames", *style, f"{old.id}^{{tree}}", after)

    def committed(self, checkpoint: Checkpoint, paths: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = dict.fromkeys(paths)
        head = self._resolve_head(checkpoint.refs)
        if head is None or not paths:
            return found
        # paths relative to the workspace, also when it is a folder inside the repository
        out = self._user("ls-tree", "-r", "-z", head, "--", *paths)
        for entry in (out or "").split("\0"):
            meta, _, path = entry.partition("\t")
            if path in found and len(meta.split()) == 3:
                found[path] = meta.split()[2]
        return found

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

    def _snapshot_tree(self, index: str | None = None) -> str:
        """Stage the whole workspace into the shadow index (or ``index``) and write its tree.

        Files that cannot be read are left as they were (``--ignore-errors``); any other
        failure (another git holding the index lock) raises rather than give a stale tree.
        """
        self._ensure()
        extra = {"GIT_INDEX_FILE": index} if index is not None else {}
        done = self._exec(self._shadow_argv("add", "-A", "--ignore-errors", "--", "."), extra=extra)
        if done.returncode not in (0, 1) or "fatal:" in done.stderr:
            raise CheckpointError(f"checkpoint: git add failed in {self.workdir}: {done.stderr.strip()}")
        if done.returncode:  # some paths could not be added (unreadable, an empty nested repository)
            logger.warning("checkpoint: some files were left out: %s", done.stderr.strip()[:500])
        tree = self._exec(self._shadow_argv("write-tree"), extra=extra)
        if tree.returncode != 0:
            raise CheckpointError(f"checkpoint: git write-tree failed: {tree.stderr.strip()}")
        return tree.stdout.strip() or _EMPTY_TREE

    def _scratch_tree(self) -> str:
        """The workspace's tree now, staged in a copy of the index: readers (``orch diff``) never
        take the index lock a running engine's checkpoint needs."""
        self._ensure()
        index = Path(self.shadow) / "index"
        scratch = Path(self.shadow) / f"index.scratch-{os.getpid()}-{id(self)}"
        try:
            if index.is_file():
                shutil.copyfile(index, scratch)
            return self._snapshot_tree(str(scratch))
        finally:
            scratch.unlink(missing_ok=True)

    def _ensure(self) -> None:
        if self._ready:
            return
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
        self._ready = True

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

    def _listing(self, prefix: str) -> list[tuple[int, str, str]]:
        self._ensure()
        out = self._shadow("for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00%00", prefix)
        found = []
        for record in out.split("\0\0"):
            parts = record.strip("\n").split("\0")
            if len(parts) >= 3 and parts[0].startswith(prefix):
                tail = parts[0].removeprefix(prefix)
                if tail.isdigit():
                    found.append((int(tail), parts[1], parts[2].strip()))
        return found

    def _shadow(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        return self._run(
            self._shadow_argv(*args), env=self._env(), cwd=self.workdir, check=check, stdin=stdin
        )

    def _shadow_argv(self, *args: str) -> list[str]:
        if self._excludes is None:
            git_dir = self._user_git_dir()
            excludes = Path(git_dir) / "info" / "exclude" if git_dir else None
            self._excludes = (
                ["-c", f"core.excludesFile={excludes}"] if excludes and excludes.is_file() else []
            )
        return [self.git, f"--git-dir={self.shadow}", f"--work-tree={self.workdir}", *self._excludes, *args]

    # --- the user's repository (read, and refs written back only by restore_refs) -------------

    def _user(self, *args: str) -> str | None:
        argv = [self.git, "--no-optional-locks", "-c", "core.hooksPath=/dev/null", "-C", self.workdir, *args]
        done = self._exec(argv, env=self._env(), cwd=self.workdir)
        return done.stdout if done.returncode == 0 else None

    def _user_checked(self, *args: str, stdin: str | None = None) -> str:
        argv = [self.git, "-c", "core.hooksPath=/dev/null", "-C", self.workdir, *args]
        return self._run(argv, env=self._env(), cwd=self.workdir, stdin=stdin)

    def _user_git_dir(self) -> str:
        out = self._user("rev-parse", "--absolute-git-dir")
        return (out or "").strip()

    def _user_refs(self) -> dict[str, str]:
        return read_refs(self._user)

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
            if self._user("cat-file", "-e", f"{content}^{{commit}}") is None:
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
