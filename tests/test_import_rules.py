"""The dependency rule is part of the build: import-linter must keep every contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_pure_core_contract_catches_io_in_the_core(tmp_path: Path) -> None:
    core = tmp_path / "orchcore"
    core.mkdir()
    (core / "__init__.py").write_text("")
    (core / "model.py").write_text("import subprocess\n")
    (tmp_path / "setup.cfg").write_text(
        "[importlinter]\nroot_package = orchcore\ninclude_external_packages = True\n\n"
        "[importlinter:contract:pure-core]\nname = pure core\ntype = forbidden\n"
        "source_modules = orchcore\nforbidden_modules = subprocess\n"
    )
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--config", "setup.cfg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "orchcore.model -> subprocess" in result.stdout
