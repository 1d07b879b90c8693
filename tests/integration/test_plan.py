"""`orch plan` through the real CLI: the real ``ollama`` client against the loopback fake Ollama
(a valid draft; an invalid draft repaired once; a draft that stays invalid; no Ollama at all), and
the task file it writes is one `orch validate` accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.ollama_api import Answer, FakeOllama
from tests.fakes.webhook_receiver import free_port

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
MODEL = "qwen2.5-coder:32b"
LOG = """\
# 2026-12-01

Goal today: users can sign up.
- add a users table (email unique, password hash)
- POST /signup endpoint, with tests
- update the README with the new endpoint
"""
VALID = """\
Here is the task file:

```markdown
# Tasks - 2026-12-01

## Task 1: Users table
**Type:** database
**Requires Approval:** true
**Description:** Add the users table.
**Acceptance Criteria:**
- email is unique
**Deliverables:**
- db/001_users.sql

---

## Task 2: Signup endpoint
**Type:** backend
**Depends On:** 1
**Description:** POST /signup creates a user.
**Acceptance Criteria:**
- POST /signup answers 201
**Checks:**
- python -m pytest -q

---

## Task 3: Document signup
**Type:** documentation
**Depends On:** 2
**Description:** Describe POST /signup in the README.
**Acceptance Criteria:**
- the README names POST /signup
```
"""
# a database task without approval, a dependency on a task that does not exist, a bad priority
INVALID = """\
# Tasks - 2026-12-01

## Task 1: Users table
**Type:** database
**Priority:** urgent
**Description:** Add the users table.
**Acceptance Criteria:**
- email is unique

