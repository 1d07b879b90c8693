"""Building an attempt's Evidence the way the engine will: from a diff, the files' texts and the
checks' outputs, through the same pure readers (diff_stats, deliverable_state, reported_test_counts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeUnavailable, Verdict
from orchcore.records import Outcome
from orchcore.safety.events import SafetyEvent, SafetyLayer
from orchcore.supervise import (
    ChangedFile,
    CheckResult,
    Evidence,
    FileStatus,
    History,
    deliverable_state,
    diff_stats,
    file_diffs,
    reported_test_counts,
)
from orchcore.tasks import Complexity, Task

CASES = Path(__file__).resolve().parents[2] / "data" / "supervisor" / "cases"


def added_file(path: str, text: str) -> str:
    """A git diff adding ``path`` with ``text``."""
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def changed_files(diff: str) -> tuple[ChangedFile, ...]:
    """The changed files a diff shows, with their status and line counts (what the checkpoint gives)."""
    stats = diff_stats(diff)
    status: dict[str, FileStatus] = {}
    current = ""
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            current = line.split(" b/", 1)[1]
            status[current] = FileStatus.MODIFIED
        elif line.startswith("new file mode"):
            status[current] = FileStatus.ADDED
        elif line.startswith("deleted file mode"):
            status[current] = FileStatus.DELETED
    for part in file_diffs(diff):
        status.setdefault(part.path, FileStatus.MODIFIED)
    return tuple(ChangedFile(p, s, f"sha-{p}", None, *stats.get(p, (0, 0))) for p, s in status.items())


def check(
    command: str, exit_code: int | None, output: str = "", before: str | None = None, **kw: Any
) -> CheckResult:
    """A check's result with its test counts read from its output (and from ``before``'s)."""
    return CheckResult(
        command,
        exit_code,
        output_tail=output,
        tests_after=reported_test_counts(output),
        tests_before=reported_test_counts(before) if before is not None else None,
        **kw,
    )


def evidence(
    task: Task,
    *,
    diff: str = "",
    files: Mapping[str, tuple[str | None, str | None]] | None = None,
    message: str = "Done.",
    checks: Sequence[CheckResult] = (),
    judge: Verdict | JudgeUnavailable | None = None,
    outcome: Outcome = Outcome.SUCCEEDED,
    safety: Sequence[SafetyEvent] = (),
    attempt: int = 1,
) -> Evidence:
    """Evidence for one attempt of ``task``; ``files`` maps a deliverable to its text before and after
    (a deliverable not in it and not added by the diff is missing)."""
    files = dict(files or {})
    for part in file_diffs(diff):
        if part.path in task.deliverables and part.path not in files and not part.removed:
            files[part.path] = (None, "\n".join(part.added) + "\n")
    deliverables = tuple(deliverable_state(p, *files.get(p, (None, None))) for p in task.deliverables)
    return Evidence(
        task.id,
        attempt,
        outcome=outcome,
        final_message=message,
        changed=changed_files(diff),
        diff=diff,
        deliverables=deliverables,
        checks=tuple(checks),
        safety=tuple(safety),
        cost_usd=Decimal("0.05"),
        turns=4,
        duration_s=30.0,
        judge=judge,
    )


def _judge(data: Mapping[str, Any] | None) -> Verdict | JudgeUnavailable | None:
    if data is None:
        return None
    if "unavailable" in data:
        return JudgeUnavailable(str(data["unavailable"]))
    criteria = tuple(
        CriterionVerdict(str(c["criterion"]), Judgement(c["judgement"]), str(c.get("reason", "")))
        for c in data.get("criteria", ())
    )
    return Verdict(Judgement(data["overall"]), criteria, str(data.get("critique", "")))


def task_from(data: Mapping[str, Any]) -> Task:
    """A Task from a case's ``task:`` mapping."""
    complexity = data.get("estimated_complexity")
    return Task(
        str(data.get("id", "1")),
        str(data["title"]),
        type=str(data.get("type", "feature")),
        description=str(data.get("description", "")),
        acceptance_criteria=tuple(data.get("acceptance_criteria", ())),
        deliverables=tuple(data.get("deliverables", ())),
        estimated_complexity=Complexity(complexity) if complexity else None,
    )


def load_case(path: Path) -> tuple[dict[str, Any], Task, Evidence, History]:
    """One labelled case file: its metadata, the task, the attempt's evidence and the history."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    task = task_from(data["task"])
    ev = data.get("evidence", {})
    checks = [
        check(
            c["command"],
            c.get("exit_code"),
            c.get("output", ""),
            c.get("before"),
            timed_out=c.get("timed_out", False),
        )
        for c in ev.get("checks", ())
    ]
    files = {p: (f.get("before"), f.get("after")) for p, f in (ev.get("files") or {}).items()}
    safety = [
        SafetyEvent(
            SafetyLayer(s["layer"]), s.get("command", ""), s.get("reason", ""), refused=s.get("refused", True)
        )
        for s in ev.get("safety", ())
    ]
    built = evidence(
        task,
        diff=ev.get("diff", ""),
        files=files,
        message=ev.get("final_message", "Done."),
        checks=checks,
        judge=_judge(ev.get("judge")),
        outcome=Outcome(ev.get("outcome", "succeeded")),
        safety=safety,
    )
    history = History(
        fix_attempts=int(data.get("history", {}).get("fix_attempts", 0)),
        accepted_types=frozenset(data.get("history", {}).get("accepted_types", ())),
    )
    return data, task, built, history
