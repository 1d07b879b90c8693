"""Which path the sandbox hides a tool call names: a read of it sees nothing, and orch says so.

Pure. A hidden path reads as an empty folder or file inside the sandbox, so the
call gets no error to report; the stream guard asks :func:`hidden_path_among`
for each tool call and records a ``sandbox`` refusal ("hidden by the sandbox:
PATH"). ``~`` and ``$HOME`` are the policy's HOME; relative paths are under the
workspace. Shell commands are read word by word, and quoted or embedded absolute
paths inside a word (``python3 -c "open('/h/.ssh/k')"``) count too.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence

from orchcore.safety.events import SafetyEvent, SafetyLayer, refusal
from orchcore.sandbox import SandboxPolicy, under

_EMBEDDED = re.compile(r"(?:~|\$\{?HOME\}?)?/[^\s'\"`;|&<>()]+|(?<![\w/])~(?=[\s'\"`;|&<>()]|$)")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")


def _words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: the plain words still name paths
        return command.split()


def _candidates(command: str) -> Iterator[str]:
    for word in _words(command):
        yield from word.split("=") if "=" in word else (word,)
        yield from _EMBEDDED.findall(word)
        for single, double in _QUOTED.findall(word):
            yield single or double


def resolve(path: str, workdir: str, home: str | None) -> str | None:
    """``path`` as an absolute normalised path (``~``/``$HOME`` under ``home``); None if it cannot be."""
    for prefix in ("~", "$HOME", "${HOME}"):
        if path == prefix or path.startswith(prefix + "/"):
            if home is None:
                return None
            path = home + path[len(prefix) :]
            break
    if not path or path.startswith(("~", "$", "-")):
        return None
    return posixpath.normpath(posixpath.join(workdir, path))


def hidden_by(sandbox: SandboxPolicy, path: str) -> str | None:
    """The hidden path that hides absolute ``path`` (itself or a folder of it); None if it is visible."""
    if any(under(path, shown) for shown in sandbox.readable):
        return None
    return next((h for h in sandbox.hidden if under(path, h)), None)


def hidden_path_among(
    sandbox: SandboxPolicy, paths: Sequence[str], command: str | None, workdir: str
) -> str | None:
    """The first path hidden by ``sandbox`` among ``paths`` and the words of ``command``; None if none is."""
    named = list(paths)
    if command is not None:
        named += list(_candidates(command))
    for path in named:
        absolute = resolve(path, workdir, sandbox.home)
        if absolute is not None and hidden_by(sandbox, absolute) is not None:
            return absolute
    return None


def hidden_path_refusal(
    sandbox: SandboxPolicy, paths: Sequence[str], command: str | None, workdir: str, shown: str
) -> SafetyEvent | None:
    """A ``sandbox`` refusal "hidden by the sandbox: PATH" for a tool call (``shown`` as its command)
    naming a hidden path among its ``paths`` or its shell ``command``, or None."""
    path = hidden_path_among(sandbox, paths, command, workdir)
    if path is None:
        return None
    return refusal(SafetyLayer.SANDBOX, shown, f"hidden by the sandbox: {path}")
