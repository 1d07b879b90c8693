"""`orch run --agent claude`: the real orch CLI driving the real Claude Code CLI
against the fake Anthropic API on loopback, then `orch report` and `orch budget`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import Fail, FakeAnthropicAPI, Usage, text_turn, tool_turn
from tests.support import CLAUDE, needs_claude

ROOT = Path(__file__).resolve().parents[2]
ORCH = str(Path(sys.executable).with_name("orch"))

pytestmark = [
    pytest.mark.claude,
    pytest.mark.integration,
    needs_claude,
]

TASKS = """# Tasks - 2026-11-23

## Task 1: Say hello
**Type:** backend
**Deliverables:**
- hello.txt
**Claude Instruction:**
Create hello.txt saying hello.

---

## Task 2: Then something else
**Depends On:** 1
**Claude Instruction:**
Anything.
"""


def project(tmp_path: Path, api: FakeAnthropicAPI, daily_limit: str, extra: str = "") -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "tasks.md").write_text(TASKS)
    (work / "orch.yaml").write_text(
        "agent:\n"
        "  name: claude\n"
        f"  executable: {CLAUDE}\n"
        f"  base_url: {api.base_url}\n"
        f"  config_dir: {tmp_path / 'claude-config'}\n"
        "  timeout_s: 120\n"
        f"{extra}"
        "budget:\n"
        f"  max_daily_cost_usd: {daily_limit}\n"
        "  timezone: UTC\n"
    )
    return work


def orch(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = work.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "ANTHROPIC_API_KEY": "sk-test"}
    return subprocess.run(
        [ORCH, *args], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_a_claude_run_completes_and_the_report_shows_tokens_cost_and_the_days_total(tmp_path: Path) -> None:
    usage = Usage(
        input_tokens=1000, output_tokens=50, cache_creation_input_tokens=200, cache_read_input_tokens=400
    )
    with FakeAnthropicAPI() as api:
        work = project(tmp_path, api, daily_limit="5")
        api.play(
            tool_turn("Write", {"file_path": str(work / "hello.txt"), "content": "hello\n"}, usage),
            text_turn("done", usage),
            text_turn("nothing to do", usage),
        )
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (work / "hello.txt").read_text() == "hello\n"
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [(t["state"], t["cost_usd"]) for t in status["tasks"]] == [
        ("completed", "0.0154"),
        ("completed", "0.0077"),
    ]
    report = orch(work, "report").stdout
    assert "| 1 | Say hello | backend | completed | 1 |" in report
    row = next(line for line in report.splitlines() if line.startswith("| 1 |"))
    assert row.endswith("| 3200 | 100 | 0.0154 |")
    assert "- Cost: $0.0231" in report
    assert "- Today, all sessions: $0.0231 of the $5 daily limit" in report


def test_crossing_the_daily_budget_mid_task_stops_claude_and_halts_with_an_exact_ledger(
    tmp_path: Path,
) -> None:
    # one model turn reporting 120,000 input tokens: $0.600025 at $5/M in, $25/M out (1 token streamed)
    big = Usage(input_tokens=120_000, output_tokens=400)
    with FakeAnthropicAPI() as api:
        work = project(tmp_path, api, daily_limit="0.50")
        api.play(tool_turn("Bash", {"command": "sleep 30"}, big), text_turn("done", big))
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "budget reached" in run.stdout
    status = json.loads(orch(work, "status", "--json").stdout)
    assert status["session"]["state"] == "halted"
    assert "nothing starts until" in status["session"]["reason"]
    first, second = status["tasks"]
    assert first["state"] == "interrupted"
    assert "limit of $0.5 is reached" in first["reason"]
    assert second["state"] == "pending"
    ledger = json.loads(orch(work, "budget", "--json").stdout)
    assert Decimal(ledger["spent_usd"]) == Decimal("0.600025")
    assert ledger["level"] == "exceeded"
    assert [(a["task"], a["cost_usd"]) for a in ledger["attempts"]] == [("1", "0.600025")]


def test_an_api_error_past_the_clis_own_retries_is_retried_by_orch_after_a_backoff(tmp_path: Path) -> None:
    with FakeAnthropicAPI() as api:
        work = project(tmp_path, api, "5", extra="  max_retries: 0\n  retry_delay_s: 1\n")
        api.play(Fail(500, "fake internal error"), text_turn("done"), text_turn("done too"))
        run = orch(work, "run", "tasks.md", "--auto-approve")
    assert run.returncode == 0, run.stdout + run.stderr
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [(t["state"], t["attempts"]) for t in status["tasks"]] == [("completed", 2), ("completed", 1)]
    events = json.loads(orch(work, "logs", "-n", "500", "--json").stdout)
    first = next(e for e in events if e["kind"] == "task_finished")
    assert first["data"]["state"] == "interrupted"
    assert "retry 2 of 3" in first["data"]["reason"]


def test_a_question_round_trips_through_orch_answer_and_claude_continues_its_session(tmp_path: Path) -> None:
    with FakeAnthropicAPI() as api:
        work = project(tmp_path, api, "5")
        api.play(
            text_turn("I looked at the task.\n\nShould hello.txt say hello or hi?"),
            tool_turn("Write", {"file_path": str(work / "hello.txt"), "content": "hi\n"}),
            text_turn("done"),
            text_turn("nothing to do"),
        )
        asked = orch(work, "run", "tasks.md", "--auto-approve")
        assert asked.returncode == 0, asked.stdout + asked.stderr
        assert "task 1 asks: Should hello.txt say hello or hi?" in asked.stdout
        status = json.loads(orch(work, "status", "--json").stdout)
        assert status["session"]["state"] == "waiting_answer"
        answered = orch(work, "answer", "Say hi, please")
        assert answered.returncode == 0, answered.stderr
        resumed = orch(work, "resume")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        turns = api.main_turns
    assert (work / "hello.txt").read_text() == "hi\n"
    assert (work / "questions" / "1-answer.md").read_text() == "Say hi, please\n"
    # the second run continued the first conversation: it carries the question and the answer
    resumed_request = turns[1].messages
    assert "Should hello.txt say hello or hi?" in json.dumps(resumed_request)
    assert "Say hi, please" in json.dumps(resumed_request)
    status = json.loads(orch(work, "status", "--json").stdout)
    assert [t["state"] for t in status["tasks"]] == ["completed", "completed"]