## Task 2: Signup endpoint
**Type:** backend
**Depends On:** 7
**Description:** POST /signup creates a user.
**Acceptance Criteria:**
- POST /signup answers 201
"""


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = [] if args[0] == "validate" else ["-c", str(root / "orch.yaml")]  # validate: the config here
    return subprocess.run(
        [ORCH, *args, *config],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def project(tmp_path: Path, host: str) -> Path:
    (tmp_path / "daily_logs").mkdir()
    (tmp_path / "daily_logs" / "2026-12-01.md").write_text(LOG)
    (tmp_path / "orch.yaml").write_text(
        f"paths:\n  state_dir: state\nsupervisor:\n  host: {host}\n  model: {MODEL}\n  timeout_s: 10\n"
    )
    return tmp_path


def test_a_valid_draft_is_written_validated_and_not_run(tmp_path: Path) -> None:
    with FakeOllama([Answer(VALID)]) as fake:
        root = project(tmp_path, fake.url)
        done = orch(root, "plan", "daily_logs/2026-12-01.md")
        chats = fake.chats
    assert done.returncode == 0, done.stdout + done.stderr
    target = root / "tasks" / "2026-12-01.md"
    assert f"wrote tasks/2026-12-01.md: 3 tasks drafted by {MODEL}" in done.stdout
    assert "[database, needs approval] Users table" in done.stdout
    assert "orch validate tasks/2026-12-01.md" in done.stdout
    assert "orch run tasks/2026-12-01.md" in done.stdout
    text = target.read_text()
    assert text.startswith("# Tasks - 2026-12-01\n")
    assert "```" not in text
    assert len(chats) == 1
    sent = chats[0].json
    assert "users table" in sent["messages"][1]["content"]  # the log went to the model
    assert sent["options"]["temperature"] == 0
    validated = orch(root, "validate", str(target))
    assert validated.returncode == 0, validated.stderr
    assert not (root / "state" / "orch.db").exists()  # nothing was started


def test_an_invalid_draft_is_sent_back_once_with_its_problems_and_the_repair_is_written(
    tmp_path: Path,
) -> None:
    with FakeOllama([Answer(INVALID), Answer(VALID)]) as fake:
        root = project(tmp_path, fake.url)
        done = orch(root, "plan", "daily_logs/2026-12-01.md", "--json")
        chats = fake.chats
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["repaired"] is True
    assert result["tries"] == 2
    assert [t["id"] for t in result["tasks"]] == ["1", "2", "3"]
    assert result["tasks"][0]["requires_approval"] is True
    repair = chats[1].json["messages"][1]["content"]
    assert "Your previous answer was" in repair
    assert "expected **Requires Approval:** true" in repair  # orch's own rule for drafted plans
    assert "urgent" in repair
    assert "7" in repair
    assert orch(root, "validate", result["written"]).returncode == 0


def test_a_draft_still_invalid_after_the_repair_writes_nothing_and_prints_every_problem(
    tmp_path: Path,
) -> None:
    with FakeOllama([Answer(INVALID), Answer(INVALID)]) as fake:
        root = project(tmp_path, fake.url)
        done = orch(root, "plan", "daily_logs/2026-12-01.md", "-o", "tasks/today.md")
        assert len(fake.chats) == 2  # one repair, not more
    assert done.returncode == 2, done.stdout + done.stderr
    assert not (root / "tasks" / "today.md").exists()
    lines = done.stderr.splitlines()
    assert any(line.startswith("tasks/today.md:3: Requires Approval:") for line in lines), done.stderr
    assert any(line.startswith("tasks/today.md:5: Priority:") for line in lines), done.stderr
    assert any(line.startswith("tasks/today.md:12: Depends On:") for line in lines), done.stderr
    assert "still invalid after one repair; nothing was written to tasks/today.md" in done.stderr
    kept = root / "state" / "drafts" / "2026-12-01.md"
    assert kept.read_text() == INVALID  # the draft the line numbers refer to


def test_an_existing_task_file_is_kept_unless_forced(tmp_path: Path) -> None:
    with FakeOllama([Answer(VALID)]) as fake:
        root = project(tmp_path, fake.url)
        (root / "tasks").mkdir()
        (root / "tasks" / "2026-12-01.md").write_text("mine\n")
        refused = orch(root, "plan", "daily_logs/2026-12-01.md")
        assert refused.returncode == 2
        assert "exists; nothing was written (--force replaces it)" in refused.stderr
        assert (root / "tasks" / "2026-12-01.md").read_text() == "mine\n"
        assert fake.chats == []  # refused before asking the model
        forced = orch(root, "plan", "daily_logs/2026-12-01.md", "--force")
    assert forced.returncode == 0, forced.stderr
    assert (root / "tasks" / "2026-12-01.md").read_text().startswith("# Tasks - 2026-12-01")


def test_without_a_model_it_says_how_to_get_one_and_the_template_is_a_valid_task_file(tmp_path: Path) -> None:
    root = project(tmp_path, f"http://127.0.0.1:{free_port()}")
    done = orch(root, "plan", "daily_logs/2026-12-01.md")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "not reachable" in done.stderr
    assert f"ollama pull {MODEL}" in done.stderr
    assert "orch plan --template -o" in done.stderr
    assert not (root / "tasks").exists()
    made = orch(root, "plan", "daily_logs/2026-12-01.md", "--template", "-o", "tasks/2026-12-01.md")
    assert made.returncode == 0, made.stderr
    assert (root / "tasks" / "2026-12-01.md").read_text().startswith("# Tasks - 2026-12-01\n")
    assert orch(root, "validate", "tasks/2026-12-01.md").returncode == 0


def test_a_model_that_is_not_pulled_is_told_with_the_pull_command(tmp_path: Path) -> None:
    with FakeOllama(models=[]) as fake:
        root = project(tmp_path, fake.url)
        done = orch(root, "plan", "daily_logs/2026-12-01.md", "--json")
    assert done.returncode == 4
    told = json.loads(done.stdout)
    assert told["written"] is None
    assert told["hint"] == f"ollama pull {MODEL}"


def test_with_a_context_window_set_the_draft_is_bounded_by_what_it_leaves(tmp_path: Path) -> None:
    with FakeOllama([Answer(VALID)]) as fake:
        root = project(tmp_path, fake.url)
        with (root / "orch.yaml").open("a") as config:
            config.write("  num_ctx: 2048\n")
        assert orch(root, "plan", "daily_logs/2026-12-01.md").returncode == 0
        sent = fake.chats[0].json
    prompt_chars = sum(len(m["content"]) for m in sent["messages"])
    assert sent["options"]["num_ctx"] == 2048
    assert sent["options"]["num_predict"] == 2048 - prompt_chars // 3  # 3 characters a token, over-counted
