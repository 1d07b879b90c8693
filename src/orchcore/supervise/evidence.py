"""What is known about one attempt once it ended: the values the supervisor judges.

Gathering is I/O and belongs to the shell (the engine, with the Checkpoints port for
the changed files and the diff, a runner for the checks, the Supervisor port for the
judge). Everything here is a frozen value, so the validator, the gates, the scorer and
the decision are pure functions of it and can be replayed by ``orch explain``.

The engine builds one :class:`Evidence` per attempt:

* ``changed``: :func:`changed_files` of ``Checkpoints.changes(before, after)`` and
  ``diff_stats(diff)`` (the line counts), with the sizes after;
* ``diff``: ``Checkpoints.diff(before, after)``, already cut to the diff budget;
* ``deliverables``: :func:`orchcore.supervise.deliverables.deliverable_state` per path named
  by the task, fed the file's text before and after;
* ``checks``: one :class:`CheckResult` per command of
  :func:`orchcore.supervise.pipeline.check_commands`, with
  :func:`orchcore.supervise.testcounts.reported_test_counts` of its output (and of the same command
  before the attempt, when it was run then);
* the agent's outcome, final message, safety events, cost, turns and duration;
* ``judge``: the Supervisor port's answer, or None when the task type is not judged.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from orchcore.ports.checkpoints import FileChange
from orchcore.ports.supervisor import JudgeUnavailable, Verdict
from orchcore.records import Outcome
from orchcore.safety.events import SafetyEvent


class FileStatus(enum.StrEnum):
    """How a path differs after the attempt."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


@attrs.frozen
class ChangedFile:
    """One path the attempt changed: ``sha`` is the content id after (before, for a deleted file)."""

    path: str
    status: FileStatus
    sha: str | None = None
    size: int | None = None
    lines_added: int = 0
    lines_removed: int = 0


def changed_file(
    change: FileChange, *, size: int | None = None, lines_added: int = 0, lines_removed: int = 0
) -> ChangedFile:
    """A :class:`ChangedFile` from the Checkpoints port's :class:`FileChange` (absent before: added)."""
    if change.before is None:
        status = FileStatus.ADDED
    elif change.after is None:
        status = FileStatus.DELETED
    else:
        status = FileStatus.MODIFIED
    sha = change.after if change.after is not None else change.before
    return ChangedFile(change.path, status, sha, size, lines_added, lines_removed)


def changed_files(
    changes: Sequence[FileChange],
    line_counts: Mapping[str, tuple[int, int]],
    sizes: Mapping[str, int] | None = None,
) -> tuple[ChangedFile, ...]:
    """Every change of ``Checkpoints.changes(before, after)`` with its lines added and removed
    (``diffs.diff_stats`` of the attempt's diff) and its size after, in the port's order."""
    sizes = sizes or {}
    return tuple(
        changed_file(
            c,
            size=sizes.get(c.path),
            lines_added=line_counts.get(c.path, (0, 0))[0],
            lines_removed=line_counts.get(c.path, (0, 0))[1],
        )
        for c in changes
    )


class DeliverableState(enum.StrEnum):
    """What became of a file the task names as a deliverable."""

    MISSING = "missing"
    EMPTY = "empty"
    PLACEHOLDER = "placeholder"  # TODO-only, ``pass``-only bodies, NotImplementedError, lorem ipsum
    UNCHANGED = "unchanged"  # there before the attempt and not touched by it
    PRESENT = "present"


@attrs.frozen
class Deliverable:
    """A deliverable's state, and what showed it (``"every function body is pass: f, g"``)."""

    path: str
    state: DeliverableState
    detail: str = ""


@attrs.frozen
class TestCounts:
    """Tests a check's output reports: what a summary line such as ``3 passed, 1 skipped`` says."""

    __test__ = False  # not a pytest test class, despite the name

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        """Every test the run knew of, skipped ones included."""
        return self.passed + self.failed + self.skipped + self.errors

    def __str__(self) -> str:
        parts = [f"{n} {word}" for n, word in self._parts() if n]
        return ", ".join(parts) or "no tests"

    def _parts(self) -> tuple[tuple[int, str], ...]:
        return (
            (self.passed, "passed"),
            (self.failed, "failed"),
            (self.skipped, "skipped"),
            (self.errors, "errors"),
        )


@attrs.frozen
class CheckResult:
    """One gate command's run: ``exit_code`` None when it never finished (timed out, not started).

    ``tests_after`` is what its output reports; ``tests_before`` what the same command
    reported before the attempt (None when it was not run then or reported no counts).
    """

    command: str
    exit_code: int | None
    timed_out: bool = False
    output_tail: str = ""
    duration_s: float = 0.0
    tests_before: TestCounts | None = None
    tests_after: TestCounts | None = None

    @property
    def passed(self) -> bool:
        """Exit code 0 within its timeout."""
        return self.exit_code == 0 and not self.timed_out


@attrs.frozen
class Evidence:
    """Everything the supervisor judges about one attempt of one task."""

    task_id: str
    attempt: int
    outcome: Outcome = Outcome.SUCCEEDED
    final_message: str = ""
    error: str = ""
    """The agent's own error line when ``outcome`` is not SUCCEEDED (redacted by the shell)."""
    changed: tuple[ChangedFile, ...] = ()
    diff: str = ""
    deliverables: tuple[Deliverable, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    safety: tuple[SafetyEvent, ...] = ()
    cost_usd: Decimal = Decimal(0)
    turns: int = 0
    duration_s: float = 0.0
    judge: Verdict | JudgeUnavailable | None = None

    @property
    def lines_changed(self) -> int:
        """Lines added plus lines removed over every changed file."""
        return sum(f.lines_added + f.lines_removed for f in self.changed)

    @property
    def violations(self) -> tuple[SafetyEvent, ...]:
        """Safety events that got through (a refusal is not one)."""
        return tuple(e for e in self.safety if not e.refused)
