"""Checkpoints end to end: `orch run` with the command agent (a shell script) on a real git
repository with tracked, untracked and ignored files, then `orch diff` and `orch rollback`.

Each test also proves the user's repository gained no ref, stash or config entry (and, when
the agent commits nothing, no object): checkpoints live in a shadow git directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import GIT_ENV, wait_until

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True)
    return done.stdout


def trace(repo: Path, *, objects: bool = True) -> tuple[str, ...]:
    """What the user's repository holds of its own: refs, stashes, config bytes (and objects)."""
    found = (git(repo, "for-each-ref"), git(repo, "stash", "list"), (repo / ".git" / "config").read_text())
    return (*found, git(repo, "count-objects", "-v")) if objects else found


def tasks(*scripts: str) -> str:
    """A task file whose task N runs agent script N (the agent reads $ORCH_TASK_ID)."""
    return "# Tasks\n" + "\n---\n".join(
        f"## Task {n}: step {n}\n**Claude Instruction:**\nrun script {n}\n"
        for n in range(1, len(scripts) + 1)
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp/project: a repository with tracked.txt committed twice, untracked notes.txt, ignored
    build.log; config, task file and state live beside it, outside the workspace."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "tracked.txt").write_text("one\n")
    git(repo, "add", ".gitignore", "tracked.txt")
    git(repo, "commit", "-q", "-m", "first")
    (repo / "tracked.txt").write_text("two\n")
    git(repo, "commit", "-q", "-am", "second")
    (repo / "notes.txt").write_text("my notes\n")
    (repo / "build.log").write_text("old log\n")
    return repo


def run_tasks(project: Path, *scripts: str, safety: bool = True) -> subprocess.CompletedProcess[str]:
    """Write one shell script per task and `orch run` them; safety on (the default) or off."""
    root = project.parent
    for n, script in enumerate(scripts, start=1):
        (root / f"agent{n}.sh").write_text("#!/bin/sh\nset -e\ncat >/dev/null\n" + script)
    (root / "agent.sh").write_text('#!/bin/sh\nexec sh "$(dirname "$0")/agent$ORCH_TASK_ID.sh"\n')
    (root / "tasks.md").write_text(tasks(*scripts))
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
        f"safety:\n  enabled: {str(safety).lower()}\n"
    )
    return orch(root, "run", "tasks.md")


