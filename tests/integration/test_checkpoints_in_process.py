"""Checkpoints taken in-process (libgit2) hold exactly what the git commands they replaced held.

The oracle is the real git: `git add -A` into a second shadow index with the same excludes,
and `orchcore.safety.refs.read_refs` over real `git for-each-ref`. A store written by those
git commands (orch before this change) stays readable: listed, compared and rolled back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from orchcore.checkpoints import check_attempt, plan_rollback, roll_back
from orchcore.ports.checkpoints import Moment
from orchcore.safety.refs import read_refs

pytestmark = pytest.mark.integration

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=check, capture_output=True, text=True)
    return done.stdout


def user_repo(root: Path) -> Path:
    """A repository ignoring *.log (.gitignore) and *.tmp (only .git/info/exclude), one commit."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".git" / "info" / "exclude").write_text("*.tmp\n")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "a.txt").write_text("committed\n")
    git(repo, "add", ".gitignore", "a.txt")
    git(repo, "commit", "-q", "-m", "one")
    return repo


class GitAddOracle:
    """What the process-per-snapshot adapter staged: `git add -A` into its own shadow index."""

    def __init__(self, repo: Path, shadow: Path, excludes_like: Path) -> None:
        self.repo, self.shadow = repo, shadow
        git(repo, "init", "-q", "--bare", str(shadow))
        git(repo, f"--git-dir={shadow}", "config", "core.bare", "false")
        shutil.copyfile(excludes_like, shadow / "info" / "exclude")  # orch's state dir and dotenv files

    def tree(self) -> str:
        argv = [f"--git-dir={self.shadow}", f"--work-tree={self.repo}"]
        argv += ["-c", f"core.excludesFile={self.repo / '.git' / 'info' / 'exclude'}"]
        git(self.repo, *argv, "add", "-A", "--ignore-errors", "--", ".", check=False)
        return git(self.repo, *argv, "write-tree").strip()


def tree_of(shadow: str, commit: str) -> str:
    return git(Path(shadow), f"--git-dir={shadow}", "rev-parse", f"{commit}^{{tree}}").strip()


def clear(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def make_room(repo: Path, path: Path) -> None:
    """Turn whatever stands where ``path``'s folders must be into folders."""
    for parent in reversed(path.relative_to(repo).parents[:-1]):
        folder = repo / parent
        if folder.is_symlink() or folder.is_file():
            folder.unlink()
        folder.mkdir(exist_ok=True)


NAMES = ["a.txt", "d/b.txt", "d/e/c.txt", "x.log", "s.tmp", ".env", "d/.env.local", ".env.example", "link"]
NAMES += ["d/sp ace ü.txt"]
OPS = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(["", "1", "2", "22"])),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just("")),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.just("")),
    st.tuples(st.just("symlink"), st.sampled_from(NAMES), st.sampled_from(["a.txt", "nowhere", "d"])),
    st.tuples(st.just("folder"), st.sampled_from(NAMES), st.just("")),
)


def apply(repo: Path, op: tuple[str, str, str]) -> None:
    kind, name, arg = op
    path = repo / name
    if kind == "chmod":
        if path.is_file() and not path.is_symlink():
            path.chmod(path.stat().st_mode ^ 0o111)
        return
    make_room(repo, path)
    clear(path)
    if kind == "write":
        path.write_text(arg)
    elif kind == "symlink":
        path.symlink_to(arg)
    elif kind == "folder":
        path.mkdir()
        (path / "inner.txt").write_text("inside\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(OPS, max_size=5), min_size=1, max_size=4))
def test_each_checkpoint_holds_exactly_what_git_add_staged(
    tmp_path_factory: pytest.TempPathFactory, steps: list[list[tuple[str, str, str]]]
) -> None:
    """Edits, deletions, exec bits, symlinks, files become folders, ignored and excluded files,
    dotenv files: after each step the checkpoint's tree is the one `git add -A` writes."""
    root = tmp_path_factory.mktemp("same")
    repo = user_repo(root)
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(root / "state"), str(repo)))
    first = checkpoints.take("s", "t", 1, Moment.BEFORE)
    oracle = GitAddOracle(repo, root / "oracle.git", Path(checkpoints.shadow) / "info" / "exclude")
    assert tree_of(checkpoints.shadow, first.id) == oracle.tree()
    for n, ops in enumerate(steps, start=1):
        for op in ops:
            apply(repo, op)
        taken = checkpoints.take("s", "t", n, Moment.AFTER)
        assert tree_of(checkpoints.shadow, taken.id) == oracle.tree(), ops


