"""The quality gates: pure rules over an attempt's evidence, run in order after the validator.

* ``check:<command>``: each gate command (the task's ``checks:`` and its type's, run by the
  shell in the workspace, in the sandbox where there is one) exited 0 within its timeout;
* ``tests-kept``: no fewer tests and no more skipped than before (counts from the checks'
  summary lines), and the diff neither deletes test functions nor adds skip markers;
* ``scope``: every changed path matches the task type's scope globs (or is a deliverable);
* ``forbidden-paths``: no changed path matches ``GateConfig.forbidden`` (``**/migrations/**``:
  a human decides, and an edited migration that was already there is named as such);
* ``destructive-schema``: the diff adds no ``DROP COLUMN``/``DROP TABLE`` (SQL, Alembic, Django);
* ``no-secrets``: no added line holds a credential (:mod:`orchcore.supervise.leaks`).

A failing check, lost tests or scope is the agent's to fix (remedy RETRY); forbidden
paths, destructive schema changes and secrets need a human (remedy REVIEW).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence

import attrs

from orchcore.supervise.diffs import FileDiff, file_diffs
from orchcore.supervise.evidence import CheckResult, Evidence, FileStatus
from orchcore.supervise.leaks import leaks_in
from orchcore.supervise.paths import matches
from orchcore.supervise.results import GateResult, Remedy, failed, passed
from orchcore.tasks import Task

DEFAULT_TEST_GLOBS = (
    "test_*.py",
    "*_test.py",
    "tests/**",
    "test/**",
    "__tests__/**",
    "*.test.*",
    "*.spec.*",
    "*_test.go",
)
_TEST_DEF = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+(test\w*)|func\s+(Test\w+)|(?:it|test)\s*\(\s*['\"`]([^'\"`]+)|"
    r"#\[(test)\])"
)
_SKIP_MARKER = re.compile(
    r"(?:@pytest\.mark\.(?:skip|xfail)\b|@unittest\.(?:skip|expectedFailure)\b|\bpytest\.skip\(|"
    r"\bself\.skipTest\(|\b(?:it|test|describe)\.(?:skip|todo)\(|\bx(?:it|describe|test)\(|\bt\.Skip(?:f|Now)?\(|"
    r"#\[ignore\]|@(?:Disabled|Ignore)\b)"
)
_DESTRUCTIVE = re.compile(
    r"(?i)(?:\bDROP\s+COLUMN\b|\bALTER\s+TABLE\s+\S+\s+DROP\s+(?!CONSTRAINT|INDEX|DEFAULT)\w+|\bDROP\s+TABLE\b|"
    r"\bop\.drop_(?:column|table)\(|\bmigrations\.(?:RemoveField|DeleteModel)\()"
)


@attrs.frozen
class GateConfig:
    """The gates' settings. ``scope_by_type`` maps a task type (``"*"``: any other) to the globs its
    changes must stay within; a type with none is unrestricted. Deliverables are always in scope."""

    scope_by_type: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    forbidden: tuple[str, ...] = ("**/migrations/**",)
    test_globs: tuple[str, ...] = DEFAULT_TEST_GLOBS
    ignored: tuple[str, ...] = ("**/__pycache__/**", "*.pyc", ".pytest_cache/**", "node_modules/**")
    secrets: bool = True


def task_scope(task: Task, config: GateConfig) -> tuple[str, ...] | None:
    """The globs ``task``'s changes must match (its type's, else ``"*"``'s); None when unrestricted."""
    globs = config.scope_by_type.get(task.type, config.scope_by_type.get("*"))
    return None if globs is None else tuple(globs)


def normalised(path: str) -> str:
    """A workspace-relative path as the checkpoints name it: ``./docs/a.md`` is ``docs/a.md``."""
    return posixpath.normpath(path).lstrip("/")


def _check(check: CheckResult) -> GateResult:
    name = f"check:{check.command}"
    counts = f" ({check.tests_after})" if check.tests_after is not None else ""
    if check.passed:
        return passed(name, f"exited 0 in {check.duration_s:.1f}s{counts}")
    if check.timed_out:
        return failed(name, f"timed out after {check.duration_s:.0f}s{counts}", check.output_tail)
    if check.exit_code is None:
        return failed(name, f"did not run{counts}", check.output_tail)
    return failed(name, f"exited {check.exit_code}{counts}", check.output_tail)


