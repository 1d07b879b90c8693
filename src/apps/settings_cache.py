"""Settings as `load_settings` made them last time, when nothing they were made from changed:
commands that open the store (`orch status`, `approve`, `resume`) skip YAML, the checks and
cattrs (about 40 of their ~250 ms at 1,000 tasks).

An entry is named by everything `load_settings` reads: the ``--config`` given, the current and
task-file folders, the whole environment, the chosen config file's bytes, Python and the code
that reads config (this file, settings.py, config_file.py). It is kept as tagged JSON, not
pickle, so a damaged or planted file can only fail to load (then the settings are made afresh);
it is written 0600 in a 0700 folder, and only when it reads back equal to what it holds.
A ``max_parallel`` above 1 also needs the workspace inside a git repository, which the name does
not cover: an entry that has one is used only while that still holds (a few ``stat`` calls), else
the settings are made afresh and say what is wrong. Settings whose executor kind comes from a
plugin (it asks the installed packages) are never cached. Errors are never cached: a bad config
is reported in full every time.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import json
import os
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from apps import settings
from apps.settings import EXECUTOR_NEEDS, Settings, find_config, in_git_repository, load_settings

FORMAT = "orch settings cache 1"
MAX_ENTRIES = 32
#: what a shell sets per command, which no setting reads (bash sets ``_`` to each command's path)
SHELL_BOOKKEEPING = frozenset({"_", "OLDPWD", "SHLVL"})
#: modules whose attrs classes and enums an entry may name (nothing else is ever imported)
ALLOWED_MODULES = ("apps.settings", "orchcore.")


class NotCacheable(ValueError):
    """A value the entry format cannot hold exactly."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/orchcore/settings`` (``~/.cache`` without it), beside the help cache."""
    env = os.environ if environ is None else environ  # noqa: TID251 - where to cache, as XDG says
    base = env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")  # noqa: PTH111
    return Path(base) / "orchcore" / "settings"


def _code_stamps() -> list[tuple[str, int, int]]:
    stamps = []
    here = str(sys.modules[__name__].__file__)
    config_file = os.path.join(os.path.dirname(str(settings.__file__)), "config_file.py")  # noqa: PTH118, PTH120 - not imported: a miss imports it
    for path in (here, str(settings.__file__), config_file):
        found = os.stat(path)  # noqa: PTH116 - a stat, no Path object needed
        stamps.append((path, found.st_mtime_ns, found.st_size))
    return stamps


def entry_name(
    explicit: str | None, cwd: Path, near: Path | None, environ: Mapping[str, str], config: bytes | None
) -> str:
    """The entry's name: a digest of every input of `load_settings`."""
    asked = (
        FORMAT,
        explicit,
        str(cwd),
        None if near is None else str(near),
        sorted((k, v) for k, v in environ.items() if k not in SHELL_BOOKKEEPING),
        None if config is None else hashlib.sha256(config).hexdigest(),
        sys.version,
        _code_stamps(),
    )
    return hashlib.sha256(repr(asked).encode("utf-8", "surrogateescape")).hexdigest()[:32]


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


def _write(folder: Path, name: str, made: Settings) -> None:
    """Write the entry atomically, 0600 in a 0700 folder, keeping at most MAX_ENTRIES."""
    try:
        text = json.dumps({"format": FORMAT, "settings": encode(made)})
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
    path = find_config(explicit, here, near)
    try:
        config = None if path is None else path.read_bytes()
    except OSError:
        return load_settings(explicit, cwd=here, environ=env, near=near)  # it says what is wrong
    folder = cache_dir(env) if folder is None else folder
    name = entry_name(explicit, here, near, env, config)
    found = _read(folder / f"{name}.json")
    if found is not None and _still_holds(found):
        return found
    made = load_settings(explicit, cwd=here, environ=env, near=near)
    if _cacheable(made) and _unchanged(path, config):
        _write(folder, name, made)
        again = _read(folder / f"{name}.json")
        if again is not None and not _same(again, made):
            (folder / f"{name}.json").unlink(missing_ok=True)  # would not read back the same: never kept
    return made
