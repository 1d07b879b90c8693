"""The SSH executor against a real sshd: unknown hosts refused, dropped connections retried or
failed as retryable with the remote group killed, guards in force on the host."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from adapters.command.agent import CommandAgent
from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentEvent, AgentRequest, OutputLine
from orchcore.ports.executor import ExecFile, ExecSpec
from orchcore.records import Outcome
from tests.sshd import Sshd

pytestmark = pytest.mark.integration

PATH = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def target(sshd: Sshd, **changes: object) -> SshTarget:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key_file": sshd.key_file,
        "known_hosts": sshd.known_hosts,
        "backoff_s": 0.2,
        **changes,
    }
    return SshTarget(**values)  # type: ignore[arg-type]


def running(sshd: Sshd, token: str) -> list[str]:
    return [
        line
        for line in sshd.run("ps -eo stat=,args=").splitlines()
        if token in line and "ps -eo" not in line and not line.startswith("Z")
    ]


def attempt_files(sshd: Sshd) -> list[str]:
    """The attempt files orch keeps in the login's home on the host (with sync: false)."""
    return sorted(sshd.run("ls .orch-attempts/*/* 2>/dev/null").split())


def test_a_host_missing_from_known_hosts_is_refused_with_how_to_add_it(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    executor = SshExecutor(target(sshd, known_hosts=str(empty)), remote_dir=str(tmp_path / "remote"))
    with pytest.raises(AgentUnavailable) as caught:
        executor.check("sh", PATH)
    message = str(caught.value)
    assert f"[127.0.0.1]:{sshd.port}" in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in message


def test_a_wrong_key_is_refused_naming_the_user_and_the_key(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    executor = SshExecutor(target(sshd, key_file=str(other)), remote_dir=str(tmp_path / "remote"))
    with pytest.raises(AgentUnavailable, match=f"refused with key file {other}"):
        executor.check("sh", PATH)


def test_a_host_down_before_the_command_starts_is_retried_until_it_answers(
    sshd: Sshd, tmp_path: Path
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "a.txt").write_text("a\n")
    executor = SshExecutor(
        target(sshd, connect_attempts=6, backoff_s=0.3), remote_dir=str(tmp_path / "remote")
    )
    sshd.stop()
    back = threading.Timer(1.0, sshd.start)
    back.start()
    try:
        remote = executor.prepare(str(tmp_path / "work"))
    finally:
        back.join()
        executor.close()
    assert (Path(remote) / "a.txt").read_text() == "a\n"  # the host is this machine: look at its copy


def test_a_connection_dropped_mid_command_fails_retryable_and_the_remote_group_is_killed(
    sshd: Sshd, tmp_path: Path
) -> None:
    token = f"{time.time_ns() % 10**9}"
    (tmp_path / "work").mkdir()
    agent = CommandAgent(
        ["sh", "-c", f"(sleep 3600.{token}) & echo started; sleep 3600.{token}"],
        base_env=PATH,
        executor=SshExecutor(target(sshd), remote_dir=str(tmp_path / "remote")),
    )

    def on_event(event: AgentEvent) -> str | None:
        if isinstance(event, OutputLine) and event.text == "started":
            sshd.drop_connections()
        return None

    request = AgentRequest(
        session_id="s",
        task_id="t",
        attempt=1,
        prompt="go",
        workdir=str(tmp_path / "work"),
        log_path=str(tmp_path / "logs" / "t-1.log"),
        timeout_s=60,
    )
    started = time.monotonic()
    result = agent.run(request, on_event)
    assert time.monotonic() - started < 30
    assert result.outcome is Outcome.FAILED
    assert result.retryable
    assert "lost" in result.reason
    deadline = time.monotonic() + 10
    while running(sshd, token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(sshd, token) == []


def test_secrets_in_the_environment_never_reach_a_command_line_on_the_host(
    sshd: Sshd, tmp_path: Path
) -> None:
    executor = SshExecutor(target(sshd), remote_dir=str(tmp_path / "remote"))
    prepared = executor.prepare(str(tmp_path))
    seen: list[str] = []
    secret = "sk-test-do-not-leak-0123456789"  # noqa: S105 - a planted fake
    spec = ExecSpec(
        argv=("sh", "-c", 'echo "key=${API_KEY}"; ps -eo args= | grep -c "$API_KEY" || true'),
        cwd=prepared,
        env={**PATH, "API_KEY": secret},
        log_path=str(tmp_path.parent / f"{tmp_path.name}.log"),
        timeout_s=30,
    )
    result = executor.run(spec, lambda line: seen.append(line) or None, lambda: None)
    executor.close()
    assert result.exit_code == 0
    assert seen[0] == f"key={secret}"
    assert seen[1] == "1"  # only the grep itself names it: not sh, not setsid, not sshd


def test_links_made_on_the_host_that_point_outside_the_workspace_are_not_brought_back(
    sshd: Sshd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    executor = SshExecutor(target(sshd), remote_dir=str(tmp_path / "remote"))
    prepared = executor.prepare(str(work))
    spec = ExecSpec(
        argv=(
            "sh",
            "-c",
            "echo fine > ok.txt; ln -s /etc/passwd abs; ln -s ../../outside up; ln -s ok.txt near",
        ),
        cwd=prepared,
        env=PATH,
        log_path=str(tmp_path / "t.log"),
        timeout_s=30,
    )
    assert executor.run(spec, lambda line: None, lambda: None).exit_code == 0
    executor.finish(str(work), prepared)
    executor.close()
    assert (work / "ok.txt").read_text() == "fine\n"
    assert (work / "near").is_symlink()  # a link inside the workspace is kept
    assert not (work / "abs").is_symlink()
    assert not (work / "up").is_symlink()
    refused = [r.getMessage() for r in caplog.records if "not brought back" in r.getMessage()]
    assert len(refused) == 2, refused


def test_with_sync_off_the_command_runs_in_the_host_folder_and_orch_leaves_nothing_in_it(
    sshd: Sshd, tmp_path: Path
) -> None:
    there = tmp_path / "on-the-host"
    there.mkdir()
    (there / "README").write_text("theirs\n")
    before = attempt_files(sshd)
    executor = SshExecutor(target(sshd), remote_dir=str(there), sync=False)
    prepared = executor.prepare(str(tmp_path / "here"))
    seen: list[str] = []
    spec = ExecSpec(
        argv=("sh", "-c", 'cat README; cat "$ORCH_PROMPT_FILE"; echo new > made.txt'),
        cwd=prepared,
        env=PATH,
        log_path=str(tmp_path / "t.log"),
        timeout_s=30,
        files=(ExecFile("ORCH_PROMPT_FILE", "prompt.md", "the prompt\n"),),
    )
    result = executor.run(spec, lambda line: seen.append(line) or None, lambda: None)
    executor.finish(str(tmp_path / "here"), prepared)
    executor.close()
    assert (result.exit_code, seen) == (0, ["theirs", "the prompt"])
    assert sorted(p.name for p in there.iterdir()) == ["README", "made.txt"]
    assert not (tmp_path / "here").exists()  # nothing is copied either way
    assert attempt_files(sshd) == before, "the attempt's files are removed from the host after it"
