"""Live file tracking, pure: the changes a watcher saw during an attempt become one event, and a
change to a forbidden path is flagged in it the moment it is seen.

The checkpoint comparison after the attempt stays the authoritative list of what changed (the
supervisor's evidence); this is what a human sees while the agent works. Forbidden paths are
the supervisor's ``forbidden`` globs (``**/migrations/**`` by default): flagged, not stopped —
the supervisor stops the attempt for review when it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from orchcore.ports.file_watch import ChangeKind, SeenChange
from orchcore.records import Event, EventKind, JsonObject, JsonValue

SHOWN = 5
"""How many of an attempt's latest changes a status line names."""


def files_event(
    changes: Sequence[SeenChange], task_id: str, attempt: int, at: datetime, forbidden: Sequence[str]
) -> Event | None:
    """The FILES event for ``changes`` seen together (None when there are none)."""
    if not changes:
        return None
    from orchcore.supervise.paths import matching  # status lines need no glob matching

    flagged = matching((c.path for c in changes), forbidden)
    data: JsonObject = {"changes": [dict(c.as_data()) for c in changes]}
    if flagged:
        data["forbidden"] = list(flagged)
    return Event(EventKind.FILES, at, task_id, attempt, data)


_MARKS = {ChangeKind.ADDED.value: "+", ChangeKind.MODIFIED.value: "~", ChangeKind.DELETED.value: "-"}


def _changes(event: Event) -> Iterable[Mapping[str, JsonValue]]:
    found = event.data.get("changes")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def files_line(events: Iterable[Event], task_id: str, attempt: int) -> str | None:
    """What a status line says about an attempt's files so far: ``3 files: +a.py ~b.py -c.txt``,
    with the forbidden ones flagged; None when none changed (or none were watched)."""
    latest: dict[str, str] = {}
    forbidden: set[str] = set()
    for event in events:
        if event.kind is not EventKind.FILES or event.task_id != task_id or event.attempt != attempt:
            continue
        for change in _changes(event):
            path, kind = change.get("path"), change.get("kind")
            if isinstance(path, str) and isinstance(kind, str):
                before = latest.pop(path, None)
                if before == ChangeKind.ADDED.value and kind == ChangeKind.DELETED.value:
                    continue  # made and removed within the attempt: nothing left of it
                added = before == ChangeKind.ADDED.value and kind == ChangeKind.MODIFIED.value
                latest[path] = ChangeKind.ADDED.value if added else kind
        flagged = event.data.get("forbidden")
        if isinstance(flagged, list):
            forbidden.update(p for p in flagged if isinstance(p, str))
    if not latest:
        return None
    shown = [f"{_MARKS.get(kind, '?')}{path}" for path, kind in list(latest.items())[-SHOWN:]]
    more = f" (+{len(latest) - SHOWN} more)" if len(latest) > SHOWN else ""
    count = f"{len(latest)} file{'s' if len(latest) != 1 else ''}"
    line = f"{count}: {' '.join(shown)}{more}"
    if forbidden:
        line += f"; ⚑ forbidden: {', '.join(sorted(forbidden))}"
    return line