def test_a_same_size_edit_right_after_a_checkpoint_is_seen_by_the_next(tmp_path: Path) -> None:
    """Within one clock tick size and mtime do not change: the stat cache must not trust them."""
    repo = user_repo(tmp_path)
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    checkpoints = ShadowGitCheckpoints(str(repo), shadow)
    previous = checkpoints.take("s", "t", 0, Moment.BEFORE)
    for n in range(30):
        (repo / "a.txt").write_text(f"{n % 10}\n")
        taken = (checkpoints if n % 3 else ShadowGitCheckpoints(str(repo), shadow)).take(
            "s", "t", n, Moment.AFTER
        )
        assert [c.path for c in checkpoints.changes(previous, taken)] == ["a.txt"], n
        previous = taken


def test_an_unreadable_shadow_index_is_set_aside_and_the_checkpoint_still_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The index is only a cache of file stats: a torn or corrupt one must not stop every attempt."""
    repo = user_repo(tmp_path)
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    ShadowGitCheckpoints(str(repo), shadow).take("s", "t", 1, Moment.BEFORE)
    (Path(shadow) / "index").write_bytes(b"not an index" * 10)
    (repo / "b.txt").write_text("new\n")
    checkpoints = ShadowGitCheckpoints(str(repo), shadow)
    taken = checkpoints.take("s", "t", 1, Moment.AFTER)
    oracle = GitAddOracle(repo, tmp_path / "oracle.git", Path(shadow) / "info" / "exclude")
    assert tree_of(shadow, taken.id) == oracle.tree()
    assert (Path(shadow) / "index.unreadable").read_bytes() == b"not an index" * 10
    assert "could not be read" in caplog.text
    (repo / "b.txt").write_text("newer\n")
    again = checkpoints.take("s", "t", 2, Moment.BEFORE)
    assert [c.path for c in checkpoints.changes(taken, again)] == ["b.txt"]


def test_a_nested_repository_is_kept_as_its_commit_and_an_empty_one_is_left_out(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    inner = repo / "vendor" / "lib"
    inner.mkdir(parents=True)
    git(inner, "init", "-q", "-b", "main")
    (inner / "x.txt").write_text("x\n")
    git(inner, "add", "x.txt")
    git(inner, "commit", "-q", "-m", "x")
    git(repo / "vendor", "init", "-q", "empty")
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(tmp_path / "state"), str(repo)))
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    oracle = GitAddOracle(repo, tmp_path / "oracle.git", Path(checkpoints.shadow) / "info" / "exclude")
    assert tree_of(checkpoints.shadow, before.id) == oracle.tree()
    git(inner, "commit", "-q", "--allow-empty", "-m", "moved")
    after = checkpoints.take("s", "t", 1, Moment.AFTER)
    assert tree_of(checkpoints.shadow, after.id) == oracle.tree()
    assert [c.path for c in checkpoints.changes(before, after)] == ["vendor/lib"]


def test_a_linked_worktree_is_kept_as_git_stages_it_with_its_own_head(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    (linked / "new.txt").write_text("new\n")
    checkpoints = ShadowGitCheckpoints(str(linked), shadow_dir(str(tmp_path / "state"), str(linked)))
    taken = checkpoints.take("s", "t", 1, Moment.BEFORE)
    oracle = GitAddOracle(linked, tmp_path / "oracle.git", Path(checkpoints.shadow) / "info" / "exclude")
    assert tree_of(checkpoints.shadow, taken.id) == oracle.tree()
    assert dict(taken.refs) == refs_by_git(linked)
    assert taken.refs["HEAD"] == "ref: refs/heads/side"


def refs_by_git(repo: Path) -> dict[str, str]:
    def run(*args: str) -> str | None:
        done = subprocess.run(
            ["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=False
        )
        return done.stdout if done.returncode == 0 else None

    return read_refs(run)


def break_ref(repo: Path) -> None:
    (repo / ".git" / "refs" / "heads" / "garbage").write_text("not-a-sha\n")


def missing_object(repo: Path) -> None:
    (repo / ".git" / "refs" / "heads" / "gone").write_text("1" * 40 + "\n")


SHAPES = {
    "branches and tags": lambda r: (
        git(r, "branch", "feature"),
        git(r, "tag", "light"),
        git(r, "tag", "-a", "-m", "annotated", "v1"),
    ),
    "packed refs": lambda r: (
        git(r, "branch", "old"),
        git(r, "tag", "-a", "-m", "a", "v2"),
        git(r, "pack-refs", "--all"),
    ),
    "a symbolic ref": lambda r: git(r, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/heads/main"),
    "a dangling symbolic ref": lambda r: git(
        r, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/heads/none"
    ),
    "detached HEAD": lambda r: git(r, "checkout", "-q", "--detach"),
    "an unborn branch": lambda r: git(r, "checkout", "-q", "--orphan", "fresh"),
    "a stash": lambda r: ((r / "a.txt").write_text("dirty\n"), git(r, "stash", "-q")),
    "a garbage ref file": break_ref,
    "a ref naming a missing object": missing_object,
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_refs_read_in_process_are_the_ones_git_shows(tmp_path: Path, shape: str) -> None:
    """So refs stored by the git commands compare equal: no ref seems moved after upgrading."""
    repo = user_repo(tmp_path)
    SHAPES[shape](repo)
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(tmp_path / "state"), str(repo)))
    assert dict(checkpoints.refs()) == refs_by_git(repo)
    assert dict(checkpoints.take("s", "t", 1, Moment.BEFORE).refs) == refs_by_git(repo)


def test_refs_outside_a_repository_are_empty(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "f.txt").write_text("f\n")
    checkpoints = ShadowGitCheckpoints(str(folder), shadow_dir(str(tmp_path / "state"), str(folder)))
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    assert before.refs == {}
    assert dict(checkpoints.refs()) == {}


def old_store(repo: Path, shadow: Path, session: str, moments: list[tuple[str, str]]) -> None:
    """Checkpoints exactly as the git commands of the previous adapter wrote them."""
    git(repo, "init", "-q", "--bare", str(shadow))
    for key, value in (("core.bare", "false"), ("core.autocrlf", "false"), ("gc.auto", "0")):
        git(repo, f"--git-dir={shadow}", "config", key, value)
    argv = [f"--git-dir={shadow}", f"--work-tree={repo}"]
    for seq, (moment, edit) in enumerate(moments, start=1):
        (repo / "a.txt").write_text(edit)
        git(repo, *argv, "add", "-A", "--", ".")
        tree = git(repo, *argv, "write-tree").strip()
        refs = refs_by_git(repo)
        body = {"session": session, "task": "1", "attempt": 1, "moment": moment, "refs": refs}
        commit = git(repo, *argv, "commit-tree", tree, "-m", json.dumps(body, sort_keys=True)).strip()
        git(repo, *argv, "update-ref", f"refs/checkpoints/{session}/{seq:06d}", commit, "")


def test_a_store_written_by_the_git_commands_is_listed_compared_and_rolled_back(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    Path(shadow).parent.mkdir(parents=True)
    old_store(repo, Path(shadow), "old", [("before", "committed\n"), ("after", "the task's\n")])
    checkpoints = ShadowGitCheckpoints(str(repo), shadow)
    listed = list(checkpoints.checkpoints("old"))
    assert [(c.seq, c.moment) for c in listed] == [(1, Moment.BEFORE), (2, Moment.AFTER)]
    assert [c.path for c in checkpoints.changes(listed[0], listed[1])] == ["a.txt"]
    assert "+the task's" in checkpoints.diff(listed[0], None)
    plan = plan_rollback(checkpoints, "old", "1")
    assert plan.conflicts == ()  # the refs read now equal those the git commands stored
    assert roll_back(checkpoints, plan) == ["a.txt"]
    assert (repo / "a.txt").read_text() == "committed\n"
    assert checkpoints.take("old", "2", 1, Moment.BEFORE).seq == 3


def test_exec_bits_and_symlinks_are_shown_and_put_back(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    (repo / "run.sh").write_text("echo hi\n")
    (repo / "run.sh").chmod(0o644)
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(tmp_path / "state"), str(repo)))
    before = checkpoints.take("s", "t", 1, Moment.BEFORE)
    (repo / "run.sh").chmod(0o755)
    (repo / "a.txt").unlink()
    (repo / "a.txt").symlink_to("run.sh")
    assert sorted(c.path for c in checkpoints.changes(before, None)) == ["a.txt", "run.sh"]
    diff = checkpoints.diff(before, None)
    assert "new mode 100755" in diff
    assert "new file mode 120000" in diff or "new mode 120000" in diff
    checkpoints.restore_files(before, ["a.txt", "run.sh"])
    assert not (repo / "a.txt").is_symlink()
    assert (repo / "a.txt").read_text() == "committed\n"
    assert (repo / "run.sh").stat().st_mode & 0o111 == 0


def test_a_file_ignored_only_by_the_users_global_excludes_is_kept_as_before(tmp_path: Path) -> None:
    """orch reads no global git config, whoever's home it runs in (the git commands did not)."""
    repo = user_repo(tmp_path)
    (repo / ".git" / "info" / "exclude").unlink()  # nothing of the repository's own in the way
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("*.bak\n")
    (home / "global-ignore").write_text("*.orig\n")
    (home / ".gitconfig").write_text(f"[core]\n\texcludesFile = {home / 'global-ignore'}\n")
    (repo / "draft.bak").write_text("kept\n")
    (repo / "merge.orig").write_text("kept\n")
    script = (
        "import sys\n"
        "from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir\n"
        "from orchcore.ports.checkpoints import Moment\n"
        "repo, state = sys.argv[1], sys.argv[2]\n"
        "c = ShadowGitCheckpoints(repo, shadow_dir(state, repo))\n"
        "c.take('s', 't', 1, Moment.BEFORE)\n"
    )
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(repo), str(tmp_path / "state")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    files = git(repo, f"--git-dir={shadow}", "ls-tree", "-r", "--name-only", "refs/checkpoints/s/000001")
    assert "draft.bak" in files.split(), done.stderr
    assert "merge.orig" in files.split(), done.stderr


