"""The supervisor through `orch run`: a command agent (a shell script reading its prompt on stdin)
on a real git repository, the task's `checks:` run by the shell, the real SQLite store.

The agent writes ``answer.txt``; the check ``sh check.sh`` passes when it holds 4 and otherwise
prints ``E   expected 4, got <what it holds>``. A second attempt only fixes the file when its
prompt carries that output (or a human's reason for rejecting), so a green run proves the
feedback reached the agent.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchcore.day_advice import SUMMARY_SYSTEM
from tests.fakes.ollama_api import Answer, FakeOllama, RecordedRequest, agreeing, asked_criteria, verdict_json
from tests.support import GIT_ENV

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
CHECK = 'got=$(cat answer.txt 2>/dev/null)\n[ "$got" = 4 ] && echo "1 passed" && exit 0\necho "E   expected 4, got $got"\necho "1 failed"\nexit 1\n'
# fixes the answer when its prompt quotes the failing check, or says the human's word "four"
AGENT = """#!/bin/sh
prompt=$(cat)
case "$prompt" in
  *"expected 4, got 5"*|*four*) echo 4 > answer.txt ;;
  *) echo 5 > answer.txt ;;
esac
echo "Done: wrote answer.txt."
"""
NEVER_FIXES = '#!/bin/sh\nprompt=$(cat)\ncase "$prompt" in *four*) echo 4 > answer.txt ;; *) echo 5 > answer.txt ;; esac\necho done\n'
TASKS = """# Tasks

