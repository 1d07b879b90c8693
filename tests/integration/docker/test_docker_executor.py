"""The Docker executor on a real dockerd: the workspace bind-mounted and owned by its user, output
streamed, a timeout or stop that leaves no container, and clear errors naming the config field."""

from __future__ import annotations

import os
import time
from pathlib import Path

import docker
import pytest

from adapters.docker.executor import SESSION_LABEL, TASK_LABEL, DockerExecutor, from_config
from orchcore.errors import AgentUnavailable
from orchcore.ports.executor import ExecResult, ExecSpec, LineHandler, TickHandler
from orchcore.sandbox import SandboxPolicy
from tests.integration.docker.daemon import Dockerd

pytestmark = pytest.mark.integration


def containers(dockerd: Dockerd) -> list[str]:
    client = docker.DockerClient(base_url=dockerd.base_url, version="1.41")
    try:
        return [c.name for c in client.containers.list(all=True)]
    finally:
        client.close()


def run(
    executor: DockerExecutor,
    argv: list[str],
    *,
    cwd: str,
    on_line: LineHandler,
    on_tick: TickHandler,
    **spec: object,
) -> ExecResult:
    prepared = executor.prepare(cwd)
    try:
        return executor.run(ExecSpec(argv=tuple(argv), cwd=prepared, **spec), on_line, on_tick)  # type: ignore[arg-type]
    finally:
        executor.finish(cwd, prepared)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, 1000, 1000)  # the user's workspace, not root's
    return work


