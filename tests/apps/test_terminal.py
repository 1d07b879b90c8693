"""What the CLI prints from a task file, an agent or the store cannot drive the terminal."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from apps.cli.terminal import terminal_safe

_CONTROLLING = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_any_text = st.text(st.characters(codec=None, exclude_categories=()))


@given(_any_text)
def test_no_controlling_character_survives(text: str) -> None:
    safe = terminal_safe(text)
    assert not _CONTROLLING.search(safe)
    assert safe.count("\n") == text.count("\n")


@given(_any_text)
def test_one_line_text_has_no_line_break(text: str) -> None:
    assert "\n" not in terminal_safe(text, one_line=True)


@given(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs"))))
def test_printable_text_is_left_as_it_is(text: str) -> None:
    assert terminal_safe(text) == text


def test_an_escape_sequence_is_shown_as_text() -> None:
    assert terminal_safe("a\x1b[31mred\x9b2J\u202eb\r") == r"a\x1b[31mred\x9b2J\u202eb\r"