## Task 1: Answer
**Type:** backend
**Description:** write the answer to answer.txt
**Deliverables:** answer.txt
**Checks:**
sh check.sh
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCH, *args, "-c", str(root / "orch.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def project(tmp_path: Path, agent: str, supervisor: str = "  judge: off\n") -> Path:
    root = tmp_path
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "check.sh").write_text(CHECK)
    git(repo, "add", "check.sh")
    git(repo, "commit", "-q", "-m", "first")
    (root / "agent.sh").write_text(agent)
    (root / "tasks.md").write_text(TASKS)
    (root / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {root / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
        f"approval:\n  mode: auto\nsupervisor:\n{supervisor}"
    )
    return root


def prompts(root: Path) -> list[str]:
    """Every prompt the agent got, in attempt order (the command agent keeps them in the state dir)."""
    found = sorted((root / "state").rglob("task-1.*.prompt.md"), key=lambda p: int(p.name.split(".")[1]))
    return [p.read_text() for p in found]


def status_json(root: Path) -> dict[str, object]:
    done = orch(root, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_failing_check_gets_one_retry_with_its_output_in_the_prompt_then_completes(tmp_path: Path) -> None:
    root = project(tmp_path, AGENT)
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (root / "project" / "answer.txt").read_text() == "4\n"
    sent = prompts(root)
    assert len(sent) == 2
    assert "expected 4, got 5" not in sent[0]
    assert "expected 4, got 5" in sent[1]
    assert "sh check.sh" in sent[1]
    status = orch(root, "status")
    assert "completed" in status.stdout
    assert "accept" in status.stdout
    assert "gates" in status.stdout
    report = orch(root, "report").stdout
    checked = report.split("## Checked\n")[1]
    assert "- Task 1: attempt 1: gates" in checked
    assert "retry_with_feedback (rule check:sh check.sh)" in checked
    assert "retry 1 of 2: " in checked  # why it was retried
    assert "attempt 2:" in checked.split("retry 1 of 2")[1]


def test_a_check_still_failing_stops_for_review_naming_the_rule_and_approve_completes(tmp_path: Path) -> None:
    root = project(tmp_path, NEVER_FIXES, "  judge: off\n  max_fix_attempts: 1\n")
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(prompts(root)) == 2  # the first attempt and one retry, then a human
    assert "task 1 stopped for review: rule gate-still-failing, confidence" in run.stdout
    assert "checkpoint: review it" not in run.stdout
    status = orch(root, "status")
    assert "waiting_review" in status.stdout, status.stdout
    assert "rule gate-still-failing" in status.stdout
    approved = orch(root, "approve", "1")
    assert approved.returncode == 0, approved.stderr
    done = orch(root, "resume")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(prompts(root)) == 2  # approving accepts the work: nothing runs again
    tasks = status_json(root)["tasks"]
    assert isinstance(tasks, list)
    assert tasks[0]["state"] == "completed"


def test_reject_with_a_reason_runs_the_task_again_with_the_reason_in_its_prompt(tmp_path: Path) -> None:
    root = project(tmp_path, NEVER_FIXES, "  judge: off\n  max_fix_attempts: 0\n")
    assert orch(root, "run", "tasks.md").returncode == 0
    assert "waiting_review" in orch(root, "status").stdout
    rejected = orch(root, "reject", "1", "--reason", "the answer is four")
    assert rejected.returncode == 0, rejected.stderr
    done = orch(root, "resume")
    assert done.returncode == 0, done.stdout + done.stderr
    sent = prompts(root)
    assert len(sent) == 2
    assert "the answer is four" in sent[1]
    assert (root / "project" / "answer.txt").read_text() == "4\n"
    tasks = status_json(root)["tasks"]
    assert isinstance(tasks, list)
    assert tasks[0]["state"] == "completed"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_with_the_judge_at_a_host_where_nothing_listens_the_run_ends_on_gates_and_says_so(
    tmp_path: Path,
) -> None:
    host = f"http://127.0.0.1:{_closed_port()}"
    root = project(tmp_path, AGENT, f"  judge: ollama\n  host: {host}\n  retries: 0\n  timeout_s: 5\n")
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (root / "project" / "answer.txt").read_text() == "4\n"
    status = orch(root, "status")
    assert "judge unavailable" in status.stdout, status.stdout
    assert "completed" in status.stdout


JUDGED_AGENT = """#!/bin/sh
prompt=$(cat)
case "$prompt" in
  *"must be 4, not 5"*) echo 4 > answer.txt ;;
  *) echo 5 > answer.txt ;;
esac
echo "Done: wrote answer.txt."
"""
JUDGED_TASKS = """# Tasks

## Task 1: Answer
**Type:** backend
**Description:** write the answer to answer.txt
**Acceptance Criteria:**
- answer.txt holds the right answer
**Deliverables:** answer.txt
"""


def test_a_judge_saying_not_met_with_a_critique_gets_a_retry_whose_prompt_carries_the_critique(
    tmp_path: Path,
) -> None:
    def not_met(request: RecordedRequest) -> Answer:
        return Answer(verdict_json(asked_criteria(request), "not_met", "the answer must be 4, not 5"))

    with FakeOllama([not_met], then=agreeing("met")) as fake:
        root = project(tmp_path, JUDGED_AGENT, f"  enabled: true\n  judge: ollama\n  host: {fake.url}\n")
        (root / "tasks.md").write_text(JUDGED_TASKS)
        run = orch(root, "run", "tasks.md")
        assert run.returncode == 0, run.stdout + run.stderr
        chats = [r for r in fake.requests if r.is_chat]
    # the day report's summary, asked of the same model when the session ended, is no judging
    judged = [r for r in chats if r.json["messages"][0]["content"] != SUMMARY_SYSTEM]
    assert len(chats) - len(judged) <= 1
    sent = prompts(root)
    assert len(sent) == 2, sent
    assert "must be 4, not 5" in sent[1]
    assert len(judged) == 2
    assert (
        "echo 5" not in judged[0].json["messages"][-1]["content"]
    )  # the judge reads the diff, not the agent
    assert "+5" in judged[0].json["messages"][-1]["content"]
    assert (root / "project" / "answer.txt").read_text() == "4\n"
    status = orch(root, "status")
    assert "completed" in status.stdout
    assert "judge met" in status.stdout


def test_explain_prints_each_checked_attempt_with_its_gates_and_the_feedback_given(tmp_path: Path) -> None:
    root = project(tmp_path, AGENT)
    assert orch(root, "run", "tasks.md").returncode == 0
    explained = orch(root, "explain", "1")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert out.index("attempt 1:") < out.index("attempt 2:")
    assert "retry_with_feedback (rule check:sh check.sh)" in out
    assert "gate check:sh check.sh: failed" in out
    assert "expected 4, got 5" in out  # the feedback the agent got
    assert "accept" in out.split("attempt 2:")[1]
    data = json.loads(orch(root, "explain", "1", "--json").stdout)
    assert [d["action"] for d in data] == ["retry_with_feedback", "accept"]
    missing = orch(root, "explain", "9")
    assert missing.returncode != 0
    assert "task 9 is not in session" in missing.stderr


def test_checks_run_inside_the_sessions_sandbox(tmp_path: Path) -> None:
    from adapters.sandbox.bwrap import probe_bwrap

    found, why = probe_bwrap()
    if found is None:
        pytest.skip(f"bubblewrap cannot sandbox here: {why}")
    root = project(tmp_path, AGENT, "  judge: off\n  max_fix_attempts: 0\n")
    (root / "tasks.md").write_text(TASKS.replace("sh check.sh", f"touch {root}/escaped.txt"))
    run = orch(root, "run", "tasks.md")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "sandbox: on" in orch(root, "status").stdout
    assert not (root / "escaped.txt").exists(), "a check wrote outside the workspace"
    explained = orch(root, "explain", "1").stdout
    assert f"gate check:touch {root}/escaped.txt: failed" in explained


COUNTING_CHECK = 'n=$(grep -c . cases.txt)\necho "$n passed in 0.01s"\n'
DROPS_A_CASE = "#!/bin/sh\ncat >/dev/null\nsed -i 1d cases.txt\necho 4 > answer.txt\necho done\n"


@pytest.mark.parametrize("count", [True, False])
def test_fewer_tests_than_before_the_first_attempt_stop_for_review_when_counted(
    tmp_path: Path, count: bool
) -> None:
    settings = f"  judge: off\n  max_fix_attempts: 0\n  count_tests_before: {str(count).lower()}\n"
    root = project(tmp_path, DROPS_A_CASE, settings)
    (root / "project" / "cases.txt").write_text("a\nb\nc\n")
    (root / "project" / "count.sh").write_text(COUNTING_CHECK)
    (root / "tasks.md").write_text(TASKS.replace("sh check.sh", "sh count.sh"))
    assert orch(root, "run", "tasks.md").returncode == 0
    state = status_json(root)["tasks"][0]["state"]  # type: ignore[index]
    explained = orch(root, "explain", "1").stdout
    if count:
        assert state == "waiting_review", explained
        assert "gate tests-kept: failed" in explained
        assert "`sh count.sh` ran 2 tests, 3 before" in explained
    else:
        assert state == "completed", explained  # the diff alone cannot see a case dropped from data
