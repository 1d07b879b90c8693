"""The run corpus (tests/data/supervisor/runs): labelled attempts made real and run through `orch run`.

Each case names a repository template (``templates/NAME.yaml``: its files and its test
command), a task (the YAML task-file fields of one task) and the agent's recorded change.
:func:`prepare` makes a case folder — the template's git repository copied (built once per
template), ``tasks.yaml``, the change as JSON and ``orch.yaml`` with the scripted command
agent (``agent.py``) — and :func:`run_case` runs the real `orch run` on it (real SQLite, real
checks in the sandbox) and reads the supervisor's decision back from the state store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from adapters.sqlite.store import SqliteStore
from orchcore.records import EventKind

RUNS = Path(__file__).resolve().parent / "data" / "supervisor" / "runs"
AGENT = RUNS / "agent.py"
ORCH = str(Path(sys.executable).with_name("orch"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "shop dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "shop dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}
ACCEPTED = "accept"


@attrs.frozen
class RunCase:
    """One labelled attempt: the task, the agent's change, and what a human says of it."""

    name: str
    good: bool
    defect: str
    mechanical: bool
    template: str
    task: Mapping[str, Any]
    change: Mapping[str, Any]
    supervisor: Mapping[str, Any]


@attrs.frozen
class Judge:
    """Where the judge is for a corpus run (None in :func:`prepare`: gates only)."""

    host: str
    model: str
    timeout_s: float = 300.0
    num_ctx: int | None = None


@attrs.frozen
class RunResult:
    """What the supervisor decided on a case's attempt, read from the store after `orch run`."""

    case: RunCase
    action: str
    rule: str
    confidence: float
    raw: float
    judge: str
    seconds: float
    exit_code: int
    output: str

    @property
    def accepted(self) -> bool:
        return self.action == ACCEPTED


def load_cases(folder: Path = RUNS) -> list[RunCase]:
    """Every case of ``folder``'s ``bad.yaml`` and ``good.yaml``, in file order."""
    cases = []
    for name in ("bad.yaml", "good.yaml"):
        for item in yaml.safe_load((folder / name).read_text(encoding="utf-8")):
            change = {k: item[k] for k in ("write", "edit", "delete", "message") if k in item}
            cases.append(
                RunCase(
                    name=item["name"],
                    good=item["label"] == "good",
                    defect=item.get("defect", ""),
                    mechanical=bool(item.get("mechanical", True)),
                    template=item.get("template", "shop"),
                    task=item["task"],
                    change=change,
                    supervisor=item.get("supervisor", {}),
                )
            )
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"case names must be unique: {duplicates}")
    return cases


def template(name: str, folder: Path = RUNS) -> dict[str, Any]:
    """The template ``name``: ``files`` (path: text) and ``check`` (its test command)."""
    data: dict[str, Any] = yaml.safe_load((folder / "templates" / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


def template_repo(name: str, root: Path) -> Path:
    """The template's git repository under ``root`` (made on first use: one commit of its files)."""
    repo = root / "_templates" / name
    if (repo / ".git").is_dir():
        return repo
    for path, text in template(name)["files"].items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text or "", encoding="utf-8")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "the shop as merged")):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    return repo


def task_file(case: RunCase, python: str) -> dict[str, Any]:
    """The one-task YAML task file of ``case``; ``{python}`` in a check is this interpreter."""
    task = dict(case.task)
    checks = task.pop("checks", [template(case.template)["check"]])
    task["checks"] = [c.replace("{python}", python) for c in checks]
    return {"tasks": [{"id": "1", **task}]}


def config(case: RunCase, case_dir: Path, python: str, judge: Judge | None) -> dict[str, Any]:
    """``orch.yaml`` of a case: the scripted agent, auto approval, the first decision final."""
    supervisor: dict[str, Any] = {"judge": "off"}
    if judge is not None:
        supervisor = {
            "judge": "ollama",
            "host": judge.host,
            "model": judge.model,
            "timeout_s": judge.timeout_s,
        }
        supervisor |= {"retries": 1} | ({"num_ctx": judge.num_ctx} if judge.num_ctx else {})
    # every task checked (also those without checks), the first decision final (no retries)
    supervisor |= {"enabled": True, "max_fix_attempts": 0, "count_tests_before": True, **case.supervisor}
    return {
        "agent": {
            "command": [python, str(AGENT), str(case_dir / "change.json")],
            "timeout_s": 60,
            "env_passthrough": ["PYTHONDONTWRITEBYTECODE"],
        },
        "paths": {"workdir": "project", "state_dir": "state"},
        "approval": {"mode": "auto"},
        "supervisor": supervisor,
    }


def prepare(case: RunCase, root: Path, judge: Judge | None = None, python: str = sys.executable) -> Path:
    """The folder of ``case`` under ``root``, ready for `orch run tasks.yaml`."""
    case_dir = root / case.name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    shutil.copytree(template_repo(case.template, root), case_dir / "project", symlinks=True)
    (case_dir / "tasks.yaml").write_text(yaml.safe_dump(task_file(case, python), sort_keys=False))
    (case_dir / "change.json").write_text(json.dumps(case.change))
    (case_dir / "orch.yaml").write_text(
        yaml.safe_dump(config(case, case_dir, python, judge), sort_keys=False)
    )
    return case_dir


def orch_environment() -> dict[str, str]:
    """This environment without orch's or Ollama's own variables, and with no byte-code written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCH_", "OLLAMA_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_case(case: RunCase, root: Path, judge: Judge | None = None) -> RunResult:
    """Run ``case`` through `orch run` and read what the supervisor decided."""
    case_dir = prepare(case, root, judge)
    started = time.perf_counter()
    done = subprocess.run(
        [ORCH, "run", "tasks.yaml", "-c", str(case_dir / "orch.yaml")],
        cwd=case_dir,
        env=orch_environment(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    return read_result(case, case_dir, seconds, done.returncode, done.stdout + done.stderr)


def read_result(case: RunCase, case_dir: Path, seconds: float, exit_code: int, output: str) -> RunResult:
    """The last SUPERVISION decision on task 1 of the case's session ("none" when there is none)."""
    store = SqliteStore(str(case_dir / "state" / "state.db"))
    try:
        sessions = store.sessions()
        events = store.events(sessions[0].id) if sessions else []
    finally:
        store.close()
    decided = [e.data for e in events if e.kind is EventKind.SUPERVISION and e.task_id == "1"]
    if not decided:
        return RunResult(case, "none", "", 0.0, 0.0, "", seconds, exit_code, output)
    last = decided[-1]
    confidence = float(str(last.get("confidence", 0.0)))
    raw = float(str(last.get("raw_confidence", confidence)))
    action, rule, judge = (str(last.get(k, "")) for k in ("action", "rule", "judge"))
    return RunResult(case, action, rule, confidence, raw, judge, seconds, exit_code, output)


def run_corpus(cases: Sequence[RunCase], root: Path, judge: Judge | None = None) -> list[RunResult]:
    """Every case of ``cases`` through `orch run`, one after the other."""
    return [run_case(case, root, judge) for case in cases]
