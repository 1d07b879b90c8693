"""The `orch` console script: `orch --help` and `orch COMMAND --help` answered from a cache of
what the real typer app printed for the same question, else the app itself.

Why: importing typer and building the command tree is most of a cold `--help` (~70 of ~85 ms),
yet the text changes only when a file it was made from, an installed package, Python or the
terminal changes. A cache entry is written only after the app itself printed it (exit 0,
nothing on stderr) and names every non-stdlib file that was loaded to make it; it is shown
only while each of those files, every ``sys.path`` folder and every input of the terminal's
width and colours are as they were. Nothing here imports typer or orch's machinery.
"""

# os.path, not pathlib: importing pathlib would cost more than the cached answer itself
# ruff: noqa: PTH103, PTH105, PTH108, PTH111, PTH116, PTH118, PTH119, PTH120, PTH123

from __future__ import annotations

import gc
import hashlib
import os
import sys

TYPE_CHECKING = False  # not from typing: on the cached path only gc, os, sys and hashlib are imported
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO, Any

HELP = "--help"
HEADER = "orch help cache 1\n"  # changes with the entry layout
END_OF_FILES = "--\n"
#: what typer, click or rich read to lay out and colour help text
TERMINAL_ENV = (
    "COLUMNS",
    "LINES",
    "TERM",
    "TERMINAL_WIDTH",
    "NO_COLOR",
    "FORCE_COLOR",
    "COLORTERM",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
    "PYTHONIOENCODING",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
)
MAX_ENTRIES = 64  # each terminal width is an entry of its own: keep the folder small


def cacheable(argv: Sequence[str]) -> bool:
    """True for `orch --help` and `orch COMMAND --help`, the questions whose answer is fixed text."""
    return list(argv) == [HELP] or (len(argv) == 2 and argv[1] == HELP and argv[0].isalpha())


def cache_dir(environ: Any = os.environ) -> str:  # noqa: TID251 - where to cache, as XDG says
    """Where help texts are kept: ``$XDG_CACHE_HOME/orchcore/help`` (``~/.cache`` without it)."""
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    elif sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    else:
        base = environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "orchcore", "help")


def _stamp(path: str) -> tuple[int, int] | None:
    """What says a file or folder changed: its modification time and size (None if gone)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def _terminal() -> tuple[Any, ...]:
    """Every input of the help layout besides the files: as shutil.get_terminal_size reads it."""
    stdout = sys.__stdout__
    try:
        size: tuple[int, int] | None = tuple(os.get_terminal_size(stdout.fileno()))  # type: ignore[union-attr,assignment]
    except (AttributeError, ValueError, OSError):
        size = None
    try:
        tty = stdout.isatty()  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        tty = False
    terminal_env = tuple((name, os.environ.get(name)) for name in TERMINAL_ENV)  # noqa: TID251 - click reads them
    return size, tty, terminal_env


def key(argv: Sequence[str]) -> str:
    """The entry's name: the question, the program, Python, the terminal and every import folder."""
    folders = tuple((p, _stamp(p)) for p in sys.path if p)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "orch"
    asked = (HEADER, tuple(argv), prog, sys.version, sys.executable, _terminal(), folders)
    return hashlib.sha256(repr(asked).encode()).hexdigest()[:32]


def lookup(folder: str, name: str) -> str | None:
    """The text of entry ``name`` if every file it was made from is unchanged, else None."""
    try:
        with open(os.path.join(folder, name), encoding="utf-8", newline="") as found:
            if found.readline() != HEADER:
                return None
            for line in iter(found.readline, END_OF_FILES):
                mtime, size, path = line.rstrip("\n").split(" ", 2)
                if not line or _stamp(path) != (int(mtime), int(size)):
                    return None
            return found.read()
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # unreadable or damaged: the app answers and the entry is written again


def made_from(stdlib: str = os.path.dirname(os.__file__)) -> list[tuple[str, tuple[int, int]]]:
    """Every loaded module file outside the standard library, with its stamp: what help text
    was made from (orch's CLI modules, typer, its click)."""
    files = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and not path.startswith(stdlib):
            stamp = _stamp(path)
            if stamp is not None and "\n" not in path:
                files.append((path, stamp))
    return sorted(files)


def store(folder: str, name: str, text: str, files: list[tuple[str, tuple[int, int]]]) -> None:
    """Write entry ``name`` atomically (a reader sees the old entry or the new one), keeping at
    most MAX_ENTRIES; a cache that cannot be written is no error."""
    try:
        os.makedirs(folder, exist_ok=True)
        entries = sorted(os.scandir(folder), key=lambda e: e.stat().st_mtime_ns)
        for old in entries[: max(0, len(entries) - MAX_ENTRIES + 1)]:
            os.unlink(old.path)
        partial = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
        with open(partial, "w", encoding="utf-8", newline="") as out:
            out.write(HEADER)
            out.writelines(f"{mtime} {size} {path}\n" for path, (mtime, size) in files)
            out.write(END_OF_FILES + text)
        os.replace(partial, os.path.join(folder, name))
    except OSError:
        return


class _Tee:
    """A text stream that passes everything to ``stream`` and keeps a copy, so the app prints
    exactly as it would (same terminal, same colours) while its words are recorded."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        written = self.stream.write(text)  # first: click probes streams with write(b"")
        self.parts.append(text)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def run_recording(app: Callable[[], object], argv: Sequence[str], folder: str) -> None:
    """Run ``app`` as usual; if it printed help and succeeded, cache what it printed."""
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    code: object = 0
    try:
        app()
    except SystemExit as done:
        code = done.code
        raise
    finally:
        sys.stdout, sys.stderr = out.stream, err.stream
        if code in (0, None) and not err.parts and out.parts:
            store(folder, key(argv), "".join(out.parts), made_from())


def main() -> None:
    """Console-script entry point."""
    try:
        _main()
    finally:
        # what is left is freed by the exit: Python's last collections would otherwise walk every
        # object of a run's ~1,000 modules (about 100 ms after `orch run`, measured)
        gc.freeze()


def _main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "status":  # the plain forms answered without typer (apps.cli.status)
        from apps.cli.status import quick

        code = quick(argv[1:])
        if code is not None:
            sys.exit(code)
    if not cacheable(argv):
        from apps.cli.main import main as run

        run()
        return
    folder = cache_dir()
    text = lookup(folder, key(argv))
    if text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from apps.cli.main import main as run

    run_recording(run, argv, folder)
