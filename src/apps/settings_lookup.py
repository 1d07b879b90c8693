"""Where settings come from and what names their cache entry, with no settings classes loaded.

`orch status` at 1,000 tasks has a 100 ms budget, and importing ``apps.settings`` (its attrs
classes, the policies they build) costs ~60 ms of it. This module holds what finding the
config and naming its cache entry need (``find_config``, ``entry_name``), and the status view:
the few values `orch status` reads from settings (state dir, log file, config source), which
the settings cache writes beside each entry, made by the real ``Settings`` so that nothing here
repeats how they are derived.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

CONFIG_NAMES = ("orch.yaml", "orch.yml")
ENV_PREFIX = "ORCH_"
LEGACY_STATE_DIR = ".orch"
"""Where state lived before it moved out of the workspace; still used when it holds a database."""
FORMAT = "orch settings cache 2"
#: what a shell sets per command, which no setting reads (bash sets ``_`` to each command's path)
SHELL_BOOKKEEPING = frozenset({"_", "OLDPWD", "SHLVL"})
_HERE = os.path.dirname(os.path.abspath(__file__))  # noqa: PTH100, PTH120 - no Path object needed
#: the code that reads config: an entry made by another version of it is never used
_CODE = ("settings_lookup.py", "settings_cache.py", "settings.py", "config_file.py")


def find_config(explicit: str | None, cwd: Path, near: Path | None = None) -> Path | None:
    """The config file to use: ``--config``, then ``$ORCH_CONFIG``, then orch.yaml next to
    the task file (``near``: its folder), then in the current folder."""
    chosen = explicit or os.environ.get(f"{ENV_PREFIX}CONFIG")  # noqa: TID251 - as load_settings reads it
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            from orchcore.errors import ConfigError

            raise ConfigError(f"config file not found: {chosen}")
        return path
    for folder in (near, cwd):
        for name in CONFIG_NAMES:
            if folder is not None and (folder / name).is_file():
                return folder / name
    return None


def default_state_dir(project: Path) -> Path:
    """``<user state dir>/orchcore/projects/<name>-<12 hex of sha256(resolved path)>``: outside every workspace.

    platformdirs' ``user_state_dir`` (``$XDG_STATE_HOME`` or ``~/.local/state`` on Linux,
    ``~/Library/Application Support`` on macOS); the hash keeps two projects of one name apart.
    """
    import platformdirs

    resolved = project.expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:12]
    return Path(platformdirs.user_state_dir("orchcore")) / "projects" / f"{resolved.name or 'root'}-{digest}"


def legacy_state_dir(legacy: Path) -> Path | None:
    """A project's old ``.orch`` (``legacy``), resolved, when it holds a database."""
    return legacy.resolve() if (legacy / "state.db").is_file() else None


def state_dir_of(configured: Path | None, legacy: Path, workdir: Path) -> Path:
    """The state dir: ``paths.state_dir`` (``configured``) when set, else a project's old
    ``.orch`` with a database, else ``default_state_dir`` of the workspace."""
    if configured is not None:
        return configured
    found = legacy_state_dir(legacy)
    return found if found is not None else default_state_dir(workdir)


def log_file_of(configured: Path | None, state_dir: Path) -> Path:
    """orch's log: ``logging.file`` (``configured``) when set, else ``orch.log`` in the state dir."""
    return configured if configured is not None else state_dir / "orch.log"


def in_git_repository(folder: Path) -> bool:
    """Whether ``folder`` (resolved) is inside a git working tree: a ``.git`` in it or above."""
    return any((p / ".git").exists() for p in (folder, *folder.parents))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/orchcore/settings`` (``~/.cache`` without it), beside the help cache."""
    env = os.environ if environ is None else environ  # noqa: TID251 - where to cache, as XDG says
    base = env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")  # noqa: PTH111
    return Path(base) / "orchcore" / "settings"


def _code_stamps() -> list[tuple[str, int, int]]:
    stamps = []
    for name in _CODE:
        path = os.path.join(_HERE, name)  # noqa: PTH118
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


class StatusView(NamedTuple):
    """What `orch status` reads from settings, as the settings cache wrote it."""

    source: str  # the config file ("" for none): status names it
    state_dir: (
        str | None
    )  # ``paths.state_dir`` resolved, or None: ``legacy`` if it has a database, else ``default``
    legacy: str  # a project's old ``.orch`` beside the config
    workdir: str  # ``paths.workdir`` as configured (resolved when read, as Settings does)
    log_file: str | None  # ``logging.file`` resolved, or None: ``orch.log`` in the state dir
    log_level: str
    parallel: bool  # ``max_parallel`` above 1: the workspace must be in a git repository

    def state_path(self) -> Path:
        """The state dir, as ``Settings.state_dir`` finds it."""
        configured = None if self.state_dir is None else Path(self.state_dir)
        return state_dir_of(configured, Path(self.legacy), Path(self.workdir))

    def log_path(self) -> Path:
        """The log file, as ``configure_logging`` finds it."""
        return log_file_of(None if self.log_file is None else Path(self.log_file), self.state_path())

    def holds(self) -> bool:
        """What the entry's name does not cover is still as it was: parallel tasks' git repository."""
        return not self.parallel or in_git_repository(Path(self.workdir).resolve())


def entry_path(
    explicit: str | None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    near: Path | None = None,
    folder: Path | None = None,
) -> tuple[Path, Path | None, bytes | None] | None:
    """The cache entry's file for these inputs, the config file and its bytes; None when the
    config cannot be found or read (`load_settings` then says why)."""
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ  # noqa: TID251 - the key holds all of it
    try:
        path = find_config(explicit, here, near)
        config = None if path is None else path.read_bytes()
    except (OSError, ValueError):  # ConfigError is a ValueError
        return None
    folder = cache_dir(env) if folder is None else folder
    return folder / f"{entry_name(explicit, here, near, env, config)}.json", path, config


def status_view(
    explicit: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    folder: Path | None = None,
) -> StatusView | None:
    """The status view of the cache entry these inputs name, or None: no entry, one without a
    view, a damaged one, or a parallel project no longer in a git repository (the caller then
    makes the settings, which says what is wrong)."""
    found = entry_path(explicit, cwd=cwd, environ=environ, folder=folder)
    if found is None:
        return None
    try:
        with found[0].open(encoding="utf-8") as entry:
            data: Any = json.load(entry)
        fields = data["status"] if isinstance(data, dict) and data.get("format") == FORMAT else None
        if not isinstance(fields, dict) or set(fields) != set(StatusView._fields):
            return None
        view = StatusView(**fields)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    strings = all(isinstance(v, str) for v in (view.source, view.legacy, view.workdir, view.log_level))
    optional = all(v is None or isinstance(v, str) for v in (view.state_dir, view.log_file))
    if not (strings and optional and isinstance(view.parallel, bool)) or not view.holds():
        return None
    return view