def orch(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCH, *args, "-c", str(root / "orch.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        input=stdin,
    )


AGENT_EDITS = """
echo agent > tracked.txt
echo created > new.txt
rm notes.txt
echo agent log > build.log
"""


def test_diff_shows_what_the_task_changed_but_no_ignored_file(project: Path) -> None:
    before = trace(project)
    run = run_tasks(project, AGENT_EDITS)
    assert run.returncode == 0, run.stderr
    root = project.parent
    diff = orch(root, "diff", "1")
    assert diff.returncode == 0, diff.stderr
    assert "-two" in diff.stdout
    assert "+agent" in diff.stdout
    assert "+created" in diff.stdout
    assert "-my notes" in diff.stdout
    assert "build.log" not in diff.stdout
    stat = orch(root, "diff", "1", "--stat")
    assert "3 files changed" in stat.stdout
    files = json.loads(orch(root, "diff", "1", "--json").stdout)["files"]
    assert {f["path"]: f["status"] for f in files} == {
        "tracked.txt": "modified",
        "new.txt": "added",
        "notes.txt": "deleted",
    }
    assert trace(project) == before


def test_rollback_brings_back_written_and_deleted_files_removes_new_ones_and_keeps_ignored(
    project: Path,
) -> None:
    before = trace(project)
    assert run_tasks(project, AGENT_EDITS).returncode == 0
    root = project.parent
    refused = orch(root, "rollback", "1")  # no terminal, nothing on stdin
    assert refused.returncode == 3
    assert "--yes" in refused.stderr
    assert (project / "tracked.txt").read_text() == "agent\n"  # nothing changed
    done = orch(root, "rollback", "1", "--yes")
    assert done.returncode == 0, done.stderr
    assert (project / "tracked.txt").read_text() == "two\n"
    assert (project / "notes.txt").read_text() == "my notes\n"
    assert not (project / "new.txt").exists()
    assert (project / "build.log").read_text() == "agent log\n"  # ignored: never touched
    assert trace(project) == before
    again = orch(root, "rollback", "1", "--yes")  # already done: nothing to restore, nothing refused
    assert again.returncode == 0, again.stderr
    assert "0 file(s)" in again.stderr


def test_rollback_is_refused_naming_the_files_the_user_edited_since(project: Path) -> None:
    assert run_tasks(project, AGENT_EDITS).returncode == 0
    (project / "tracked.txt").write_text("my later edit\n")
    refused = orch(project.parent, "rollback", "1", "--yes")
    assert refused.returncode == 3
    assert "tracked.txt" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert (project / "tracked.txt").read_text() == "my later edit\n"
    assert (project / "new.txt").exists()


def test_rollback_undoes_a_tasks_commit_but_refuses_when_the_user_moved_the_branch_since(
    project: Path,
) -> None:
    second = git(project, "rev-parse", "HEAD").strip()
    script = "echo agent > tracked.txt\ngit -c user.name=a -c user.email=a@b commit -q -am agent\n"
    assert run_tasks(project, script, safety=False).returncode == 0
    git(project, "commit", "-q", "--allow-empty", "-m", "mine, after the task")
    mine = git(project, "rev-parse", "HEAD").strip()
    refused = orch(project.parent, "rollback", "1", "--yes")
    assert refused.returncode == 3
    assert "ref refs/heads/main" in refused.stderr
    assert git(project, "rev-parse", "HEAD").strip() == mine
    git(project, "reset", "-q", "--soft", "HEAD~1")  # the user takes their commit back
    done = orch(project.parent, "rollback", "1", "--yes")
    assert done.returncode == 0, done.stderr
    assert git(project, "rev-parse", "main").strip() == second
    assert (project / "tracked.txt").read_text() == "two\n"


def test_rollback_to_start_undoes_every_task_of_the_session(project: Path) -> None:
    before = trace(project)
    run = run_tasks(project, "echo first > a.txt\necho one-more >> tracked.txt\n", "echo second > b.txt\n")
    assert run.returncode == 0, run.stderr
    confirmed = orch(project.parent, "rollback", "--to-start", stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert not (project / "a.txt").exists()
    assert not (project / "b.txt").exists()
    assert (project / "tracked.txt").read_text() == "two\n"
    assert trace(project) == before


def test_a_ref_file_written_directly_is_restored_and_the_report_says_so(project: Path) -> None:
    first = git(project, "rev-parse", "HEAD~1").strip()
    second = git(project, "rev-parse", "HEAD").strip()
    before = trace(project)
    run = run_tasks(project, f"echo {first} > .git/refs/heads/main\n")
    assert run.returncode == 1
    assert git(project, "rev-parse", "main").strip() == second
    assert trace(project) == before
    status = orch(project.parent, "status")
    assert "restored from the checkpoint" in status.stdout
    assert "refs/heads/main back to" in status.stdout
    report = orch(project.parent, "report")
    assert "refs/heads/main back to" in report.stdout


def test_a_garbage_ref_file_is_repaired(project: Path) -> None:
    second = git(project, "rev-parse", "HEAD").strip()
    run = run_tasks(project, "echo not-a-sha > .git/refs/heads/main\n")
    assert run.returncode == 1
    assert git(project, "rev-parse", "main").strip() == second
    assert (project / ".git" / "refs" / "heads" / "main").read_text().strip() == second


def test_a_commit_through_a_clean_environment_is_undone(project: Path) -> None:
    second = git(project, "rev-parse", "HEAD").strip()
    before = trace(project, objects=False)
    script = (
        "echo agent > tracked.txt\n"
        "env -i /usr/bin/git -c user.name=a -c user.email=a@b -c core.hooksPath=/dev/null "
        "commit -q -am sneaky\n"
    )
    run = run_tasks(project, script)
    assert run.returncode == 1
    assert git(project, "rev-parse", "main").strip() == second
    assert git(project, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert trace(project, objects=False) == before
    assert "restored from the checkpoint" in orch(project.parent, "status").stdout


@pytest.mark.parametrize(
    "command",
    [
        "git checkout -- tracked.txt",
        "git restore tracked.txt",
        "env -i /usr/bin/git reset -q --hard",
        "env -i /usr/bin/git -c user.name=a -c user.email=a@b stash -q",
    ],
    ids=["checkout", "restore", "reset-hard", "stash"],
)
def test_discarding_the_users_uncommitted_edits_is_a_violation_and_they_come_back(
    project: Path, command: str
) -> None:
    (project / "tracked.txt").write_text("uncommitted work\n")
    before = trace(project, objects=False)  # a stash writes objects: the agent's, not orch's
    run = run_tasks(project, command + "\n")
    assert run.returncode == 1, run.stderr
    assert (project / "tracked.txt").read_text() == "uncommitted work\n"
    assert "restored from the checkpoint" in orch(project.parent, "status").stdout
    assert "tracked.txt (uncommitted edits)" in orch(project.parent, "status").stdout
    assert "uncommitted edits discarded: tracked.txt" in orch(project.parent, "report").stdout
    assert trace(project, objects=False) == before


def test_with_the_state_dir_inside_the_workspace_orch_state_is_never_in_a_checkpoint(project: Path) -> None:
    """orch.yaml and a configured state dir inside the project, not ignored by git."""
    (project / "agent.sh").write_text("#!/bin/sh\ncat >/dev/null\necho agent > tracked.txt\n")
    (project / "tasks.md").write_text(tasks("one"))
    (project / "orch.yaml").write_text(
        "agent:\n  command: [sh, agent.sh]\n  timeout_s: 60\npaths:\n  state_dir: .orch\n"
    )
    run = subprocess.run([ORCH, "run", "tasks.md"], cwd=project, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    files = json.loads(
        subprocess.run([ORCH, "diff", "1", "--json"], cwd=project, capture_output=True, text=True).stdout
    )["files"]
    assert [f["path"] for f in files] == ["tracked.txt"]
    done = subprocess.run([ORCH, "rollback", "1", "--yes"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (project / "tracked.txt").read_text() == "two\n"
    assert (project / ".orch" / "state.db").is_file()


def test_diff_and_rollback_say_what_is_wrong_and_change_nothing(project: Path) -> None:
    assert run_tasks(project, AGENT_EDITS).returncode == 0
    root = project.parent
    unknown = orch(root, "diff", "nope")
    assert unknown.returncode == 6
    assert "no task 'nope'" in unknown.stderr
    nothing = orch(root, "rollback", "--yes")
    assert nothing.returncode == 2
    assert "--to-start" in nothing.stderr
    declined = orch(root, "rollback", "1", stdin="n\n")
    assert declined.returncode == 3
    assert "not confirmed" in declined.stderr
    assert (project / "tracked.txt").read_text() == "agent\n"
    assert (project / "new.txt").exists()


def test_rollback_while_orch_runs_the_session_is_refused_and_changes_nothing(project: Path) -> None:
    root = project.parent
    # the signals live in the workspace: the sandbox lets the agent write nowhere else
    script = "echo agent > tracked.txt\ntouch started\nwhile [ ! -e release ]; do sleep 0.05; done\n"
    (root / "agent1.sh").write_text("#!/bin/sh\ncat >/dev/null\n" + script)
    (root / "agent.sh").write_text('#!/bin/sh\nexec sh "$(dirname "$0")/agent$ORCH_TASK_ID.sh"\n')
    (root / "tasks.md").write_text(tasks("one"))
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}]\n  timeout_s: 60\npaths:\n  workdir: project\n  state_dir: state\n"
    )
    running = subprocess.Popen(
        [ORCH, "run", "tasks.md", "-c", str(root / "orch.yaml")],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: (project / "started").exists(), "the agent to start")
        refused = orch(root, "rollback", "1", "--yes")
        assert refused.returncode == 5, refused.stderr
        assert (project / "tracked.txt").read_text() == "agent\n"
    finally:
        (project / "release").touch()
        running.wait(timeout=60)
    assert running.returncode == 0


def test_diff_latest_shows_only_the_last_attempt(project: Path) -> None:
    script = 'if [ "$ORCH_ATTEMPT" = 1 ]; then echo first > a.txt; exit 1; fi\necho second > b.txt\n'
    assert run_tasks(project, script).returncode == 1
    root = project.parent
    assert orch(root, "retry", "1").returncode == 0
    resumed = orch(root, "resume")
    assert resumed.returncode == 0, resumed.stderr
    whole = {f["path"] for f in json.loads(orch(root, "diff", "1", "--json").stdout)["files"]}
    latest = {f["path"] for f in json.loads(orch(root, "diff", "1", "--latest", "--json").stdout)["files"]}
    assert whole == {"a.txt", "b.txt"}
    assert latest == {"b.txt"}


def test_a_dotenv_file_the_user_did_not_ignore_is_never_copied_into_a_checkpoint(project: Path) -> None:
    """orch's secrets (and the user's) stay out of the shadow store and of `orch diff`."""
    (project / ".env").write_text("ORCH_WEBHOOK_SECRET=s3cret-in-dotenv\n")
    (project / "sub").mkdir()
    (project / "sub" / ".env").write_text("API_KEY=s3cret-in-sub-dotenv\n")
    (project / ".env.example").write_text("API_KEY=put-yours-here\n")
    assert run_tasks(project, AGENT_EDITS + "echo API_KEY= > .env.example\n").returncode == 0
    root = project.parent
    (shadow,) = (root / "state" / "checkpoints").glob("*.git")
    history = subprocess.run(
        ["git", f"--git-dir={shadow}", "log", "--all", "-p", "--format=%H"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tracked.txt" in history  # the checkpoints are there, and hold the task's work
    assert "s3cret" not in history
    assert "s3cret" not in orch(root, "diff", "1").stdout
    assert orch(root, "rollback", "1", "--yes").returncode == 0
    assert (project / ".env").read_text() == "ORCH_WEBHOOK_SECRET=s3cret-in-dotenv\n"  # left as it was
    assert (project / "sub" / ".env").read_text() == "API_KEY=s3cret-in-sub-dotenv\n"
    assert (project / ".env.example").read_text() == "API_KEY=put-yours-here\n"  # a template is kept
