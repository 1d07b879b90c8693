"""Checkpoints as the engine and the CLI use them: what a task changed, what it threw away,
and how to undo it without touching what the user did meanwhile.

Pure functions choose checkpoints and compare changes; the few functions that act
(``check_attempt``, ``plan_rollback``, ``roll_back``) only call the Checkpoints port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from orchcore.errors import CheckpointError, NotFound
from orchcore.ports.checkpoints import Checkpoint, Checkpoints, FileChange, Moment
from orchcore.safety import ref_changes


def discarded_edits(changes: Sequence[FileChange], committed: Mapping[str, str | None]) -> list[str]:
    """Paths that were dirty before an attempt and are back at the committed version after it.

    That is what ``git checkout -- f``, ``git restore``, ``git reset --hard`` or ``git stash``
    do to a user's uncommitted edits; a path not in the commit is never counted.
    """
    found = []
    for change in changes:
        head = committed.get(change.path)
        if head is not None and change.before not in (None, head) and change.after == head:
            found.append(change.path)
    return sorted(found)


@attrs.frozen
class AttemptCheck:
    """What the after-attempt comparison found and what it put back from the checkpoint."""

    violations: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()


def check_attempt(checkpoints: Checkpoints, before: Checkpoint, *, guard: bool) -> AttemptCheck:
    """Snapshot the workspace after an attempt; with ``guard``, give back discarded edits and
    moved refs (and HEAD) from ``before``, and say so. The ref violations themselves are the
    engine's own refs check; the discarded edits are reported here."""
    try:
        return _check_attempt(checkpoints, before, guard=guard)
    except CheckpointError as exc:
        return AttemptCheck(
            (f"the workspace could not be checked after the attempt: {exc}",) if guard else ()
        )


def _check_attempt(checkpoints: Checkpoints, before: Checkpoint, *, guard: bool) -> AttemptCheck:
    after = checkpoints.take(before.session_id, before.task_id, before.attempt, Moment.AFTER)
    if not guard:
        return AttemptCheck()
    changes = checkpoints.changes(before, after)
    lost = discarded_edits(changes, checkpoints.committed(before, [c.path for c in changes]))
    violations = tuple(f"uncommitted edits discarded: {path}" for path in lost)
    restored: list[str] = []
    if ref_changes(before.refs, after.refs):
        restored += checkpoints.restore_refs(before)
    if lost:
        checkpoints.restore_files(before, lost)
        restored += [f"{path} (uncommitted edits)" for path in lost]
    return AttemptCheck(violations, tuple(restored))


def task_span(
    points: Sequence[Checkpoint], task_id: str, *, latest: bool = False
) -> tuple[Checkpoint, Checkpoint | None]:
    """The checkpoint before the task's first attempt (``latest``: its latest attempt), and the
    one after its latest attempt (None: it has not ended)."""
    mine = [c for c in points if c.task_id == task_id]
    starts = [c for c in mine if c.moment is Moment.BEFORE]
    first = (starts[-1] if latest else starts[0]) if starts else None
    if first is None:
        raise NotFound(f"task {task_id!r} has no checkpoint in this session (it never started)")
    last = mine[-1] if mine[-1].moment is Moment.AFTER else None
    return first, last


@attrs.frozen
class RollbackPlan:
    """What a rollback would do: put ``paths`` back as in ``target`` and its refs; ``conflicts``
    are paths the user changed since orch last looked, which refuse the rollback."""

    target: Checkpoint
    paths: tuple[str, ...]
    conflicts: tuple[str, ...]
    tasks: tuple[str, ...]  # the tasks undone, in order
    refs: tuple[str, ...] = ()  # ref names (and "HEAD") to set back


def plan_rollback(checkpoints: Checkpoints, session_id: str, task_id: str | None) -> RollbackPlan:
    """Plan undoing ``task_id`` and every task after it (None: the whole session).

    Changes inside attempts (before -> after) are the tasks'; changes between them and since
    the last checkpoint are the user's. A path both touched is a conflict.
    """
    points = list(checkpoints.checkpoints(session_id))
    if not points:
        raise NotFound(f"session {session_id} has no checkpoints (no task started)")
    target = points[0] if task_id is None else task_span(points, task_id)[0]
    later = [c for c in points if c.seq >= target.seq]
    ours: set[str] = set()
    theirs: set[str] = set()
    refs_ours: set[str] = set()
    refs_theirs: set[str] = set()
    now_refs = checkpoints.refs()
    for older, newer in zip(later, [*later[1:], None], strict=True):
        inside = (
            newer is not None
            and older.moment is Moment.BEFORE
            and newer.moment is Moment.AFTER
            and (older.task_id, older.attempt) == (newer.task_id, newer.attempt)
        )
        changed = {c.path for c in checkpoints.changes(older, newer)}
        (ours if inside else theirs).update(changed)
        moved = _moved_refs(older.refs, now_refs if newer is None else newer.refs)
        (refs_ours if inside else refs_theirs).update(moved)
    tasks = tuple(dict.fromkeys(c.task_id for c in later))
    # what is already as in the target (a rollback done before) needs nothing, and is no conflict
    differ = ours & {c.path for c in checkpoints.changes(target, None)}
    refs = refs_ours & _moved_refs(target.refs, now_refs)
    conflicts = sorted(differ & theirs) + sorted(f"ref {name}" for name in refs & refs_theirs)
    return RollbackPlan(target, tuple(sorted(differ)), tuple(conflicts), tasks, tuple(sorted(refs)))


def _moved_refs(before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    return {name for name in set(before) | set(after) if before.get(name) != after.get(name)}


def roll_back(checkpoints: Checkpoints, plan: RollbackPlan) -> list[str]:
    """Carry out ``plan`` (refused with CheckpointError if it has conflicts); what was put back."""
    if plan.conflicts:
        raise CheckpointError(
            "rollback refused: you changed these since the task ended: "
            + ", ".join(plan.conflicts)
            + "; commit or move your edits away first. Nothing was changed"
        )
    checkpoints.restore_files(plan.target, plan.paths)
    restored = checkpoints.restore_refs(plan.target, plan.refs) if plan.refs else []
    return [*restored, *plan.paths]
