"""`orch status` answered without typer (apps.cli.status.quick): the same words, exit code and
errors as the typer command, for every spelling it takes; any other spelling goes to typer.

The oracle for the words after `status` is click itself (the command's own parser); the
oracle for the answer is the typer command run in a fresh interpreter on the same store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.cli.status import parse

TYPER = "import sys; from apps.cli.main import main; sys.argv[0] = 'orch'; main()"
ENTRY = "import sys; from apps.cli.entry import main; sys.argv[0] = 'orch'; main()"

WORDS = st.sampled_from(
    ["--json", "-s", "--session", "-c", "--config", "--session=", "--config=", "-sab", "-c=x", "--", "-",
     "--help", "-x", "--jso", "--json=1", "ab", "abc", "cfg.yaml", "", "-s=", "--s"]
)  # fmt: skip


def click_params(argv: list[str]) -> dict[str, object] | None:
    """What the typer command's own parser makes of ``argv``, or None where it refuses."""
    import typer.main

    from apps.cli.main import app

    group = typer.main.get_command(app)
    command = group.commands["status"]  # type: ignore[attr-defined]
    try:
        ctx = command.make_context("status", list(argv))
    except Exception:  # noqa: BLE001 - any refusal (usage error, --help's exit) is "not plain"
        return None
    return dict(ctx.params)


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=5))
def test_what_quick_reads_is_what_the_typer_command_reads(argv: list[str]) -> None:
    ours = parse(argv)
    if ours is None:
        return  # typer answers these itself
    theirs = click_params(argv)
    assert theirs is not None, f"quick took {argv!r}, which the command refuses"
    positional, option = theirs["session_arg"], theirs["session"]
    assert ours["session"] == (positional if positional is not None else option)
    assert ours["json_out"] == theirs["json_out"]
    assert ours.get("config") == theirs["config"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {"session": None, "json_out": False}),
        (["--json"], {"session": None, "json_out": True}),
        (["ab12", "--json"], {"session": "ab12", "json_out": True}),
        (["-s", "ab12"], {"session": "ab12", "json_out": False}),
        (["-sab12", "-c", "o.yaml"], {"session": "ab12", "config": "o.yaml", "json_out": False}),
        (["--session=ab12", "--config=o.yaml"], {"session": "ab12", "config": "o.yaml", "json_out": False}),
        (["ab12", "-s", "ab12"], {"session": "ab12", "json_out": False}),
    ],
)
def test_the_plain_spellings_are_read(argv: list[str], expected: dict[str, object]) -> None:
    assert parse(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["ab", "cd"],
        ["ab", "-s", "cd"],
        ["--json", "--json"],
        ["-s"],
        ["-s", "a", "-s", "b"],
        ["--"],
    ],
)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def orch(code: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def two_sessions(in_a_temporary_home: Path) -> dict[str, str]:
    """Two finished sessions (agent `true`); the older one has a failed task blocking the next."""
    true = shutil.which("true") or "/bin/true"
    false = shutil.which("false") or "/bin/false"
    env = {**os.environ, "ORCH_SANDBOX": "off", "ORCH_AGENT_TIMEOUT_S": "30"}
    tasks = in_a_temporary_home / "tasks.md"
    tasks.write_text(
        "# Tasks - 2026-11-23\n\n## Task 1: first\n**Type:** backend\n**Claude Instruction:**\ndo one\n\n"
        "## Task 2: second \x1b[31mred\n**Type:** backend\n**Depends On:** 1\n**Claude Instruction:**\ndo two\n"
    )
    for agent in (false, true):
        run = ["run", "tasks.md", "--auto-approve", "--new"]
        done = orch(TYPER, run, in_a_temporary_home, {**env, "ORCH_AGENT_COMMAND": agent})
        assert done.returncode in (0, 1), done.stdout + done.stderr
    return env


@pytest.mark.integration
def test_quick_status_answers_exactly_as_the_typer_command(
    in_a_temporary_home: Path, two_sessions: dict[str, str]
) -> None:
    env = two_sessions
    listed = orch(TYPER, ["sessions", "--json"], in_a_temporary_home, env)
    older = json.loads(listed.stdout)[-1]["id"]
    asks = [
        [],
        ["--json"],
        [older],
        ["-s", older[:4], "--json"],
        ["nosuch"],
        ["-c", "missing.yaml"],
        ["--help"],
    ]
    for args in asks:
        quick = orch(ENTRY, ["status", *args], in_a_temporary_home, env)
        typer_ = orch(TYPER, ["status", *args], in_a_temporary_home, env)
        got = (quick.returncode, quick.stdout, quick.stderr)
        assert got == (typer_.returncode, typer_.stdout, typer_.stderr), args
    shown = orch(ENTRY, ["status", older], in_a_temporary_home, env)
    assert "blocked by 1" in shown.stdout  # the older session
    assert "\\x1b[31m" in shown.stdout  # its title made safe


@pytest.mark.integration
def test_quick_status_loads_no_typer(in_a_temporary_home: Path, two_sessions: dict[str, str]) -> None:
    """Nor YAML or cattrs, once the settings are cached (the first `status` makes the entry), nor
    the settings classes: the entry's status view says where the store is."""
    assert orch(ENTRY, ["status"], in_a_temporary_home, two_sessions).returncode == 0
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, "status"],
        cwd=in_a_temporary_home,
        env=two_sessions,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "completed" in done.stdout
    modules = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if "import time:" in line}
    assert "sqlite3" in modules  # the report was read
    assert sorted(m for m in modules if m.split(".")[0] in ("typer", "click", "cattrs", "yaml")) == []
    assert sorted(modules & {"apps.settings", "apps.settings_cache", "orchcore.engine"}) == []