def test_output_streams_line_by_line_and_files_belong_to_the_workspace_owner(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    seen: list[tuple[float, str]] = []
    script = "read p; echo got $p; sleep 0.5; echo data > made.txt; echo oops >&2; echo done; exit 3"
    outcome = run(
        executor,
        ["sh", "-c", script],
        cwd=str(workspace),
        env={"PATH": "/host/only"},
        stdin_text="the prompt\n",
        log_path=str(tmp_path / "log.txt"),
        timeout_s=30,
        on_line=lambda line: seen.append((time.monotonic(), line)) and None,
        on_tick=lambda: None,
    )
    assert [line for _, line in seen] == ["got the prompt", "done"]
    assert seen[1][0] - seen[0][0] >= 0.4  # streamed as it came, not at the end
    assert outcome.exit_code == 3
    assert outcome.stderr_tail == ("oops",)
    made = workspace / "made.txt"
    assert made.read_text() == "data\n"
    assert (made.stat().st_uid, made.stat().st_gid) == (1000, 1000)
    assert "[stderr] oops" in (tmp_path / "log.txt").read_text()
    assert containers(dockerd) == []


def test_a_timeout_kills_the_container_and_removes_it(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    started = time.monotonic()
    outcome = run(
        executor,
        ["sh", "-c", "echo begin; sleep 60 & sleep 60; echo never"],
        cwd=str(workspace),
        env={},
        stdin_text=None,
        log_path=str(tmp_path / "log.txt"),
        timeout_s=1.0,
        on_line=lambda _: None,
        on_tick=lambda: None,
    )
    assert outcome.timed_out
    assert outcome.exit_code is None
    assert outcome.tail == ("begin",)
    assert time.monotonic() - started < 10
    assert containers(dockerd) == []


def test_a_stop_asked_while_it_runs_leaves_no_container(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    ticks: list[int] = []

    def tick() -> str | None:
        ticks.append(1)
        return "cancelled by the user" if len(ticks) >= 2 else None

    outcome = run(
        executor,
        ["sleep", "60"],
        cwd=str(workspace),
        env={},
        stdin_text=None,
        log_path=str(tmp_path / "log.txt"),
        timeout_s=60,
        on_line=lambda _: None,
        on_tick=tick,
        tick_s=0.2,
    )
    assert outcome.stopped == "cancelled by the user"
    assert containers(dockerd) == []


def test_no_network_unless_configured(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    for network in ("none", "host"):
        executor = from_config(
            {"kind": "docker", "image": busybox_image, "host": dockerd.base_url, "network": network}
        )
        run(
            executor,
            ["sh", "-c", "ls /sys/class/net | tr '\\n' ' '; echo"],
            cwd=str(workspace),
            env={},
            stdin_text=None,
            log_path=str(tmp_path / "log.txt"),
            timeout_s=30,
            on_line=lambda line: lines.append(line.strip()) and None,
            on_tick=lambda: None,
        )
        assert lines[0] == "lo"
    assert lines[1] != "lo"  # the host's interfaces


def test_a_missing_image_is_named_with_its_config_field(dockerd: Dockerd, workspace: Path) -> None:
    executor = from_config({"kind": "docker", "image": "no-such/image:9", "host": dockerd.base_url})
    with pytest.raises(
        AgentUnavailable, match=r"'no-such/image:9' is not on the Docker daemon .*agent\.executor\.image"
    ):
        executor.check("sh", {})


def test_no_daemon_says_where_it_looked_and_which_field_to_change(tmp_path: Path) -> None:
    executor = from_config({"kind": "docker", "image": "a:1", "host": f"unix://{tmp_path}/none.sock"})
    with pytest.raises(
        AgentUnavailable,
        match=r"cannot reach the Docker daemon at unix://.*none\.sock \(agent\.executor\.host\)",
    ):
        executor.check("sh", {})


def test_a_leftover_container_of_the_same_task_is_removed_before_the_next_attempt(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    client = docker.DockerClient(base_url=dockerd.base_url, version="1.41")
    labels = {"io.orchcore.executor": "docker", SESSION_LABEL: "s1", TASK_LABEL: "t1"}
    client.containers.run(
        busybox_image, ["sleep", "60"], detach=True, init=True, labels=labels, name="crashed"
    )
    client.containers.run(
        busybox_image,
        ["sleep", "60"],
        detach=True,
        init=True,
        labels={**labels, TASK_LABEL: "t2"},
        name="other",
    )
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    run(
        executor,
        ["true"],
        cwd=str(workspace),
        stdin_text=None,
        log_path=str(tmp_path / "log.txt"),
        timeout_s=30,
        on_line=lambda _: None,
        on_tick=lambda: None,
        env={"ORCH_SESSION_ID": "s1", "ORCH_TASK_ID": "t1", "ORCH_ATTEMPT": "2"},
    )
    assert containers(dockerd) == ["other"]
    client.containers.get("other").remove(force=True)
    client.close()


def test_a_program_that_never_reads_a_big_stdin_still_ends_on_its_own(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    started = time.monotonic()
    outcome = run(
        executor,
        ["sh", "-c", "echo not reading; sleep 1; exit 0"],
        cwd=str(workspace),
        stdin_text="x" * 4_000_000,  # far more than the pipe and socket buffers hold
        env={},
        log_path=str(tmp_path / "log.txt"),
        timeout_s=20,
        on_line=lambda _: None,
        on_tick=lambda: None,
    )
    assert outcome.exit_code == 0
    assert outcome.tail == ("not reading",)
    assert time.monotonic() - started < 15


def test_what_the_sandbox_policy_hides_in_the_workspace_is_not_in_the_container(
    dockerd: Dockerd, busybox_image: str, workspace: Path, tmp_path: Path
) -> None:
    (workspace / ".env").write_text("API_TOKEN=do-not-show\n")
    (workspace / "private").mkdir()
    (workspace / "private" / "key").write_text("do-not-show\n")
    (workspace / "code.py").write_text("print('visible')\n")
    policy = SandboxPolicy(
        writable=(str(workspace),), hidden=(str(workspace / ".env"), str(workspace / "private"))
    )
    executor = from_config({"kind": "docker", "image": busybox_image, "host": dockerd.base_url})
    lines: list[str] = []
    outcome = run(
        executor,
        ["sh", "-c", "cat code.py .env; ls -A private; echo end"],
        cwd=str(workspace),
        env={},
        sandbox=policy,
        log_path=str(tmp_path / "log.txt"),
        timeout_s=30,
        on_line=lambda line: lines.append(line) and None,
        on_tick=lambda: None,
    )
    assert outcome.exit_code == 0
    assert lines == ["print('visible')", "end"]
    assert "do-not-show" not in (tmp_path / "log.txt").read_text()
    assert (workspace / ".env").read_text() == "API_TOKEN=do-not-show\n"  # hidden, not touched
