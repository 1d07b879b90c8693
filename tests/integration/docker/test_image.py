"""Opt-in (`pytest -m image`): build orch's image on the private dockerd from a Debian base made
here (debootstrap + docker import: no registry is reachable), then run `orch doctor` in it and
`orch serve` until its health check passes. Slow: minutes, most of it pip and npm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.docker.daemon import Dockerd
from tests.support import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.image]

BASE = "orch-test/debian:12"
IMAGE = "orch-test/orch:latest"
HOST_CAS = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(dockerd: Dockerd, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("docker")
    if cli is None:
        pytest.skip("no docker client on PATH (scripts/start-dockerd.sh installs docker.io)")
    env = {**os.environ, "DOCKER_HOST": dockerd.base_url}
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env)


def context(tmp_path: Path) -> Path:
    """What the Dockerfile copies, plus this machine's trusted CAs (a proxy may intercept TLS here)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, ctx / name)
    shutil.copytree(ROOT / "src", ctx / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "deploy" / "ca", ctx / "deploy" / "ca")
    if HOST_CAS.is_file():
        shutil.copy(HOST_CAS, ctx / "deploy" / "ca" / "host.crt")
    return ctx


@pytest.fixture(scope="module")
def image(dockerd: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> str:
    started = time.monotonic()
    made = subprocess.run(
        [str(ROOT / "scripts" / "make-base-image.sh"), BASE],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={**os.environ, "DOCKER_HOST": dockerd.base_url},
    )
    if made.returncode == 3:
        pytest.skip(f"no Debian base image can be made here: {made.stderr.strip()}")
    assert made.returncode == 0, made.stderr
    based = time.monotonic()
    ctx = context(tmp_path_factory.mktemp("image"))
    built = docker(
        dockerd,
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE={BASE}",
        "-t",
        IMAGE,
        str(ctx),
        timeout=3600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"\nimage: base {based - started:.0f} s, build {time.monotonic() - based:.0f} s")
    return IMAGE


def compose_security() -> list[str]:
    """The `--security-opt`s compose.yaml gives orch's services (what bubblewrap needs)."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return [arg for opt in services["serve"]["security_opt"] for arg in ("--security-opt", opt)]


def test_orch_doctor_runs_in_the_container(dockerd: Dockerd, image: str) -> None:
    done = docker(
        dockerd,
        "run", "--rm", "--network", "none", *compose_security(),
        "-e", "ORCH_AGENT=claude", image, "doctor", "--json",
    )  # fmt: skip

    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["orch"]["status"] == "ok", checks["orch"]
    assert checks["git"]["status"] == "ok"
    assert checks["state dir"]["status"] == "ok"
    assert checks["state dir"]["detail"].startswith("/var/lib/orch")
    assert checks["sandbox"]["status"] == "ok", checks["sandbox"]
    agent = checks["agent claude"]  # found at the pinned version, but nobody logged it in
    assert agent["status"] == "fail"
    assert "not logged in" in agent["detail"]
    assert done.returncode == 1


def test_the_health_check_passes_while_orch_serve_runs(dockerd: Dockerd, image: str) -> None:
    started = docker(
        dockerd, "run", "-d", "--network", "none", "-e", "ORCH_WEBHOOK_SECRET=" + "x" * 32, image
    )
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        deadline = time.monotonic() + 120
        status = ""
        while time.monotonic() < deadline:
            status = docker(
                dockerd, "inspect", "--format", "{{.State.Health.Status}}", container
            ).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(1)
        logs = docker(dockerd, "logs", container)
        assert status == "healthy", logs.stdout + logs.stderr
        user = docker(dockerd, "exec", container, "id", "-u").stdout.strip()
        assert user == "10001"
    finally:
        docker(dockerd, "rm", "-f", container)
