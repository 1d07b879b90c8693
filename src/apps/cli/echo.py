"""One line out, as ``typer.echo`` (click's ``echo``) writes it, without importing typer: the
renderers use it so that `orch status` can answer without loading typer at all (~50 ms)."""

from __future__ import annotations

import re
import sys

_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # the codes click strips when not on a terminal


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a stream that cannot say is no terminal, as click has it
        return False


def echo(message: str = "", *, err: bool = False) -> None:
    """Write ``message`` and a newline to stdout (stderr with ``err``), flushed; styling codes
    are removed when the stream is no terminal, as click does."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # no stream attached (pythonw): nothing to write to
        return
    text = message + "\n"
    if not _isatty(stream):
        text = _ANSI.sub("", text)
    stream.write(text)
    stream.flush()
