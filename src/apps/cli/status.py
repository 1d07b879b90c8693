"""`orch status`: what it reads and prints (for the typer command in main.py), and `quick`, the
same answer without typer for the plain spellings of the command.

Why `quick`: importing typer and building the command tree is ~50 of the ~250 ms that `orch
status` took at 1,000 tasks (target 100). The console script hands `orch status ...` here
first; this reads only the forms it is sure of (``[SESSION] [-s ID] [--json] [-c FILE]``, each
at most once) and gathers everything before printing a byte. Any other spelling, ``--help``,
or any error at all goes back to the typer command, which runs from the start and says what
is wrong exactly as before (status only reads, so running it again changes nothing).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.temporal_sessions import Registry
    from orchcore.ports.store import Store
    from orchcore.records import Event, Snapshot

INTERRUPTED = 130
#: options of `orch status` that take a value: long name, short name -> the parameter
VALUE_OPTIONS = {"--session": "session", "-s": "session", "--config": "config", "-c": "config"}


def files_by_task(snap: Snapshot, events: Sequence[Event]) -> dict[str, str]:
    """Each task's files line for its latest attempt, as the live watch saw them (tasks with none:
    left out). The events are sorted by attempt first: one pass, not one per task."""
    from orchcore.live_files import files_line
    from orchcore.records import EventKind

    by_attempt: dict[tuple[str | None, int | None], list[Event]] = {}
    for event in events:
        if event.kind is EventKind.FILES:
            by_attempt.setdefault((event.task_id, event.attempt), []).append(event)
    found = {}
    for task_id, run in snap.runs.items():
        attempt_events = by_attempt.get((task_id, run.attempt)) if run.attempt else None
        line = files_line(attempt_events, task_id, run.attempt) if attempt_events else None
        if line is not None:
            found[task_id] = line
    return found


def gather(store: Store, source: str, session: str | None, *, json_out: bool) -> Callable[[], None]:
    """Read all `orch status` shows of ``session`` (None: the newest) from ``store`` (``source``:
    the config file); the returned call prints it. Everything that can fail (no such session, a
    broken store) fails here, before output."""
    from apps.cli import render
    from orchcore.records import EventKind
    from orchcore.safety.events import recorded_safety_events
    from orchcore.sandbox import sandbox_line
    from orchcore.service import resolve_session
    from orchcore.supervision_view import supervision_by_task

    sid = resolve_session(store, session)
    snap = store.load(sid)
    shown = (EventKind.SAFETY, EventKind.SANDBOX, EventKind.SUPERVISION, EventKind.FILES)
    events = store.events(sid, kinds=shown)
    newest = store.sessions()
    shown_args: dict[str, Any] = {
        "json_out": json_out,
        "outbox": store.undelivered(sid),
        "safety": recorded_safety_events(events),
        "newest": bool(newest) and newest[0].id == sid,
        "config": source,
        "sandbox": sandbox_line(events),
        "supervision": supervision_by_task(events),
        "files": files_by_task(snap, events),
    }
    engine = store.lease_holder(sid)
    return render.prepared_status(snap, engine, **shown_args)


def parse(argv: Sequence[str]) -> dict[str, Any] | None:
    """``session``, ``config`` and ``json_out`` from the words after `orch status`, or None for
    anything but the plain forms (typer then reads them, and says what is wrong if anything)."""
    found: dict[str, Any] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--json":
            if "json_out" in found:
                return None
            found["json_out"] = True
            continue
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if name not in VALUE_OPTIONS or not (eq or words):
                return None
            value = value if eq else words.pop(0)
        elif word in VALUE_OPTIONS:
            if not words:
                return None
            name, value = word, words.pop(0)
        elif word[:2] in VALUE_OPTIONS:  # -sID, -cFILE
            name, value = word[:2], word[2:]
        elif word.startswith("-") or not word or "positional" in found:
            return None
        else:
            found["positional"] = word
            continue
        key = VALUE_OPTIONS[name]
        if key in found or not value or value.startswith(("-", "=")):
            return None
        found[key] = value
    positional, option = found.pop("positional", None), found.get("session")
    if positional is not None and option is not None and positional != option:
        return None  # two sessions: the typer command says so
    found["session"] = positional if positional is not None else option
    found.setdefault("json_out", False)
    return found


def quick(argv: Sequence[str]) -> int | None:
    """Answer `orch status ARGV` without typer: the exit code, or None to let the typer command
    answer (an unusual spelling, or an error it reports)."""
    asked = parse(argv)
    if asked is None:
        return None
    try:
        opened = _open(asked.get("config"))
    except Exception:  # noqa: BLE001 - the typer command reports it, as it always did
        return None
    store, source, registry, close = opened
    try:
        from apps.temporal_sessions import held

        if held(None, asked["session"], store, registry=registry) is not None:
            return None  # a Temporal workflow holds it: the typer command asks the workflow
        try:
            show = gather(store, source, asked["session"], json_out=asked["json_out"])
        except Exception:  # noqa: BLE001 - likewise: not found, a busy or broken store, ...
            return None
        try:
            show()
        except BrokenPipeError:  # `orch status | head`: quiet, as click ends it
            _quiet_stdout()
            return 1
    except KeyboardInterrupt:
        print("\norch: interrupted. Nothing was changed.", file=sys.stderr)
        return INTERRUPTED
    finally:
        close()
    return 0


def _open(config: str | None) -> tuple[Store, str, Registry, Callable[[], None]]:
    """The store, config source and Temporal registry `orch status` reads, and what closes them.

    From the settings cache's status view when it has one (no settings classes, no runtime:
    ~60 ms less); else from the settings and the runtime, as every other command."""
    from apps.settings_lookup import status_view
    from apps.temporal_sessions import Registry

    view = status_view(config)
    if view is None:
        from apps.bootstrap import build_runtime
        from apps.logs import configure_logging
        from apps.settings_cache import cached_settings

        settings = cached_settings(config)
        configure_logging(settings, read_only=True)
        rt = build_runtime(settings, read_only=True)
        return rt.store, settings.source, Registry.of(settings), rt.close
    from apps.bootstrap import read_only_store
    from apps.logs import log_to

    state = view.state_path()
    log_to(view.log_path(), view.log_level, read_only=True)
    store = read_only_store(state / "state.db")
    return store, view.source, Registry.in_state_dir(state), store.close


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is silent."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
