"""How a task file's bytes become text: UTF-8, or UTF-16/32 when a byte-order mark says so.

Pure: the caller reads the bytes. Windows editors save "Unicode" as UTF-16 with a BOM and
UTF-8 with one; anything else that is not UTF-8 (cp1252, Latin-1) is reported, never guessed.
"""

from __future__ import annotations

import codecs

from orchcore.errors import Problem, TaskFileError

# longest first: the UTF-32-LE mark starts with the UTF-16-LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_EXPECTED = "expected UTF-8 text (or UTF-16 with a byte-order mark); save the file as UTF-8"


def decode_task_file(data: bytes, filename: str) -> str:
    """The text of a task file's bytes; TaskFileError naming the line of the first bad byte."""
    codec, start = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            codec, start = name, len(bom)
            break
    body = data[start:]
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        nul = body.find(b"\x00", 0, exc.start) if codec == "utf-8" else -1
        if nul >= 0:
            raise TaskFileError([_nul_problem(body[:nul].decode(codec), filename)]) from None
        before = body[: exc.start].decode(codec, errors="replace")
        what = " ".join(f"0x{b:02x}" for b in body[exc.start : exc.end][:4])
        name = "UTF-8" if codec == "utf-8" else codec.upper()
        line, column = _position(before)
        message = f"bytes {what} at line {line}, column {column} are not valid {name}; {_EXPECTED}"
        raise TaskFileError([Problem(filename, line, "encoding", message)]) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise TaskFileError([_nul_problem(text[:nul], filename)])
    return text


def _position(before: str) -> tuple[int, int]:
    """Line and column (from 1) of the character after ``before``."""
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _nul_problem(before: str, filename: str) -> Problem:
    line, column = _position(before)
    return Problem(
        filename,
        line,
        "encoding",
        f"found a NUL byte at line {line}, column {column}: the file looks like UTF-16 without a "
        f"byte-order mark, or is not text; {_EXPECTED}",
    )


def text_problem(text: str, filename: str) -> Problem | None:
    """A lone surrogate in already-decoded text (no file can hold one), located; or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        return Problem(filename, line, "encoding", f"found a lone surrogate {text[exc.start]!a}, {_EXPECTED}")
    return None
