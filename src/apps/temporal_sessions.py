"""Which sessions Temporal holds, and the front ends' commands against them.

`orch run --backend temporal` writes each session it starts to ``temporal-sessions.json``
in the state dir (its id, the address, the task queue); the CLI, the webhook app and the
bot look there first, so `orch approve`, `orch status`, a webhook call work on a Temporal
session as on a SQLite one: the command goes to the session's workflow as an update (the
caller gets the new state or the refusal) and the state is read with a query.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from apps.settings import Settings
    from orchcore.ports.store import Store
    from orchcore.records import Event, Snapshot
    from orchcore.state import Command

REGISTRY = "temporal-sessions.json"


@attrs.frozen
class TemporalRef:
    """Where one session's workflow lives."""

    session_id: str
    address: str
    task_queue: str
    created_at: str = ""  # ISO-8601 UTC: the newest session, local or on Temporal, is the default

    @property
    def backend(self) -> str:
        """What `orch status` shows as the engine: the backend that holds the session."""
        return f"temporal at {self.address} (task queue {self.task_queue}, workflow orch-session-{self.session_id})"

    def sessions(self) -> Any:
        from apps.bootstrap import temporal_sessions

        return temporal_sessions(self.address, self.task_queue)


def _path(settings: Settings) -> Path:
    return Path(settings.state_dir) / REGISTRY


def _read(settings: Settings) -> list[dict[str, str]]:
    return _read_file(_path(settings))


def _read_file(path: Path) -> list[dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    return [dict(item) for item in data.get("sessions", [])]


@attrs.define
class Registry:
    """The registry of one state dir for a long-lived front end (the webhook app): its path
    found once (the state dir's lookup cost ~120 us per request) and its entries re-read only
    when the file changed, which a stat tells: :func:`remember` replaces it whole."""

    path: Path
    _seen: tuple[tuple[int, int, int], list[dict[str, str]]] | None = attrs.field(default=None, init=False)

    @classmethod
    def of(cls, settings: Settings) -> Registry:
        return cls(_path(settings))

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Registry:
        """The registry of ``state_dir``, without the settings (`orch status`'s quick path)."""
        return cls(state_dir / REGISTRY)

    def items(self) -> list[dict[str, str]]:
        """The registry's entries (not to be changed by the caller), [] without a registry."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        seen = self._seen
        if seen is not None and seen[0] == key:
            return seen[1]
        items = _read_file(self.path)  # replaced since the stat: the next call reads it again
        self._seen = (key, items)
        return items


def remember(settings: Settings, ref: TemporalRef) -> None:
    """Record that Temporal holds ``ref.session_id`` (written whole, atomically)."""
    items = [i for i in _read(settings) if i.get("session_id") != ref.session_id]
    items.append(attrs.asdict(ref))
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".temporal-", suffix=".json")
    with os.fdopen(fd, "w") as out:
        json.dump({"sessions": items}, out, indent=1)
    Path(tmp).replace(path)


def held(
    settings: Settings | None,
    session_id: str | None,
    store: Store | None = None,
    *,
    registry: Registry | None = None,
) -> TemporalRef | None:
    """The Temporal session ``session_id`` names (a unique prefix will do), or None if Temporal
    does not hold it. With no id: the newest Temporal session, if it is newer than the newest
    session of the local ``store``. ``registry``: settings' registry, kept by the caller (given,
    ``settings`` may be None)."""
    if registry is not None:
        items = registry.items()
    elif settings is not None:
        items = _read(settings)
    else:
        raise TypeError("held() needs settings or a registry")
    if session_id is None:
        if not items:
            return None
        newest = TemporalRef(**items[-1])
        local = store.sessions() if store is not None else []
        if local and newest.created_at <= local[0].created_at.isoformat():
            return None
        return newest
    found = [i for i in items if i["session_id"] == session_id] or [
        i for i in items if i["session_id"].startswith(session_id)
    ]
    return TemporalRef(**found[0]) if len(found) == 1 else None


def command(
    ref: TemporalRef, command: Command, *, task_id: str | None, text: str, source: str
) -> tuple[Snapshot, Snapshot]:
    """Send ``command`` to the session's workflow: the state before and after it."""
    sessions = ref.sessions()
    try:
        before = sessions.snapshot(ref.session_id)
        sessions.command(ref.session_id, command, task_id=task_id, text=text, source=source)
        return before, sessions.snapshot(ref.session_id)
    finally:
        sessions.close()


def snapshot(ref: TemporalRef) -> Snapshot:
    sessions = ref.sessions()
    try:
        return sessions.snapshot(ref.session_id)  # type: ignore[no-any-return]
    finally:
        sessions.close()


def events(ref: TemporalRef) -> list[Event]:
    """Every event of the session, as its workflow keeps them."""
    sessions = ref.sessions()
    try:
        return sessions.events(ref.session_id)  # type: ignore[no-any-return]
    finally:
        sessions.close()
