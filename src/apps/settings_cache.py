"""Settings as `load_settings` made them last time, when nothing they were made from changed:
commands that open the store (`orch status`, `approve`, `resume`) skip YAML, the checks and
cattrs (about 40 of their ~250 ms at 1,000 tasks).

An entry is named by everything `load_settings` reads: the ``--config`` given, the current and
task-file folders, the whole environment, the chosen config file's bytes, Python and the code
that reads config (this file, settings.py, config_file.py, settings_lookup.py, which names
entries without the settings classes). It is kept as tagged JSON, not
pickle, so a damaged or planted file can only fail to load (then the settings are made afresh);
it is written 0600 in a 0700 folder, and only when it reads back equal to what it holds.
A ``max_parallel`` above 1 also needs the workspace inside a git repository, which the name does
not cover: an entry that has one is used only while that still holds (a few ``stat`` calls), else
the settings are made afresh and say what is wrong. Settings whose executor kind comes from a
plugin (it asks the installed packages) are never cached. Errors are never cached: a bad config
is reported in full every time.

Beside the settings, each entry holds a status view (``StatusView``): the state dir, log file
and config source, which `orch status` reads through apps.settings_lookup without importing
the settings classes at all.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from apps.settings import EXECUTOR_NEEDS, Settings, load_settings
from apps.settings_lookup import (
    FORMAT,
    LEGACY_STATE_DIR,
    StatusView,
    cache_dir,
    entry_name,
    entry_path,
    in_git_repository,
)

__all__ = ["FORMAT", "NotCacheable", "cache_dir", "cached_settings", "decode", "encode", "entry_name"]
MAX_ENTRIES = 32
#: modules whose attrs classes and enums an entry may name (nothing else is ever imported)
ALLOWED_MODULES = ("apps.settings", "orchcore.")


class NotCacheable(ValueError):
    """A value the entry format cannot hold exactly."""


def encode(value: object) -> object:
    """``value`` as JSON that `decode` turns back into an equal value of the same types."""
    if isinstance(value, enum.Enum):  # first: a StrEnum is a str too
        return {"enum": _name(type(value)), "value": encode(value.value)}
    if value is None or type(value) in (bool, str, int, float):
        return value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    cls: Any = type(value)
    if attrs.has(cls):
        fields = attrs.fields(cls)
        if any(not f.init for f in fields):
            raise NotCacheable(f"{_name(type(value))} has fields set after init")
        return {
            "attrs": _name(type(value)),
            "fields": {f.alias: encode(getattr(value, f.name)) for f in fields},
        }
    raise NotCacheable(f"cannot keep a {type(value).__name__}")


def decode(data: object) -> Any:
    """The value `encode` made ``data`` from; ValueError (or TypeError) if ``data`` is not one."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "tuple" in data:
        return tuple(decode(v) for v in data["tuple"])
    if "dict" in data:
        return {decode(k): decode(v) for k, v in data["dict"]}
    if "decimal" in data:
        return Decimal(data["decimal"])
    if "enum" in data:
        return _type(data["enum"], enum.Enum)(decode(data["value"]))
    if "attrs" in data:
        return _type(data["attrs"], None)(**{k: decode(v) for k, v in data["fields"].items()})
    raise ValueError(f"not an entry value: {sorted(data)}")


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _type(name: str, base: type | None) -> Any:
    """The enum or attrs class ``name`` (module:qualname) of orch's own settings, nothing else."""
    module, _, qualname = name.partition(":")
    if not (module == ALLOWED_MODULES[0] or module.startswith(ALLOWED_MODULES[1])) or "." in qualname:
        raise ValueError(f"not a settings type: {name}")
    found = getattr(importlib.import_module(module), qualname)
    ok = issubclass(found, base) if base is not None else isinstance(found, type) and attrs.has(found)
    if not ok:
        raise ValueError(f"not a settings type: {name}")
    return found


def _cacheable(made: Settings) -> bool:
    return made.agent.executor.kind in EXECUTOR_NEEDS


def _still_holds(made: Settings) -> bool:
    """What the entry's name does not cover is still as it was: parallel tasks' git repository."""
    return made.max_parallel <= 1 or in_git_repository(made.path(made.paths.workdir).resolve())


def _same(a: Settings, b: Settings) -> bool:
    """Equal, of the same types throughout (repr tells 1 from True and a list from a tuple)."""
    return a == b and repr(a) == repr(b) and (a.source, a.base_dir) == (b.source, b.base_dir)


def _read(path: Path) -> Settings | None:
    try:
        with path.open(encoding="utf-8") as found:
            data = json.load(found)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        made = decode(data["settings"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError, RecursionError):
        return None  # missing, damaged or from elsewhere: made afresh and written again
    return made if isinstance(made, Settings) else None


def status_view_of(made: Settings) -> StatusView:
    """What `orch status` reads of ``made`` (see apps.settings_lookup), made by Settings itself."""
    return StatusView(
        source=made.source,
        state_dir=str(made.path(made.paths.state_dir)) if made.paths.state_dir else None,
        legacy=str(Path(made.base_dir) / LEGACY_STATE_DIR),
        workdir=str(made.path(made.paths.workdir)),
        log_file=str(made.path(made.logging.file)) if made.logging.file else None,
        log_level=made.logging.level,
        parallel=made.max_parallel > 1,
    )


def _write(folder: Path, name: str, made: Settings) -> None:
    """Write the entry atomically, 0600 in a 0700 folder, keeping at most MAX_ENTRIES."""
    try:
        view = status_view_of(made)._asdict()
        text = json.dumps({"format": FORMAT, "settings": encode(made), "status": view})
    except (NotCacheable, TypeError, ValueError):
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        entries = sorted(os.scandir(folder), key=lambda e: e.stat().st_mtime_ns)
        for old in entries[: max(0, len(entries) - MAX_ENTRIES + 1)]:
            os.unlink(old.path)  # noqa: PTH108
        partial = folder / f".{name}.{os.getpid()}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        partial.replace(folder / f"{name}.json")
    except OSError:
        return  # a cache that cannot be written is no error


def _unchanged(path: Path | None, config: bytes | None) -> bool:
    """Whether the config file still holds what the entry's name was made from."""
    try:
        return (None if path is None else path.read_bytes()) == config
    except OSError:
        return False


def cached_settings(
    explicit: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    near: Path | None = None,
    folder: Path | None = None,
) -> Settings:
    """What ``load_settings(explicit, cwd=, environ=, near=)`` returns, from the cache when every
    input is as it was; ConfigError exactly as `load_settings` raises it."""
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ  # noqa: TID251 - the key holds all of it
    found_entry = entry_path(explicit, cwd=here, environ=env, near=near, folder=folder)
    if found_entry is None:
        return load_settings(explicit, cwd=here, environ=env, near=near)  # it says what is wrong
    entry, path, config = found_entry
    found = _read(entry)
    if found is not None and _still_holds(found):
        return found
    made = load_settings(explicit, cwd=here, environ=env, near=near)
    if _cacheable(made) and _unchanged(path, config):
        _write(entry.parent, entry.stem, made)
        again = _read(entry)
        if again is not None and not _same(again, made):
            entry.unlink(missing_ok=True)  # would not read back the same: never kept
    return made