def test_two_orch_processes_taking_checkpoints_of_one_session_never_share_a_number(tmp_path: Path) -> None:
    repo = user_repo(tmp_path)
    shadow = shadow_dir(str(tmp_path / "state"), str(repo))
    one, two = ShadowGitCheckpoints(str(repo), shadow), ShadowGitCheckpoints(str(repo), shadow)
    taken = [one.take("s", "a", 1, Moment.BEFORE), two.take("s", "b", 1, Moment.BEFORE)]
    taken += [one.take("s", "a", 1, Moment.AFTER), two.take("s", "b", 1, Moment.AFTER)]
    assert [c.seq for c in taken] == [1, 2, 3, 4]
    assert [(c.task_id, c.moment) for c in one.checkpoints("s")] == [
        ("a", Moment.BEFORE),
        ("b", Moment.BEFORE),
        ("a", Moment.AFTER),
        ("b", Moment.AFTER),
    ]


SPAWNED: list[str] = []
_HOOKED: list[bool] = []


def _record_spawns(event: str, args: tuple[Any, ...]) -> None:
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork"):
        SPAWNED.append(f"{event} {args[:2]}")


def test_a_checkpoint_before_and_after_an_attempt_starts_no_process(tmp_path: Path) -> None:
    """The per-attempt work (snapshot before, snapshot after, the discarded-edits check) is in-process."""
    repo = user_repo(tmp_path)
    (repo / "a.txt").write_text("uncommitted\n")
    checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(tmp_path / "state"), str(repo)))
    checkpoints.take("s", "0", 1, Moment.BEFORE)  # the store is created once, with git init
    if not _HOOKED:  # an audit hook cannot be removed: one for the whole test process
        sys.addaudithook(_record_spawns)
        _HOOKED.append(True)
    SPAWNED.clear()
    before = checkpoints.take("s", "1", 1, Moment.BEFORE)
    (repo / "new.txt").write_text("the agent's\n")
    checked = check_attempt(checkpoints, before, guard=True)
    assert checked.violations == ()
    assert SPAWNED == []


def test_many_attempts_in_a_folder_that_is_no_repository_do_not_crash_python_at_exit(tmp_path: Path) -> None:
    # pygit2 1.21's discover_repository returned None without a reference: after ~1,000
    # attempts in a plain folder `orch run` finished its work, then aborted (SIGABRT) at exit
    script = (
        "import sys\nfrom adapters.checkpoint.libgit import open_user\n"
        "for _ in range(3000):\n    assert open_user(sys.argv[1]) is None\n"
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(plain)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
