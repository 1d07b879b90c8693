"""Helpers every kind of test shares: polling with a deadline, the pinned Claude Code CLI, and
``assert_refusal_shown`` (a refusal shows in `orch status` and the report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from orchcore.ports.agent import AgentEvent, Tick
from orchcore.records import JsonObject

ROOT = Path(__file__).resolve().parents[1]
CLAUDE = ROOT / ".tools" / "claude" / "node_modules" / ".bin" / "claude"

needs_claude = pytest.mark.skipif(
    not CLAUDE.exists(), reason=f"{CLAUDE} is absent: run scripts/install-claude-cli.sh"
)
CODEX = ROOT / ".tools" / "codex" / "current" / "node_modules" / ".bin" / "codex"

needs_codex = pytest.mark.skipif(
    not CODEX.exists(), reason=f"{CODEX} is absent: run scripts/install-codex-cli.sh"
)
AIDER = ROOT / ".tools" / "aider" / "current" / "bin" / "aider"

needs_aider = pytest.mark.skipif(
    not AIDER.exists(), reason=f"{AIDER} is absent: run scripts/install-aider.sh"
)


def wait_until(check: Callable[[], object], what: str = "the condition", timeout: float = 30.0) -> None:
    """Poll ``check`` until it is true, or fail naming ``what`` after ``timeout`` seconds (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


ORCH = Path(sys.executable).with_name("orch")

#: git with a fixed identity and no system or user config: what the tests' repositories are made with
GIT_ENV = {
    "GIT_AUTHOR_NAME": "u",
    "GIT_AUTHOR_EMAIL": "u@example.com",
    "GIT_COMMITTER_NAME": "u",
    "GIT_COMMITTER_EMAIL": "u@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def assert_refusal_shown(
    state_dir: Path,
    task_id: str,
    layer: str,
    session: str | None = None,
    *,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Assert, through the `orch` a user runs, that a refusal of ``task_id`` by ``layer`` shows in
    ``orch status --json`` (its ``safety`` list) and in the report's Safety section; return its row.

    ``state_dir`` is the run's state dir (passed as ORCH_STATE_DIR); ``session`` defaults to the newest.
    """
    env = {**os.environ, "ORCH_STATE_DIR": str(state_dir)}
    where = cwd or state_dir

    def orch(*args: str) -> str:
        done = subprocess.run(
            [str(ORCH), *args, *([session] if session else [])],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"orch {' '.join(args)} failed: {done.stdout}{done.stderr}"
        return done.stdout

    status = json.loads(orch("status", "--json"))
    rows = [r for r in status.get("safety", []) if r["task"] == task_id and r["layer"] == layer]
    assert rows, f"no {layer} refusal of task {task_id} in `orch status --json`: {status.get('safety')}"
    assert rows[0]["refused"] is True, rows[0]
    report = orch("report")
    assert "\n## Safety\n" in report, report
    section = report.split("\n## Safety\n", 1)[1].split("\n## ", 1)[0]
    assert f"- Task {task_id} (attempt " in section, section
    assert f"refused by **{layer}**" in section, section
    return rows[0]


def agent_env(home: Path, path: str = "/usr/local/bin:/usr/bin:/bin") -> dict[str, str]:
    """An agent's base environment: no user or system git config, an identity so a commit could work."""
    return {
        "PATH": path,
        "HOME": str(home),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def git_in(repo: Path, env: Mapping[str, str], *args: str) -> str:
    """Run git in ``repo`` with exactly ``env``; its output (fails the test if git fails)."""
    done = subprocess.run(
        ["git", *args], cwd=repo, env=dict(env), capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


@attrs.frozen
class Seen:
    """One typed agent event and the row the event log keeps of it (kind, text, data, persist)."""

    event: AgentEvent
    kind: str
    text: str
    data: JsonObject
    persist: bool

    @classmethod
    def of(cls, event: AgentEvent) -> Seen:
        stored = event.record()
        return cls(event, stored.kind, stored.text, stored.data, stored.stored)


@attrs.define
class EventRecorder:
    """An agent's event sink that keeps every event but ticks (as ``Seen``) and never stops the agent."""

    events: list[Seen] = attrs.field(factory=list)

    def __call__(self, event: AgentEvent) -> str | None:
        if not isinstance(event, Tick):
            self.events.append(Seen.of(event))
        return None

    def first(self, kind: str) -> Seen:
        return next(e for e in self.events if e.kind == kind)

    def tool_results(self) -> list[Seen]:
        return [e for e in self.events if e.kind == "tool_result"]
