"""`orch install-service` writes units that systemd accepts (`systemd-analyze verify`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import BAD_INPUT, app

pytestmark = pytest.mark.integration

SECRET = "do-not-write-me-into-a-unit-0123456789"  # noqa: S105 - a test value
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd): units not verified"
)


def install(tmp_path: Path, *args: str) -> tuple[Path, Path]:
    work = tmp_path / "my app"  # a space: the units must quote and escape it
    work.mkdir(exist_ok=True)
    (work / "orch.yaml").write_text(f"paths:\n  state_dir: {tmp_path / 'state 100%'}\n")
    units = tmp_path / "units"
    result = CliRunner().invoke(
        app, ["install-service", "--dir", str(units), "-c", str(work / "orch.yaml"), *args]
    )
    assert result.exit_code == 0, result.output
    return work, units


def verify(units: Path, *, user: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    argv = [ANALYZE, *(["--user"] if user else []), "verify", *sorted(map(str, units.glob("*.service")))]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, env={"XDG_RUNTIME_DIR": str(runtime)}
    )


@needs_analyze
@pytest.mark.parametrize("user", [False, True], ids=["system", "user"])
def test_the_units_pass_systemd_analyze_verify(
    tmp_path: Path, user: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_WEBHOOK_SECRET", SECRET)
    _, units = install(tmp_path, *(["--user"] if user else []))

    done = verify(units, user=user, tmp_path=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
    assert sorted(p.name for p in units.iterdir()) == ["orch-serve.service", "orch-telegram.service"]


@needs_analyze
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: the same unit with a relative ExecStart is refused."""
    _, units = install(tmp_path)
    serve = units / "orch-serve.service"
    serve.write_text(serve.read_text().replace("ExecStart=/", "ExecStart=", 1))

    done = verify(units, user=False, tmp_path=tmp_path)

    assert done.returncode != 0
    assert "bad unit file setting" in done.stderr


def test_the_units_are_hardened_and_hold_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_WEBHOOK_SECRET", SECRET)
    work, units = install(tmp_path)
    serve = (units / "orch-serve.service").read_text()
    telegram = (units / "orch-telegram.service").read_text()

    for text in (serve, telegram):
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "Restart=on-failure"):
            assert line in text.splitlines()
        assert f"EnvironmentFile=-{work}/.env" in text.splitlines()
        assert f"WorkingDirectory={work}" in text.splitlines()
        rw = next(line for line in text.splitlines() if line.startswith("ReadWritePaths="))
        assert "state\\x20100%%" in rw
        assert "my\\x20app" in rw
        assert SECRET not in text
    assert "serve --host 127.0.0.1 --port 8765 --config" in serve
    assert "'" in serve.split("ExecStart=", 1)[1].splitlines()[0]  # the path with a space is quoted
    assert (tmp_path / "state 100%").is_dir()  # ReadWritePaths must exist when the unit starts


def test_dry_run_prints_both_units_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text("")
    result = CliRunner().invoke(
        app,
        [
            "install-service",
            "--user",
            "--dry-run",
            "--dir",
            str(tmp_path / "u"),
            "-c",
            str(tmp_path / "orch.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"# {tmp_path / 'u' / 'orch-serve.service'}" in result.stdout
    assert "WantedBy=default.target" in result.stdout
    assert "User=" not in result.stdout
    assert not (tmp_path / "u").exists()


def test_a_folder_that_cannot_be_written_is_said(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text(f"paths:\n  state_dir: {tmp_path / 'state'}\n")
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(
        app, ["install-service", "--dir", str(tmp_path / "file" / "units"), "-c", str(tmp_path / "orch.yaml")]
    )
    assert result.exit_code == BAD_INPUT
    assert "cannot write the units in" in result.stderr
