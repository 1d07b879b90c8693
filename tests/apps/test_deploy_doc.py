"""docs/deploy.md: every orch command in its shell blocks runs as written (in a project of its own)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from adapters.sqlite import SqliteStore
from apps.cli.main import app
from tests.support import ROOT

GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
DOCTOR_EXITS = {0, 1}  # doctor's verdict depends on the machine; anything else is a crash or bad usage


def orch_commands() -> list[str]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", GUIDE, re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            found.extend(part for part in command.split(" && ") if part.startswith("orch "))
    return found


def test_the_guide_shows_the_orch_commands_it_explains() -> None:
    commands = orch_commands()
    for name in ("doctor", "doctor --send-test", "install-service --user", "backup"):
        assert f"orch {name}" in commands, commands


def test_every_orch_command_in_the_guide_runs_as_written(tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    (tmp_path / "orch.yaml").write_text(f"paths:\n  state_dir: {tmp_path / 'state'}\n")
    SqliteStore(tmp_path / "state" / "state.db").close()
    runner = CliRunner()
    for command in orch_commands():
        words = [w.replace("~", str(home), 1) if w.startswith("~") else w for w in shlex.split(command)]
        result = runner.invoke(app, words[1:])
        allowed = DOCTOR_EXITS if words[1] == "doctor" else {0}
        assert result.exit_code in allowed, (command, result.output)
    assert list((home / "backups").glob("state-*.db"))
    assert (home / "backups" / "orch-state.db").is_file()
    assert (home / ".config" / "systemd" / "user" / "orch-serve.service").is_file()
