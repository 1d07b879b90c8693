"""`orch run` with the command agent on an SSH host (a real sshd on loopback): the task completes
with the remote changes brought back, a forbidden commit is refused on the host, and a cancel
leaves no process there."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sshd import Sshd

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def orch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ORCH, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def project(tmp_path: Path, sshd: Sshd, script: str, *, git: bool = False) -> Path:
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "tasks.md").write_text(
        "# Tasks - 2026-12-02\n\n## Task 1: Write\n**Claude Instruction:**\nwrite it\n"
    )
    executor = {
        "kind": "ssh",
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key_file": sshd.key_file,
        "known_hosts": sshd.known_hosts,
        "remote_dir": str(tmp_path / "remote"),
    }
    config = {
        "agent": {"command": ["sh", "-c", script], "timeout_s": 60, "max_attempts": 1, "executor": executor},
        "paths": {"state_dir": ".orch"},
    }
    (cwd / "orch.yaml").write_text(json.dumps(config))  # JSON is YAML
    if git:
        (cwd / ".gitignore").write_text(".orch/\n")
        for argv in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "."],
            ["git", "commit", "-qm", "first"],
        ):
            subprocess.run(argv, cwd=cwd, env=GIT_ENV, check=True)
    return cwd


def test_a_task_run_over_ssh_completes_and_its_files_come_back(sshd: Sshd, tmp_path: Path) -> None:
    cwd = project(tmp_path, sshd, 'cat "$ORCH_PROMPT_FILE" > seen.txt; pwd > where.txt; echo done')
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    assert "write it" in (cwd / "seen.txt").read_text()
    where = (cwd / "where.txt").read_text().strip()
    assert where.startswith(str(tmp_path / "remote")), "the command ran in the host's copy"
    assert not list((tmp_path / "remote").rglob("state.db")), "orch's own state never goes to the host"


def test_a_forbidden_commit_on_the_host_is_refused_by_the_guards_there(sshd: Sshd, tmp_path: Path) -> None:
    script = "echo x > new.txt; git add new.txt; git -c user.name=a -c user.email=a@b commit -qm sneaky; echo tried"
    cwd = project(tmp_path, sshd, script, git=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
    assert after.stdout == head.stdout, "no commit reached the user's repository"
    log = "\n".join(p.read_text() for p in (cwd / ".orch").rglob("task-*.log"))
    assert "forbidden for agents" in log, log
    safety = json.loads(orch(cwd, "status", "--json").stdout)["safety"]
    assert [(e["layer"], e["refused"]) for e in safety if "commit" in e["reason"]], (safety, done.stdout)


def test_a_cancel_leaves_no_process_on_the_host(sshd: Sshd, tmp_path: Path) -> None:
    token = f"{time.time_ns() % 10**9}"
    cwd = project(tmp_path, sshd, f"(sleep 3600.{token}) & echo started; sleep 3600.{token}")
    run = subprocess.Popen(
        [ORCH, "run", "tasks.md", "--auto-approve"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def remote() -> list[str]:
        return [
            line
            for line in sshd.run("ps -eo stat=,args=").splitlines()
            if token in line and "ps -eo" not in line and not line.startswith("Z")
        ]

    try:
        deadline = time.monotonic() + 60
        while len(remote()) < 3 and time.monotonic() < deadline:  # sh and its two sleeps
            time.sleep(0.2)
        assert len(remote()) == 3, "the agent never started on the host"
        cancelled = orch(cwd, "cancel")
        assert cancelled.returncode == 0, cancelled.stderr
        out, err = run.communicate(timeout=60)
        assert "cancel" in (out + err).lower()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    deadline = time.monotonic() + 10
    while remote() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert remote() == []


def test_with_orch_on_the_host_its_command_shims_refuse_there_too(sshd: Sshd, tmp_path: Path) -> None:
    cwd = project(tmp_path, sshd, "dropdb production; echo after")
    config = json.loads((cwd / "orch.yaml").read_text())
    config["agent"]["executor"]["guard_python"] = sys.executable  # the host is this machine: orch is there
    (cwd / "orch.yaml").write_text(json.dumps(config))
    done = orch(cwd, "run", "tasks.md", "--auto-approve")
    log = "\n".join(p.read_text() for p in (cwd / ".orch").rglob("task-*.log"))
    assert "dropdb" in log, log
    assert "forbidden" in log.lower(), log
    safety = json.loads(orch(cwd, "status", "--json").stdout)["safety"]
    assert [(e["layer"], e["command"]) for e in safety] == [("shim", "dropdb production")], done.stdout


def test_a_connection_dropped_mid_task_is_retried_and_the_next_attempt_completes(
    sshd: Sshd, tmp_path: Path
) -> None:
    token = f"{time.time_ns() % 10**9}"
    script = (
        f'if [ "$ORCH_ATTEMPT" = 1 ]; then echo started; exec sleep 3600.{token}; fi; '
        'echo "attempt $ORCH_ATTEMPT" > done.txt'
    )
    cwd = project(tmp_path, sshd, script)
    config = json.loads((cwd / "orch.yaml").read_text())
    config["agent"] |= {"max_attempts": 2, "retry_delay_s": 0.5}
    (cwd / "orch.yaml").write_text(json.dumps(config))
    run = subprocess.Popen(
        [ORCH, "run", "tasks.md", "--auto-approve"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while token not in sshd.run("ps -eo args=") and time.monotonic() < deadline:
            time.sleep(0.2)
        sshd.drop_connections()  # the engine's connection to the host dies mid-command
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out + err
    assert (cwd / "done.txt").read_text() == "attempt 2\n"
    status = json.loads(orch(cwd, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == [("completed", 2)]
    assert token not in sshd.run("ps -eo args="), "the first attempt's remote process was killed"


def test_after_a_kill_9_of_orch_resume_kills_the_attempt_left_on_the_host_before_the_next_one(
    sshd: Sshd, tmp_path: Path
) -> None:
    token = f"{time.time_ns() % 10**9}"
    (tmp_path / "token").write_text(token)  # the script reads it: only the sleep's own args show it
    script = (
        f'T=$(cat {tmp_path / "token"}); if [ "$ORCH_ATTEMPT" = 1 ]; then exec sleep "3600.$T"; fi; '
        'echo "attempt $ORCH_ATTEMPT, left running: $(ps -eo args= | grep -c "^sleep 3600.$T")" > done.txt'
    )
    cwd = project(tmp_path, sshd, script)

    def remote() -> list[str]:
        return [
            line
            for line in sshd.run("ps -eo stat=,args=").splitlines()
            if token in line and "Z" not in line[:1]
        ]

    run = subprocess.Popen([ORCH, "run", "tasks.md", "--auto-approve"], cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not remote() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert remote(), "the agent never started on the host"
        time.sleep(1)  # the remote group, printed first, is committed meanwhile
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    time.sleep(1)
    assert remote(), (
        "a kill -9 of orch leaves the remote command running (closing the channel does not stop it)"
    )
    tasks = json.loads(orch(cwd, "status", "--json").stdout)["tasks"]
    assert [t["state"] for t in tasks] == ["running"]

    resumed = orch(cwd, "resume")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert remote() == [], "resume killed what the dead orch left on the host"
    assert (cwd / "done.txt").read_text() == "attempt 2, left running: 0\n", "killed before the next attempt"
