"""`orch run` with the command agent in a real Docker container: a task completes with its file
written through the bind mount as the workspace's owner; a timeout, a cancel or a kill -9 of orch
leaves no container; and with no daemon, orch says why before it starts anything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.integration.docker.daemon import Dockerd
from tests.support import wait_until

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))

TASKS = """# Tasks - 2026-12-02

## Task 1: Write the greeting
**Claude Instruction:**
write hello.txt
"""

# a busybox sh script: reads the prompt on stdin, writes where it runs (the bind-mounted workspace)
AGENT = """
read -r first
echo "prompt: $first"
echo "made in $(hostname) by $(id -u):$(id -g)" > hello.txt
[ -n "$HANG" ] && { touch hanging; sleep 300; }
echo done
"""


def orch(work: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCH_STATE_DIR": str(work.parent / "state")}
    return subprocess.run(
        [ORCH, *args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def project(
    tmp_path: Path, image: str, host: str, *, extra: str = "", hang: bool = False, owner: str = "1000:1000"
) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "tasks.md").write_text(TASKS)
    (work / "agent.sh").write_text(AGENT)
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: command\n"
        "  command: [sh, agent.sh]\n"
        f"  env_passthrough: [{'HANG' if hang else ''}]\n"
        f"{extra}"
        "  executor:\n"
        "    kind: docker\n"
        f"    image: {image}\n"
        f"    host: {host}\n"
        "approval: {mode: auto}\n"
    )
    subprocess.run(["chown", "-R", owner, str(work)], check=True)
    return work


def orch_containers(dockerd: Dockerd) -> list[str]:
    client = docker.DockerClient(base_url=dockerd.base_url, version="1.41")
    try:
        return [
            c.name for c in client.containers.list(all=True, filters={"label": "io.orchcore.executor=docker"})
        ]
    finally:
        client.close()


def test_a_task_completes_in_a_container_and_its_file_belongs_to_the_user(
    dockerd: Dockerd, busybox_image: str, tmp_path: Path
) -> None:
    work = project(tmp_path, busybox_image, dockerd.base_url)
    done = orch(work, "run", "tasks.md")
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["completed"]
    hello = work / "hello.txt"
    assert hello.read_text().startswith("made in ")
    assert hello.read_text().strip().endswith("by 1000:1000")
    assert (hello.stat().st_uid, hello.stat().st_gid) == (1000, 1000)
    assert os.uname().nodename not in hello.read_text()  # it ran in the container, not here
    assert orch_containers(dockerd) == []


def test_a_task_that_times_out_leaves_no_container(
    dockerd: Dockerd, busybox_image: str, tmp_path: Path
) -> None:
    work = project(
        tmp_path, busybox_image, dockerd.base_url, extra="  timeout_s: 2\n  max_attempts: 1\n", hang=True
    )
    env_hang = {**os.environ, "HANG": "1", "ORCH_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [ORCH, "run", "tasks.md"],
        cwd=work,
        env=env_hang,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (work / "hanging").exists()
    status = json.loads(orch(work, "status", "--json").stdout)
    assert status["tasks"][0]["state"] != "completed", done.stdout + done.stderr
    assert orch_containers(dockerd) == []


def test_a_cancel_while_the_agent_runs_stops_and_removes_its_container(
    dockerd: Dockerd, busybox_image: str, tmp_path: Path
) -> None:
    work = project(tmp_path, busybox_image, dockerd.base_url, hang=True)
    env = {**os.environ, "HANG": "1", "ORCH_STATE_DIR": str(tmp_path / "state")}
    run = subprocess.Popen(
        [ORCH, "run", "tasks.md"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (work / "hanging").exists(), "the agent to start in its container")
        assert len(orch_containers(dockerd)) == 1
        cancelled = orch(work, "cancel")
        assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    assert orch_containers(dockerd) == []
    status = json.loads(orch(work, "status", "--json").stdout)
    assert status["session"]["state"] == "cancelled"


def test_after_kill_9_of_orch_resume_removes_the_left_container_and_reruns_the_task(
    dockerd: Dockerd, busybox_image: str, tmp_path: Path
) -> None:
    work = project(tmp_path, busybox_image, dockerd.base_url, hang=True)
    env = {**os.environ, "HANG": "1", "ORCH_STATE_DIR": str(tmp_path / "state")}
    run = subprocess.Popen(
        [ORCH, "run", "tasks.md"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (work / "hanging").exists(), "the agent to start in its container")
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    assert len(orch_containers(dockerd)) == 1  # nothing of orch is left to remove it
    (work / "hanging").unlink()
    resumed = orch(work, "resume")  # without HANG: the second attempt finishes
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == [("completed", 2)]
    assert orch_containers(dockerd) == []


def test_with_no_daemon_orch_says_why_and_which_field_before_it_starts(tmp_path: Path) -> None:
    work = project(tmp_path, "orch-test/busybox:1", f"unix://{tmp_path}/no-daemon.sock")
    done = orch(work, "run", "tasks.md")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert f"cannot reach the Docker daemon at unix://{tmp_path}/no-daemon.sock (agent.executor.host)" in out
    assert "Traceback" not in out


def test_a_wrong_executor_section_is_refused_whole_before_anything_starts(tmp_path: Path) -> None:
    work = project(tmp_path, "orch-test/busybox:1", "unix:///var/run/docker.sock")
    config = (work / "orch.yaml").read_text()
    (work / "orch.yaml").write_text(config.replace("    host:", "    memory: lots\n    cpus: -2\n    host:"))
    done = orch(work, "run", "tasks.md")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "agent.executor.memory: expected a size such as 512m or 2g, got 'lots'" in out
    assert "agent.executor.cpus: expected a positive number of CPUs such as 1.5, got -2" in out
    assert "no session yet" in orch(work, "status").stderr  # nothing was stored
    (work / "orch.yaml").write_text(config.replace("kind: docker", "kind: dokker"))
    unknown = orch(work, "run", "tasks.md")
    assert unknown.returncode != 0
    assert (
        "agent.executor.kind: found 'dokker', expected one of: docker, local, ssh"
        in unknown.stdout + unknown.stderr
    )


def test_docker_host_in_the_environment_names_the_daemon_when_the_config_does_not(tmp_path: Path) -> None:
    work = project(tmp_path, "orch-test/busybox:1", "unused")
    config = (work / "orch.yaml").read_text()
    (work / "orch.yaml").write_text(config.replace("    host: unused\n", ""))
    socket_path = tmp_path / "from-env.sock"
    env = {**os.environ, "ORCH_STATE_DIR": str(tmp_path / "state"), "DOCKER_HOST": f"unix://{socket_path}"}
    done = subprocess.run(
        [ORCH, "run", "tasks.md"], cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 4
    assert f"cannot reach the Docker daemon at unix://{socket_path} (agent.executor.host)" in done.stderr


def test_a_ref_moved_from_inside_the_container_is_restored_and_fails_the_task(
    dockerd: Dockerd, busybox_image: str, tmp_path: Path
) -> None:
    work = project(tmp_path, busybox_image, dockerd.base_url, owner="0:0")
    git = ["git", "-C", str(work), "-c", "user.name=u", "-c", "user.email=u@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for message in ("one", "two"):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    first = subprocess.run(
        [*git, "rev-parse", "HEAD~1"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (work / "agent.sh").write_text(f"echo {first} > .git/refs/heads/main\necho moved\n")  # busybox has no git
    done = orch(work, "run", "tasks.md")
    assert done.returncode != 0
    assert "git ref changed: refs/heads/main moved" in done.stdout
    assert (work / ".git" / "refs" / "heads" / "main").read_text().strip() == head
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [row["layer"] for row in status["safety"]] == ["refs"]
    assert orch_containers(dockerd) == []


def test_a_commit_inside_the_container_is_refused_by_the_guards_shim_there(
    dockerd: Dockerd, git_image: str, tmp_path: Path
) -> None:
    work = project(tmp_path, git_image, dockerd.base_url, owner="0:0")
    git = ["git", "-C", str(work), "-c", "user.name=u", "-c", "user.email=u@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    (work / "agent.sh").write_text(
        "echo change > new.txt\n"
        "git -c user.name=a -c user.email=a@b commit -q --allow-empty -m sneaky; echo commit=$?\n"
        "git status --short >/dev/null; echo status=$?\n"
    )
    done = orch(work, "run", "tasks.md")
    log = "\n".join(p.read_text() for p in (tmp_path / "state").rglob("task-*.log"))
    assert "commit=126" in log, log  # refused before git ran
    assert "status=0" in log, log  # what the policy allows runs: the real git behind the shim
    assert "orchcore: forbidden (git-commit)" in log, log
    assert (
        subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout == head
    )
    safety = json.loads(orch(work, "status", "--json").stdout)["safety"]
    assert [(row["layer"], row["command"]) for row in safety] == [("shim", "git commit")], done.stdout
    assert orch_containers(dockerd) == []
