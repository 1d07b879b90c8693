"""The `orch` CLI against in-memory adapters, wired through Runtime (no patching)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.memory.store import InMemoryStore
from apps.bootstrap import Runtime
from apps.cli.main import AGENT_UNAVAILABLE, BAD_INPUT, NOT_FOUND, WRONG_STATE, app
from apps.settings import Settings
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink, Refused
from orchcore.records import Outcome
from orchcore.safety.events import SafetyLayer
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

TASKS = """# Tasks - 2026-11-23

## Task 1: Users table
**Type:** database
**Requires Approval:** true
**Claude Instruction:**
make it
---
## Task 2: Endpoint
**Depends On:** 1
**Claude Instruction:**
serve it
"""

BROKEN = """# Tasks - 2026-11-23

## Task 1: One
**Priority:** urgent
**Claude Instruction:**
x
---
## Task 2: Two
**Depends On:** 7
**Claude Instruction:**
y
---
## Task 3: Three
**Requires Approval:** perhaps
**Claude Instruction:**
z
"""


class World:
    def __init__(self, agent: ScriptedAgent) -> None:
        self.store = InMemoryStore()
        self.logs = MemoryLogs()
        self.agent = agent
        self.runtime = Runtime(
            settings=Settings(),
            store=self.store,
            logs=self.logs,
            clock=FakeClock(),
            ids=SequentialIds(),
            agents=self.make_agent,
        )

    def make_agent(self, name: str) -> ScriptedAgent:
        if name != "scripted":
            raise AgentUnavailable(f"unknown agent {name!r}")
        return self.agent

    def orch(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, list(args), obj=self.runtime)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def world() -> World:
    return World(ScriptedAgent())


@pytest.fixture
def taskfile(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.md"
    path.write_text(TASKS)
    return path


def test_validate_lists_every_problem_with_file_and_line(tmp_path: Path, world: World) -> None:
    path = tmp_path / "broken.md"
    path.write_text(BROKEN)
    code, out, err = world.orch("validate", str(path))
    assert code == BAD_INPUT
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in lines] == ["4", "9", "14"]
    assert "Priority: found 'urgent', expected high, medium or low" in err
    assert "unknown task '7'" in err
    assert "Requires Approval: found 'perhaps', expected true or false" in err
    assert "3 problems found" in err
    assert out == ""


def test_validate_summarises_a_good_file(taskfile: Path, world: World) -> None:
    code, out, _ = world.orch("validate", str(taskfile))
    assert code == 0
    assert "OK, 2 tasks for 2026-11-23" in out
    assert "1 -> 2" in out


def test_run_stops_at_approval_and_says_how_to_continue(taskfile: Path, world: World) -> None:
    code, out, _ = world.orch("run", str(taskfile), "--agent", "scripted")
    assert code == 0
    assert "waiting_approval" in out
    assert "orch approve 1" in out
    assert world.agent.ran() == []


def test_approve_when_nothing_waits_fails_and_changes_nothing(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve")
    sid = world.store.sessions()[0].id
    before = world.store.load(sid)
    code, _, err = world.orch("approve")
    assert code == WRONG_STATE
    assert "cannot approve: the session is completed" in err
    assert "nothing was changed" in err
    assert world.store.load(sid) == before


def test_approve_then_resume_completes_the_session(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted")
    code, out, _ = world.orch("approve")
    assert code == 0
    assert "approved task 1 (session s1 is now running)" in out
    assert "next: orch resume" in out
    code, out, _ = world.orch("resume")
    assert code == 0
    assert world.agent.ran() == ["1", "2"]
    assert "completed" in out
    code, out, _ = world.orch("status", "--json")
    status = json.loads(out)
    assert status["session"]["state"] == "completed"
    assert [t["state"] for t in status["tasks"]] == ["completed", "completed"]
    assert status["next"] == ["orch report"]


def test_run_with_an_unavailable_agent_starts_nothing(taskfile: Path, world: World) -> None:
    code, _, err = world.orch("run", str(taskfile), "--agent", "nope")
    assert code == AGENT_UNAVAILABLE
    assert "unknown agent 'nope'" in err
    assert world.store.sessions() == []


def test_running_a_file_with_an_unfinished_session_is_refused(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted")
    code, _, err = world.orch("run", str(taskfile), "--agent", "scripted")
    assert code == WRONG_STATE
    assert "orch resume" in err
    assert len(world.store.sessions()) == 1
    code, _, _ = world.orch("run", str(taskfile), "--agent", "scripted", "--new")
    assert code == 0
    assert len(world.store.sessions()) == 2


def fails(request: AgentRequest, _: EventSink) -> AgentResult:
    return AgentResult(Outcome.FAILED, exit_code=3, reason="exit code 3: boom")


def test_failed_task_shows_in_status_logs_and_report(taskfile: Path) -> None:
    world = World(ScriptedAgent(scripts={"2": [fails]}))
    code, out, _ = world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve")
    assert code == 1
    assert "orch retry 2" in out
    sid = world.store.sessions()[0].id
    world.logs.write(world.logs.path(sid, "2", 1), "Traceback: boom")
    code, out, _ = world.orch("logs", "2")
    assert code == 0
    assert "Traceback: boom" in out
    code, out, _ = world.orch("report")
    assert code == 0
    assert "| 2 | Endpoint | any | failed | 1 |" in out
    assert "Traceback: boom" in out


def test_unknown_session_is_a_clear_error(taskfile: Path, world: World) -> None:
    code, _, err = world.orch("status", "nope")
    assert code == NOT_FOUND
    assert "no session 'nope'" in err


def test_skip_needs_a_known_task(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted")
    code, _, err = world.orch("skip", "9")
    assert code == NOT_FOUND
    assert "task 9 is not in this session" in err


def refused_then_done(_: AgentRequest, sink: EventSink) -> AgentResult:
    sink(Refused(SafetyLayer.CLI_PERMISSIONS, "Write /etc/x", "no", call_id="t1"))
    return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")


def test_a_refusal_shows_in_status_logs_and_report_and_the_task_completes(taskfile: Path) -> None:
    world = World(ScriptedAgent(scripts={"2": [refused_then_done]}))
    code, _, _ = world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve")
    assert code == 0

    _, status, _ = world.orch("status")
    _, as_json, _ = world.orch("status", "--json")
    _, log, _ = world.orch("logs", "2")
    _, report, _ = world.orch("report")

    line = "refused by cli-permissions: Write /etc/x (no)"
    assert f"safety: task 2 attempt 1: {line}" in status
    (row,) = json.loads(as_json)["safety"]
    assert (row["task"], row["layer"], row["refused"], row["command"]) == (
        "2",
        "cli-permissions",
        True,
        "Write /etc/x",
    )
    assert f"== safety: {line}" in log
    assert "- Task 2 (attempt 1) — refused by **cli-permissions** `Write /etc/x`: no" in report


def test_budget_shows_costs_to_four_places_and_its_json_keeps_every_digit(taskfile: Path) -> None:
    def noisy(_: AgentRequest, __: EventSink) -> AgentResult:
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.15000000000000002"))

    world = World(ScriptedAgent(scripts={"1": [noisy], "2": [noisy]}))
    world.orch("run", str(taskfile), "--agent", "scripted")
    world.orch("approve")
    world.orch("resume")
    code, out, _ = world.orch("budget")
    assert code == 0
    assert "$0.3000 spent" in out
    assert "0.1500" in out
    assert "0.15000000000000002" not in out
    assert "0.30000000000000004" not in out
    code, out, _ = world.orch("budget", "--json")
    ledger = json.loads(out)
    assert ledger["spent_usd"] == "0.30000000000000004"
    assert [a["cost_usd"] for a in ledger["attempts"]] == ["0.15000000000000002"] * 2


def test_run_verbose_shows_an_allowed_tool_call_with_the_default_safety_policy(tmp_path: Path) -> None:
    from adapters.claude_code.tools import tool_call

    def runs_tests(_: AgentRequest, sink: EventSink) -> AgentResult:
        sink(tool_call("Bash", {"command": "pytest -q"}))
        return AgentResult(Outcome.SUCCEEDED, exit_code=0)

    path = tmp_path / "tasks.md"
    path.write_text("# Tasks - 2026-11-23\n\n## Task 1: Tests\n**Claude Instruction:**\nrun them\n")
    world = World(ScriptedAgent(scripts={"1": [runs_tests]}))
    assert world.runtime.settings.safety_policy().enabled  # the default
    code, out, _ = world.orch("run", str(path), "--agent", "scripted", "-v")
    assert code == 0, out
    assert "pytest -q" in out


SESSION_COMMANDS = [
    "resume",
    "status",
    "report",
    "approve",
    "reject",
    "answer",
    "pause",
    "skip",
    "retry",
    "cancel",
    "logs",
]


@pytest.mark.parametrize("command", SESSION_COMMANDS)
def test_every_command_that_picks_a_session_takes_dash_s(command: str, world: World) -> None:
    code, out, _ = world.orch(command, "--help")
    assert code == 0
    assert "-s, --session" in out


@pytest.mark.parametrize("command", ["resume", "status", "report"])
def test_session_given_as_dash_s_or_positional_picks_the_same_session(
    command: str, taskfile: Path, world: World
) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted")
    world.orch("run", str(taskfile), "--agent", "scripted", "--new")
    code_pos, _, err_pos = world.orch(command, "s1")
    code_opt, _, err_opt = world.orch(command, "-s", "s1")
    assert code_opt != BAD_INPUT, err_opt
    assert "No such option" not in err_opt
    assert "Got unexpected extra argument" not in err_opt
    assert code_pos == code_opt, (err_pos, err_opt)


def parses(line: str) -> None:
    """Fail unless ``line`` (one or more `orch ...` commands joined by &&) parses as orch commands."""
    import shlex

    import click
    import typer.main

    cli = typer.main.get_command(app)
    for part in line.split(" && "):
        words = shlex.split(part)
        assert words[0] == "orch", line
        ctx = click.Context(cli, info_name="orch")
        sub = cli.get_command(ctx, words[1])  # type: ignore[attr-defined]
        assert sub is not None, line
        sub.make_context(words[1], words[2:], parent=ctx)  # raises click.UsageError if it does not parse


def hints_in(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        if line.startswith("next: "):
            found += [h for h in line[len("next: ") :].split("   ") if h]
    found += re.findall(r"`(orch [^`]*)`", text)
    return found


def test_every_next_hint_orch_prints_is_a_command_that_parses(taskfile: Path) -> None:
    world = World(ScriptedAgent(scripts={"2": [fails]}))
    seen: list[str] = []
    for args in (
        ["run", str(taskfile), "--agent", "scripted"],  # waiting for approval
        ["run", str(taskfile), "--agent", "scripted"],  # refused: unfinished
        ["status"],
        ["approve"],
        ["resume"],  # task 2 fails
        ["status"],
        ["retry", "2"],
        ["pause"],
        ["status"],
        ["cancel"],
        ["status"],
        ["run", str(taskfile), "--agent", "scripted", "--new", "--auto-approve"],
        ["skip", "2"],
        ["status"],
        ["run", str(taskfile), "--agent", "scripted"],  # refused: completed
    ):
        _, out, err = world.orch(*args)
        seen += hints_in(out + err)
    assert len(seen) > 10
    for hint in seen:
        parses(hint)


def test_hints_for_an_older_session_name_it(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted")
    world.orch("run", str(taskfile), "--agent", "scripted", "--new")
    _, out, _ = world.orch("status", "s1")
    assert "next: orch approve 1 -s s1 && orch resume -s s1" in out
    _, out, _ = world.orch("status")
    assert "next: orch approve 1 && orch resume   " in out


def test_run_of_a_completed_file_says_so_and_needs_new(taskfile: Path, world: World) -> None:
    world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve")
    assert world.agent.ran() == ["1", "2"]
    before = world.store.load("s1")
    code, _, err = world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve")
    assert code == WRONG_STATE
    assert "session s1 from this file is completed (since " in err
    assert f"orch run {taskfile} --new" in err
    assert world.agent.ran() == ["1", "2"]
    assert [s.id for s in world.store.sessions()] == ["s1"]
    assert world.store.load("s1") == before
    code, _, _ = world.orch("run", str(taskfile), "--agent", "scripted", "--auto-approve", "--new")
    assert code == 0
    assert world.agent.ran() == ["1", "2", "1", "2"]


def test_no_command_names_a_session_without_dash_s() -> None:
    import click
    import typer.main

    cli = typer.main.get_command(app)
    ctx = click.Context(cli, info_name="orch")
    checked = []
    for name in cli.list_commands(ctx):  # type: ignore[attr-defined]
        command = cli.get_command(ctx, name)  # type: ignore[attr-defined]
        params = {p.name: p for p in command.params}
        if "session" in params or "session_arg" in params:
            assert "session" in params, f"orch {name} takes a session only as an argument"
            assert "-s" in params["session"].opts, f"orch {name}: the session option is not -s/--session"
            assert "--session" in params["session"].opts
            checked.append(name)
    assert {"resume", "status", "report", "approve", "logs", "notify"} <= set(checked)
