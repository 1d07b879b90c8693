"""The README's first run, as written: the set-up says how to get `orch`, and the steps work."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from apps.cli.main import app
from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_run() -> str:
    return README.split("## First run", 1)[1].split("\n## ", 1)[0]


def block(after: str, lang: str, text: str) -> str:
    found = re.search(re.escape(after) + r".*?```" + lang + r"\n(.*?)\n\s*```", text, re.DOTALL)
    assert found is not None, f"no ```{lang} block after {after!r} in README's first run"
    return "\n".join(line.removeprefix("   ") for line in found.group(1).splitlines()) + "\n"


def test_setup_says_how_to_put_orch_on_path_and_the_readme_shows_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    done = subprocess.run(
        [str(ROOT / "scripts" / "setup")], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "source .venv/bin/activate" in done.stdout
    assert ".venv/bin/orch" in done.stdout
    setup = block("", "bash", first_run())
    assert "./scripts/setup" in setup
    assert "source .venv/bin/activate" in setup


def test_the_first_run_steps_work_as_written(tmp_path: Path) -> None:
    steps = first_run()
    (tmp_path / "tasks.md").write_text(block("1. Write today's tasks", "markdown", steps))
    (tmp_path / "orch.yaml").write_text(block("stand-in that only prints", "yaml", steps))
    console = block("3. Check the file", "console", steps)
    commands = [line[2:] for line in console.splitlines() if line.startswith("$ ")]
    assert commands[0] == "orch validate tasks.md"
    runner = CliRunner()
    for line in commands:
        for part in line.split(" && "):
            words = shlex.split(part)
            assert words[0] == "orch"
            result = runner.invoke(app, words[1:])
            assert result.exit_code == 0, (part, result.output)
    status = runner.invoke(app, ["status"])
    assert "completed — all tasks done" in status.stdout
    assert f"config: {tmp_path / 'orch.yaml'}" in status.stdout
