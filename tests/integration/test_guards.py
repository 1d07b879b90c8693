"""The agent-independent guards with the real git: shims, git hooks, refs, and the Claude hook entry point.

Every command runs in a repository made under tmp_path, with HOME there too, so
neither the developer's repository nor their git config is ever touched.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from adapters.claude_code.permissions import claude_settings, hook_command, policy_json
from adapters.guards import GitWorkspace
from adapters.guards.policy_file import load_policy
from orchcore.safety import DEFAULT_POLICY, ArgCheck, Rule, SafetyPolicy, ref_changes
from orchcore.safety.events import SafetyLayer

pytestmark = pytest.mark.integration

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
GIT = "/usr/bin/git" if Path("/usr/bin/git").exists() else "git"


def run(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        input=stdin,
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with no user or system git config: commits need no identity set up."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": BASE_PATH,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


@pytest.fixture
def repo(tmp_path: Path, home: dict[str, str]) -> Path:
    """Two commits on main, a branch `other`, a bare `origin` with main, and one uncommitted change."""
    remote, work = tmp_path / "origin.git", tmp_path / "work"
    for argv, cwd in [
        ([GIT, "init", "-q", "--bare", str(remote)], tmp_path),
        ([GIT, "init", "-q", "-b", "main", str(work)], tmp_path),
    ]:
        assert run(argv, cwd, home).returncode == 0
    (work / "app.py").write_text("one\n")
    for argv in (
        [GIT, "add", "app.py"],
        [GIT, "commit", "-q", "-m", "one"],
        [GIT, "commit", "-q", "--allow-empty", "-m", "two"],
        [GIT, "branch", "other"],
        [GIT, "remote", "add", "origin", str(remote)],
        [GIT, "push", "-q", "origin", "main"],
    ):
        done = run(argv, work, home)
        assert done.returncode == 0, done.stderr
    (work / "app.py").write_text("uncommitted work\n")
    return work


@pytest.fixture
def workspace(repo: Path, tmp_path: Path) -> GitWorkspace:
    return GitWorkspace(str(repo), str(tmp_path / "guard"), git=GIT)


def guarded(
    workspace: GitWorkspace, home: Mapping[str, str], policy: SafetyPolicy = DEFAULT_POLICY
) -> dict[str, str]:
    return {**home, **workspace.guard_env(policy, BASE_PATH)}


def remote_refs(repo: Path, home: Mapping[str, str]) -> str:
    return run([GIT, "--git-dir", str(repo.parent / "origin.git"), "for-each-ref"], repo, home).stdout


def commit_count(repo: Path, home: Mapping[str, str]) -> str:
    return run([GIT, "rev-list", "--count", "--all"], repo, home).stdout


FORBIDDEN_GIT = [
    ["git", "commit", "-am", "x"],
    ["git", "-C", ".", "commit", "-am", "x"],
    ["git", "commit", "--no-verify", "-am", "x"],
    ["git", "push", "origin", "main"],
    ["git", "push", "--force", "--no-verify", "origin", "HEAD~1:main"],
    ["git", "reset", "--hard"],
    ["git", "reset", "--hard", "HEAD~1"],
    ["git", "checkout", "-b", "x"],
    ["git", "checkout", "other"],
    ["git", "switch", "other"],
    ["git", "stash"],
    ["git", "branch", "-D", "other"],
    ["git", "tag", "v1"],
    ["git", "update-ref", "refs/heads/main", "HEAD~1"],
]


@pytest.mark.parametrize("argv", FORBIDDEN_GIT, ids=" ".join)
def test_a_forbidden_git_command_is_refused_by_the_shim_and_changes_nothing(
    argv: list[str], repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    env = guarded(workspace, home)
    refs, remote, commits = workspace.refs(), remote_refs(repo, home), commit_count(repo, home)

    done = run(argv, repo, env)

    assert done.returncode == 126, done.stderr
    assert done.stderr.startswith("orchcore: forbidden (git-")
    (refused,) = workspace.take_refusals()
    assert (refused.layer, refused.refused, refused.command) == (SafetyLayer.SHIM, True, shlex.join(argv))
    assert refused.reason.startswith("forbidden (git-")
    assert workspace.take_refusals() == []  # each refusal is handed over once
    assert workspace.refs() == refs
    assert remote_refs(repo, home) == remote
    assert commit_count(repo, home) == commits
    assert (repo / "app.py").read_text() == "uncommitted work\n"


@pytest.mark.parametrize(
    "argv",
    [
        [GIT, "commit", "-am", "x"],
        [GIT, "commit", "--no-verify", "-am", "x"],
        [GIT, "push", "origin", "main"],
        [GIT, "push", "--no-verify", "--force", "origin", "HEAD~1:main"],
        [GIT, "checkout", "-b", "x"],
        [GIT, "stash"],
        [GIT, "branch", "x"],
        [GIT, "tag", "v1"],
        [GIT, "update-ref", "refs/heads/main", "HEAD~1"],
    ],
    ids=lambda argv: " ".join(argv[1:]),
)
def test_the_real_git_behind_the_shims_back_is_stopped_by_the_hooks(
    argv: list[str], repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    env = guarded(workspace, home)
    refs, remote, commits = workspace.refs(), remote_refs(repo, home), commit_count(repo, home)

    done = run(argv, repo, env)

    assert done.returncode != 0
    assert "orchcore: " in done.stderr or "orchcore-push-forbidden" in done.stderr
    refusals = workspace.take_refusals()
    assert refusals, "the git hook's refusal was not recorded"
    assert {r.layer for r in refusals} == {SafetyLayer.GIT_HOOK}
    assert all(r.command.startswith("git ") and r.refused for r in refusals)
    assert workspace.refs() == refs
    assert remote_refs(repo, home) == remote
    assert commit_count(repo, home) == commits
    assert (repo / "app.py").read_text() == "uncommitted work\n"


def test_read_only_git_works_through_the_shim(
    repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    env = guarded(workspace, home)
    refs = workspace.refs()

    status = run(["git", "status", "--short"], repo, env)
    diff = run(["git", "diff"], repo, env)
    log = run(["git", "log", "--oneline"], repo, env)
    stash = run(["git", "stash", "list"], repo, env)
    branch = run(["git", "-C", ".", "branch", "--show-current"], repo, env)
    restore = run(["git", "checkout", "--", "app.py"], repo, env)

    assert (status.returncode, status.stdout) == (0, " M app.py\n")
    assert diff.returncode == 0
    assert "+uncommitted work" in diff.stdout
    assert [line.split(" ", 1)[1] for line in log.stdout.splitlines()] == ["two", "one"]
    assert (stash.returncode, stash.stdout) == (0, "")
    assert branch.stdout == "main\n"
    assert restore.returncode == 0
    assert (repo / "app.py").read_text() == "one\n"
    assert workspace.refs() == refs


def test_refs_reads_every_ref_and_head_without_changing_anything(
    repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    head = run([GIT, "rev-parse", "HEAD"], repo, home).stdout.strip()
    index = (repo / ".git" / "index").stat().st_mtime_ns

    refs = workspace.refs()

    assert refs["HEAD"] == "ref: refs/heads/main"
    assert refs["refs/heads/main"] == head
    assert set(refs) == {"HEAD", "refs/heads/main", "refs/heads/other", "refs/remotes/origin/main"}
    assert (repo / ".git" / "index").stat().st_mtime_ns == index
    run([GIT, "checkout", "-q", "--detach"], repo, home)
    assert workspace.refs()["HEAD"] == head
    assert ref_changes(refs, workspace.refs()) == [f"HEAD moved refs/heads/main -> {head[:7]}"]


def test_refs_outside_a_repository_is_empty(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert GitWorkspace(str(plain), str(tmp_path / "guard"), git=GIT).refs() == {}


def test_guard_env_never_touches_the_repository_config_and_is_idempotent(
    repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    config = (repo / ".git" / "config").read_bytes()

    first = workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    files = {p: p.stat().st_mtime_ns for p in Path(workspace.guard_dir).rglob("*") if p.is_file()}
    second = workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    run(["git", "commit", "-am", "x"], repo, {**home, **second})

    assert first == second
    assert first["PATH"] == f"{workspace.guard_dir}/bin:{BASE_PATH}"
    assert first["GIT_CONFIG_KEY_0"] == "core.hooksPath"
    assert first["GIT_CONFIG_COUNT"] == "2"
    assert {p: p.stat().st_mtime_ns for p in files} == files
    assert (repo / ".git" / "config").read_bytes() == config
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "hooksPath" not in run([GIT, "config", "--list"], repo, home).stdout


def test_a_disabled_policy_adds_nothing(workspace: GitWorkspace) -> None:
    assert workspace.guard_env(SafetyPolicy(enabled=False), BASE_PATH) == {}


def fake_program(directory: Path, name: str, marker: Path) -> None:
    """A stand-in for the real ``name``: it records its arguments in ``marker`` and succeeds."""
    directory.mkdir(exist_ok=True)
    script = directory / name
    script.write_text(f'#!/bin/sh\necho "$@" >> {marker}\necho "fake {name} ran"\n')
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("program", "refused", "allowed"),
    [
        ("supabase", ["db", "push"], ["--version"]),
        ("supabase", ["--workdir", "x", "db", "reset"], ["db", "diff"]),
        ("alembic", ["-c", "alembic.ini", "upgrade", "head"], ["history"]),
        ("prisma", ["migrate", "deploy"], ["migrate", "status"]),
        ("psql", ["-h", "db.example.com", "-c", "select 1"], ["-h", "localhost", "-c", "select 1"]),
        ("dropdb", ["app"], None),
    ],
)
def test_a_migration_shim_refuses_without_running_the_real_program_and_passes_the_rest_through(
    program: str,
    refused: list[str],
    allowed: list[str] | None,
    repo: Path,
    workspace: GitWorkspace,
    home: dict[str, str],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran.txt"
    fake_program(tmp_path / "fakebin", program, marker)
    env = {**home, **workspace.guard_env(DEFAULT_POLICY, f"{tmp_path / 'fakebin'}:{BASE_PATH}")}

    no = run([program, *refused], repo, env)

    assert no.returncode == 126
    assert no.stderr.startswith("orchcore: forbidden")
    assert not marker.exists()
    if allowed is not None:
        yes = run([program, *allowed], repo, env)
        assert (yes.returncode, yes.stdout) == (0, f"fake {program} ran\n"), yes.stderr
        assert marker.read_text() == " ".join(allowed) + "\n"


def test_the_psql_shim_reads_the_host_from_the_environment(
    repo: Path, workspace: GitWorkspace, home: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    fake_program(tmp_path / "fakebin", "psql", marker)
    env = {**home, **workspace.guard_env(DEFAULT_POLICY, f"{tmp_path / 'fakebin'}:{BASE_PATH}")}

    remote = run(["psql", "-c", "select 1"], repo, {**env, "PGHOST": "db.example.com"})
    local = run(["psql", "-c", "select 1"], repo, {**env, "PGHOST": "/var/run/postgresql"})

    assert remote.returncode == 126
    assert "db.example.com" in remote.stderr
    assert local.returncode == 0
    assert marker.read_text() == "-c select 1\n"


def test_a_shim_whose_program_is_missing_says_so(
    repo: Path, workspace: GitWorkspace, home: dict[str, str]
) -> None:
    env = {**home, **workspace.guard_env(DEFAULT_POLICY, "/nonexistent")}

    done = run(["supabase", "--version"], repo, env)

    assert done.returncode == 127
    assert "supabase: command not found" in done.stderr


def test_shims_follow_the_policy_and_stale_ones_go(workspace: GitWorkspace) -> None:
    bin_dir = Path(workspace.guard_dir) / "bin"
    workspace.guard_env(DEFAULT_POLICY, BASE_PATH)
    assert (bin_dir / "supabase").exists()
    only_terraform = SafetyPolicy(rules=(), forbidden_prefixes=("terraform apply",))

    env = workspace.guard_env(only_terraform, BASE_PATH)

    assert sorted(p.name for p in bin_dir.iterdir()) == [".orchcore-shims", "terraform"]
    assert "GIT_CONFIG_COUNT" not in env
    assert load_policy(Path(workspace.guard_dir) / "policy.json") == only_terraform


def hook(policy_path: Path, workdir: Path, payload: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-m", "adapters.claude_code.hook", str(policy_path), str(workdir)],
        input=payload if isinstance(payload, str) else json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={"PATH": BASE_PATH},
    )


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(policy_json(DEFAULT_POLICY))
    return path


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Bash", {"command": "git -C . commit -m x", "description": "commit"}),
        ("Bash", {"command": "echo hi > note.txt && git push --force origin main"}),
        ("Write", {"file_path": "/etc/hosts", "content": "x"}),
    ],
)
def test_the_claude_hook_denies_a_forbidden_tool_call_with_the_documented_json(
    policy_file: Path, tmp_path: Path, tool: str, tool_input: dict[str, object]
) -> None:
    payload = {
        "hook_event_name": "PreToolUse",
        "cwd": str(tmp_path),
        "tool_name": tool,
        "tool_input": tool_input,
    }

    done = hook(policy_file, tmp_path, payload)

    assert done.returncode == 0
    decision = json.loads(done.stdout)["hookSpecificOutput"]
    assert decision["hookEventName"] == "PreToolUse"
    assert decision["permissionDecision"] == "deny"
    assert decision["permissionDecisionReason"].startswith("orchcore: forbidden")


def test_the_claude_hook_allows_a_harmless_call_silently(policy_file: Path, tmp_path: Path) -> None:
    payload = {"tool_name": "Bash", "tool_input": {"command": "pytest -q && git status"}}

    done = hook(policy_file, tmp_path, payload)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("payload", ["not json", "[]", {"tool_input": {}}])
def test_the_claude_hook_fails_closed_on_input_it_cannot_read(
    policy_file: Path, tmp_path: Path, payload: object
) -> None:
    done = hook(policy_file, tmp_path, payload)

    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_the_claude_hook_fails_closed_without_its_policy(tmp_path: Path) -> None:
    done = hook(tmp_path / "missing.json", tmp_path, {"tool_name": "Bash", "tool_input": {"command": "ls"}})

    assert (
        "cannot read the safety policy"
        in json.loads(done.stdout)["hookSpecificOutput"]["permissionDecisionReason"]
    )


@pytest.mark.parametrize(
    "policy",
    [
        DEFAULT_POLICY,
        SafetyPolicy(
            forbidden_prefixes=("terraform apply", "kubectl delete --all"), writable_outside=("/tmp",)
        ),
        SafetyPolicy(
            enabled=False, rules=(Rule("r", "x", ("y",), "z", ArgCheck.WITH_FLAGS, ("-f",), ("list",)),)
        ),
    ],
)
def test_the_claude_adapter_writes_the_policy_json_the_guards_read(
    policy: SafetyPolicy, tmp_path: Path
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(policy_json(policy))

    assert load_policy(path) == policy


def test_the_claude_settings_call_this_hook_module(policy_file: Path, tmp_path: Path) -> None:
    settings = claude_settings(DEFAULT_POLICY, str(policy_file), str(tmp_path))
    (entry,) = settings["hooks"]["PreToolUse"]
    command = entry["hooks"][0]["command"]

    done = subprocess.run(  # noqa: S602 - Claude Code runs the hook command through a shell too
        command,
        shell=True,
        input=json.dumps({"tool_name": "Bash", "tool_input": {"command": "git commit -m x"}}),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={"PATH": BASE_PATH, "HOME": os.devnull},
    )

    assert command == hook_command(str(policy_file), str(tmp_path))
    assert entry["matcher"] == "Bash|Write|Edit|MultiEdit|NotebookEdit"
    assert "Bash(git commit:*)" in settings["permissions"]["deny"]
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_a_refusals_file_with_a_torn_or_forged_line_yields_only_real_refusals(
    workspace: GitWorkspace, home: dict[str, str], repo: Path
) -> None:
    env = guarded(workspace, home)
    assert run(["git", "commit", "-am", "x"], repo, env).returncode == 126
    record = Path(workspace.guard_dir) / "refusals" / "refusals.jsonl"
    with record.open("a") as out:
        out.write('{"layer": "refs", "command": "forged"}\nnot json\n{"layer": "shim"')

    found = workspace.take_refusals()

    assert [(r.layer, r.command) for r in found] == [(SafetyLayer.SHIM, "git commit -am x")]
    assert not record.exists()
