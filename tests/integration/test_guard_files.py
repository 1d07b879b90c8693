"""The guard files are written once per session, and whatever changed them is undone at the next attempt."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.guards import GitWorkspace
from orchcore.safety import DEFAULT_POLICY, SafetyPolicy

pytestmark = pytest.mark.integration

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
IDENTITY = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": BASE_PATH, "HOME": str(tmp_path), **IDENTITY}
    (work / "app.py").write_text("one\n")
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "app.py"],
        ["git", "commit", "-q", "-m", "one"],
    ):
        subprocess.run(argv, cwd=work, env=env, check=True)
    (work / "app.py").write_text("uncommitted work\n")
    return work


def guard_files(guard_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every guard file (the refusals a guard records aside) with its content and mode."""
    return {
        str(p.relative_to(guard_dir)): (p.read_bytes(), p.stat().st_mode & 0o7777)
        for p in sorted(guard_dir.rglob("*"))
        if p.is_file() and "refusals" not in p.parts
    }


def commit_in(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {"PATH": BASE_PATH, "HOME": str(repo.parent), **IDENTITY, **env}
    return subprocess.run(
        ["git", "commit", "-am", "sneaky"], cwd=repo, env=full, capture_output=True, text=True, check=False
    )


def delete_git_shim(guard: Path) -> None:
    (guard / "bin" / "git").unlink()


def replace_git_shim_in_place(guard: Path) -> None:
    shim = guard / "bin" / "git"
    size = len(shim.read_bytes())
    bypass = b'#!/bin/sh\nexec /usr/bin/git "$@"\n'
    shim.write_bytes(bypass + b"#" * (size - len(bypass) - 1) + b"\n")  # same size, same inode


def disarm_a_hook(guard: Path) -> None:
    (guard / "git-hooks" / "pre-commit").chmod(0o644)


def empty_the_hooks(guard: Path) -> None:
    for hook in (guard / "git-hooks").iterdir():
        hook.write_text("#!/bin/sh\nexit 0\n")


def loosen_the_policy(guard: Path) -> None:
    (guard / "policy.json").write_text('{"enabled": false}\n')


def drop_the_refusals_folder(guard: Path) -> None:
    (guard / "refusals").rmdir()


TAMPERING = [
    delete_git_shim,
    replace_git_shim_in_place,
    disarm_a_hook,
    empty_the_hooks,
    loosen_the_policy,
    drop_the_refusals_folder,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__)
def test_guards_changed_between_attempts_are_restored_before_the_next(
    tamper: Callable[[Path], None], repo: Path, tmp_path: Path
) -> None:
    guard = tmp_path / "guard"
    workspace = GitWorkspace(str(repo), str(guard))
    first = workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    written = guard_files(guard)

    tamper(guard)  # what an agent without the sandbox could do to the next attempt's guards
    again = workspace.guard_env(DEFAULT_POLICY, BASE_PATH)

    assert again == first
    assert guard_files(guard) == written
    assert (guard / "refusals").is_dir()
    refused = commit_in(repo, dict(again))
    assert refused.returncode != 0
    assert "orchcore: " in refused.stderr
    assert "forbidden" in refused.stderr


def test_an_unchanged_session_rewrites_nothing(repo: Path, tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    workspace = GitWorkspace(str(repo), str(guard))
    workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    stamps = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in guard.rglob("*") if p.is_file()}

    for _ in range(3):
        workspace.guard_env(DEFAULT_POLICY, BASE_PATH)

    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in stamps} == stamps


def test_a_changed_policy_or_path_is_written_at_once(repo: Path, tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    workspace = GitWorkspace(str(repo), str(guard))
    workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    only_terraform = SafetyPolicy(rules=(), forbidden_prefixes=("terraform apply",))

    env = workspace.guard_env(only_terraform, "/usr/bin:/bin")

    assert sorted(p.name for p in (guard / "bin").iterdir()) == [".orchcore-shims", "terraform"]
    assert env["PATH"] == f"{guard}/bin{os.pathsep}/usr/bin:/bin"
    assert commit_in(repo, dict(env)).returncode == 0  # git is no longer guarded under this policy