def _count_losses(checks: Sequence[CheckResult]) -> list[str]:
    found = []
    for check in checks:
        before, after = check.tests_before, check.tests_after
        if before is None or after is None:
            continue
        if after.total < before.total:
            found.append(f"`{check.command}` ran {after.total} tests, {before.total} before")
        if after.skipped > before.skipped:
            found.append(f"`{check.command}` skipped {after.skipped} tests, {before.skipped} before")
    return found


def _test_names(lines: Sequence[str]) -> list[str]:
    return [next(g for g in m.groups() if g) for m in map(_TEST_DEF.match, lines) if m]


def _diff_losses(diffs: Sequence[FileDiff], test_globs: Sequence[str]) -> list[str]:
    found = []
    for part in diffs:
        if not matches(part.path, test_globs):
            continue
        added, removed = _test_names(part.added), _test_names(part.removed)
        if len(removed) > len(added):  # a rename removes one and adds one: only a net loss counts
            gone = [name for name in removed if name not in added] or removed
            found.append(f"{part.path}: {len(removed) - len(added)} tests deleted: {', '.join(gone[:5])}")
        removed_marks = sum(bool(_SKIP_MARKER.search(line)) for line in part.removed)
        marks = [line.strip() for line in part.added if _SKIP_MARKER.search(line)]
        if len(marks) > removed_marks:
            found.append(f"{part.path}: skip marker added: {marks[0][:80]}")
    return found


def _tests_kept(evidence: Evidence, diffs: Sequence[FileDiff], config: GateConfig) -> GateResult:
    name = "tests-kept"
    losses = _count_losses(evidence.checks) + _diff_losses(diffs, config.test_globs)
    if not losses:
        return passed(name, "no test deleted or skipped")
    return failed(name, "; ".join(losses[:3]), "\n".join(losses))


def _scope(task: Task, paths: Sequence[str], config: GateConfig) -> GateResult:
    name = "scope"
    globs = task_scope(task, config)
    if globs is None:
        return passed(name, "no scope set for this task type")
    named = {normalised(d) for d in task.deliverables}  # a deliverable is always in scope, as named
    outside = [p for p in paths if p not in named and not matches(p, globs)]
    if not outside:
        return passed(name, f"{len(paths)} paths within {', '.join(globs)}")
    return failed(
        name, f"{len(outside)} paths outside {', '.join(globs)}: {', '.join(outside[:5])}", "\n".join(outside)
    )


def _forbidden(evidence: Evidence, config: GateConfig) -> GateResult:
    name = "forbidden-paths"
    touched = [f for f in evidence.changed if matches(f.path, config.forbidden)]
    if not touched:
        return passed(name, "none touched")
    words = {FileStatus.ADDED: "added", FileStatus.MODIFIED: "edited existing", FileStatus.DELETED: "deleted"}
    lines = [f"{words[f.status]} {f.path}" for f in touched]
    return failed(name, "needs a human: " + "; ".join(lines[:5]), "\n".join(lines), remedy=Remedy.REVIEW)


def _destructive(diffs: Sequence[FileDiff]) -> GateResult:
    name = "destructive-schema"
    found = [
        f"{part.path}:{number}: {line.strip()[:120]}"
        for part in diffs
        for number, line in zip(part.added_at or range(1, len(part.added) + 1), part.added, strict=False)
        if _DESTRUCTIVE.search(line)
    ]
    if not found:
        return passed(name, "no column or table dropped")
    return failed(name, "drops schema: " + found[0], "\n".join(found), remedy=Remedy.REVIEW)


def _secrets(diffs: list[FileDiff]) -> GateResult:
    name = "no-secrets"
    found = leaks_in(diffs)
    if not found:
        return passed(name, "no credential in the added lines")
    lines = [leak.text for leak in found]
    return failed(name, "a secret was written to a file: " + lines[0], "\n".join(lines), remedy=Remedy.REVIEW)


def run_gates(task: Task, evidence: Evidence, config: GateConfig | None = None) -> tuple[GateResult, ...]:
    """Every gate over ``evidence``, in order: the checks, then tests kept, scope, forbidden paths,
    destructive schema changes and secrets."""
    config = config or GateConfig()
    diffs = [d for d in file_diffs(evidence.diff) if not matches(d.path, config.ignored)]
    paths = [f.path for f in evidence.changed if not matches(f.path, config.ignored)]
    results = [_check(check) for check in evidence.checks]
    results += [
        _tests_kept(evidence, diffs, config),
        _scope(task, paths, config),
        _forbidden(evidence, config),
    ]
    results.append(_destructive(diffs))
    if config.secrets:
        results.append(_secrets(diffs))
    return tuple(results)
