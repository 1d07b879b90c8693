"""The supervisor with the real Claude Code CLI against the fake Anthropic API: an attempt that
leaves a failing check gets one retry, in the same Claude session, whose prompt carries the
check's output; the retry fixes it and the task completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.anthropic_api import (
    FakeAnthropicAPI,
    RecordedRequest,
    Turn,
    text_turn,
    tool_turn,
    user_texts,
)
from tests.support import CLAUDE, needs_claude

ORCH = str(Path(sys.executable).with_name("orch"))
pytestmark = [pytest.mark.claude, pytest.mark.integration, needs_claude]

CHECK = 'got=$(cat answer.txt 2>/dev/null)\n[ "$got" = 4 ] && echo "1 passed" && exit 0\necho "E   expected 4, got $got"\necho "1 failed"\nexit 1\n'
TASKS = """# Tasks

## Task 1: Answer
**Type:** backend
**Deliverables:** answer.txt
**Checks:** sh check.sh
**Claude Instruction:**
Write the answer to answer.txt.
"""


def orch(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = work.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "ANTHROPIC_API_KEY": "sk-test"}
    return subprocess.run(
        [ORCH, *args], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_a_failing_check_is_retried_in_the_same_claude_session_with_its_output_then_completes(
    tmp_path: Path,
) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "check.sh").write_text(CHECK)
    (work / "tasks.md").write_text(TASKS)
    (work / "orch.yaml").write_text(
        "agent:\n  name: claude\n"
        f"  executable: {CLAUDE}\n"
        "  base_url: BASE\n"
        f"  config_dir: {tmp_path / 'claude-config'}\n"
        "  timeout_s: 120\nsupervisor:\n  judge: off\n"
    )
    seen: list[RecordedRequest] = []

    def fix_if_told(request: RecordedRequest) -> Turn:
        seen.append(request)
        told = any("expected 4, got 5" in text for text in user_texts(request))
        return tool_turn(
            "Bash", {"command": f"echo {4 if told else 5} > answer.txt", "description": "answer"}
        )

    with FakeAnthropicAPI() as api:
        config = work / "orch.yaml"
        config.write_text(config.read_text().replace("BASE", api.base_url))
        api.play(
            tool_turn("Write", {"file_path": str(work / "answer.txt"), "content": "5\n"}),
            text_turn("Done: answer.txt written."),
            fix_if_told,
            text_turn("Fixed."),
        )
        run = orch(work, "run", "tasks.md", "--auto-approve")
        assert run.returncode == 0, run.stdout + run.stderr
        assert api.remaining == 0
    assert (work / "answer.txt").read_text() == "4\n"
    (retry,) = seen
    texts = user_texts(retry)
    assert any("Write the answer to answer.txt." in t for t in texts), "the retry resumed the same session"
    assert any("Your last attempt was checked" in t and "expected 4, got 5" in t for t in texts)
    status = json.loads(orch(work, "status", "--json").stdout)
    assert status["tasks"][0]["state"] == "completed"
    assert status["tasks"][0]["attempts"] == 2
    assert [d["action"] for d in status["supervision"]["1"]] == ["retry_with_feedback", "accept"]
