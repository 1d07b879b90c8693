"""`orch status` (text and --json) and `orch report` say whether the session's agents ran in the sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import app
from apps.settings import SandboxSettings, Settings
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.sandbox import SandboxMode
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

TASKS = "# Tasks - 2026-11-23\n\n## Task 1: One\n**Claude Instruction:**\nx\n"


def done(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")


def run_and_read(tmp_path: Path, mode: SandboxMode) -> tuple[str, dict[str, object], str]:
    """`orch run` one task under ``mode``; then what status, status --json and report say."""
    agent = ScriptedAgent(scripts={"1": [done]})
    runtime = Runtime(
        settings=Settings(sandbox=SandboxSettings(mode=mode)),
        store=InMemoryStore(),
        logs=MemoryLogs(),
        clock=FakeClock(),
        ids=SequentialIds(),
        agents=lambda _: agent,
    )
    tasks = tmp_path / "tasks.md"
    tasks.write_text(TASKS)

    def orch(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), obj=runtime)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result.stdout

    orch("run", str(tasks), "--agent", "scripted")
    return orch("status"), json.loads(orch("status", "--json")), orch("report")


def test_sandbox_off_by_choice_is_said_plainly_in_status_and_report(tmp_path: Path) -> None:
    text, as_json, report = run_and_read(tmp_path, SandboxMode.OFF)

    line = "sandbox: off (turned off in the config)"
    assert line in text.splitlines()
    assert as_json["sandbox"] == line
    assert f"- {line}" in report.splitlines()
    assert "WARNING" not in text + report


def test_a_sandbox_that_could_not_run_is_a_warning_in_status_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "bin"  # a machine without bubblewrap, but with git
    bare.mkdir()
    (bare / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bare))

    text, as_json, report = run_and_read(tmp_path, SandboxMode.AUTO)

    (line,) = [ln for ln in text.splitlines() if "sandbox:" in ln]
    assert line.startswith("WARNING: sandbox: off (bubblewrap (bwrap) is not installed"), line
    assert as_json["sandbox"] == line
    assert f"- **{line}**" in report.splitlines()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_sandboxed_run_says_on_with_its_network(tmp_path: Path) -> None:
    from adapters.sandbox import probe_bwrap

    found, why = probe_bwrap()
    if found is None:
        pytest.skip(f"the OS sandbox cannot run here: {why}")

    text, as_json, report = run_and_read(tmp_path, SandboxMode.AUTO)

    line = "sandbox: on (bubblewrap, network open)"
    assert line in text.splitlines()
    assert as_json["sandbox"] == line
    assert f"- {line}" in report.splitlines()
