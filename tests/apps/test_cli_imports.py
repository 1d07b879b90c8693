"""Commands import only what they use: `orch --help` and `orch status` start in tens of
milliseconds because they never load the engine, the agents, the web app or the parsers.

Each command runs as a user types it (a fresh interpreter, the real entry point) under
``-X importtime``, whose report names every module the process imported; a change that puts
a heavy import back on these paths fails here, long before anyone times it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "import sys; from apps.cli.main import main; sys.argv[0] = 'orch'; main()"

# what no read-only command needs: running agents, serving, parsing task files or shell commands
NEVER_FOR_STATUS = (
    "orchcore.engine",
    "orchcore.ports.agent",
    "orchcore.taskfile",
    "orchcore.safety.shell",
    "orchcore.safety.grammar",
    "adapters.command",
    "adapters.claude_code",
    "adapters.checkpoint",
    "adapters.guards",
    "adapters.sandbox",
    "apps.web",
    "apps.telegram",
    "starlette",
    "uvicorn",
    "httpx",
    "jinja2",
    "markdown_it",
    "tree_sitter",
    "tree_sitter_bash",
)
# `--help` needs typer and the option declarations, nothing of orch's own machinery
NEVER_FOR_HELP = (*NEVER_FOR_STATUS, "orchcore", "adapters", "attr", "attrs", "yaml", "cattrs", "sqlite3")


def imported(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules `orch ARGS` imported (from ``-X importtime``), and how it ended."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    }
    return modules, done


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that are, or are inside, one of ``packages``."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.fixture
def env(in_a_temporary_home: Path) -> dict[str, str]:
    """The test's environment (its own home and state dir), as a child process gets it."""
    return dict(os.environ)


def test_help_imports_no_orch_machinery(in_a_temporary_home: Path, env: dict[str, str]) -> None:
    modules, done = imported(["--help"], in_a_temporary_home, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage: orch" in done.stdout
    assert "typer" in modules  # the report was read
    assert loaded(modules, NEVER_FOR_HELP) == []


def test_a_command_help_imports_no_orch_machinery(in_a_temporary_home: Path, env: dict[str, str]) -> None:
    modules, done = imported(["status", "--help"], in_a_temporary_home, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Where the session stands" in done.stdout
    assert loaded(modules, NEVER_FOR_HELP) == []


@pytest.fixture
def finished_session(in_a_temporary_home: Path, env: dict[str, str]) -> dict[str, str]:
    """A completed two-task session whose agent is `true`, configured by the environment alone."""
    true = shutil.which("true") or "/bin/true"
    env = {**env, "ORCH_AGENT_COMMAND": true, "ORCH_SANDBOX": "off"}
    (in_a_temporary_home / "tasks.md").write_text(
        "# Tasks - 2026-11-23\n\n## Task 1: first\n**Type:** backend\n**Claude Instruction:**\ndo one\n\n"
        "## Task 2: second\n**Type:** backend\n**Depends On:** 1\n**Claude Instruction:**\ndo two\n"
    )
    run = [sys.executable, "-c", ENTRY, "run", "tasks.md", "--auto-approve"]
    done = subprocess.run(run, cwd=in_a_temporary_home, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


@pytest.mark.integration
@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["sessions"]])
def test_status_reads_the_store_without_loading_the_engine_or_agents(
    args: list[str], in_a_temporary_home: Path, finished_session: dict[str, str]
) -> None:
    modules, done = imported(args, in_a_temporary_home, finished_session)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "completed" in done.stdout  # it did read the session
    assert loaded(modules, NEVER_FOR_STATUS) == []


@pytest.mark.integration
def test_status_without_a_config_file_needs_no_yaml(
    in_a_temporary_home: Path, finished_session: dict[str, str], env: dict[str, str]
) -> None:
    """No orch.yaml and no ORCH_* variable: the defaults need no parsing (nor converting)."""
    assert not list(in_a_temporary_home.glob("orch.y*ml"))
    modules, done = imported(["status"], in_a_temporary_home, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "completed" in done.stdout
    assert loaded(modules, ("yaml",)) == []


def test_command_signatures_are_objects_typer_need_not_eval() -> None:
    """typer reads every command's signature on each start of `orch`; string annotations
    (``from __future__ import annotations`` in a command module) would be eval'd every time."""
    from apps.cli.main import app

    commands = [info.callback for info in app.registered_commands if info.callback is not None]
    assert len(commands) >= 15
    quoted = [
        f"{command.__module__}.{command.__name__}: {param}"
        for command in commands
        for param, annotation in command.__annotations__.items()
        if isinstance(annotation, str)
    ]
    assert quoted == []
