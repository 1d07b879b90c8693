"""Text from a task file, an agent or a store made safe to show on a terminal.

A title can hold ESC sequences (colours, cursor moves, OSC 8 links, window titles), C1
controls such as the 8-bit CSI, carriage returns that overwrite a line, or bidi overrides
that reorder it. Each such character is shown as its escape (``\\x1b``), so nothing from
the input can drive the terminal and the reader still sees that something odd is there.
"""

from __future__ import annotations

import re

# C0 but tab and newline, DEL, C1, bidi marks and overrides, lone surrogates
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_OR_NEWLINE = re.compile(_UNSAFE.pattern[:-1] + r"\n]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def terminal_safe(text: str, *, one_line: bool = False) -> str:
    """``text`` with every character that could control a terminal shown as its escape.

    ``one_line`` escapes newlines too, so a value cannot start a line of its own (every line
    about a problem starts with FILE:LINE).
    """
    return (_UNSAFE_OR_NEWLINE if one_line else _UNSAFE).sub(_escape, text)
