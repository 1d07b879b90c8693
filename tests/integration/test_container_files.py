"""The Dockerfile and compose.yaml: compose accepts the file, hadolint finds nothing, and
they say what the deploy guide promises (non-root, pinned Claude CLI, state volume shared)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT

pytestmark = pytest.mark.integration

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def compose_argv() -> list[str]:
    subprocess.run(
        [str(ROOT / "scripts" / "install-compose.sh")], capture_output=True, timeout=900, check=False
    )
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed (scripts/install-compose.sh)")
    return [legacy]


def hadolint() -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / "install-hadolint.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = ROOT / ".tools" / "hadolint" / "bin" / "hadolint"
    if done.returncode != 0 or not found.is_file():
        pytest.skip(f"hadolint could not be installed: {done.stderr.strip() or done.returncode}")
    return str(found)


def test_compose_config_accepts_the_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(ROOT / "orch.env.example", tmp_path / "orch.env")

    done = subprocess.run(
        [*compose_argv(), "-f", str(tmp_path / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == {"serve", "telegram"}  # n8n and ollama are commented out
    for service in resolved["services"].values():
        mounts = [
            str(v) if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in service["volumes"]
        ]
        assert any(m.startswith("orch-state:") and "/var/lib/orch" in m for m in mounts), mounts
    assert resolved["services"]["serve"]["ports"]


def test_compose_without_the_env_file_is_refused(tmp_path: Path) -> None:
    """The secrets are not optional: compose names the missing file rather than starting without them."""
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    done = subprocess.run(
        [*compose_argv(), "-f", str(tmp_path / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "orch.env" in done.stderr


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = subprocess.run(
        [hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install python3\n")
    done = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "DL3008" in done.stdout or "DL3015" in done.stdout


def test_the_image_pins_the_claude_cli_of_the_install_script_and_runs_as_a_user() -> None:
    script = (ROOT / "scripts" / "install-claude-cli.sh").read_text()
    pinned = re.search(r"CLAUDE_CLI_VERSION:-([0-9.]+)", script)
    assert pinned is not None
    assert f"ARG CLAUDE_CLI_VERSION={pinned.group(1)}" in DOCKERFILE
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001", final, re.MULTILINE)
    assert "bubblewrap" in final
    assert 'VOLUME ["/var/lib/orch"]' in final
    assert "ORCH_STATE_DIR=/var/lib/orch" in final
    assert "/health" in final.split("HEALTHCHECK", 1)[1]
    assert "nodejs" not in final  # node is only in the build stage
