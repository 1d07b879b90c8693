"""The secret scanner over added lines: finds credentials in any surrounding text, never shows them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchcore.supervise.deliverables import placeholder_reason
from orchcore.supervise.leaks import leaks_in_line

_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
_tokens = st.one_of(
    st.text(_ALNUM.upper()[:24] + "234567", min_size=16, max_size=16).map(lambda s: "AKIA" + s.upper()),
    st.text(_ALNUM, min_size=36, max_size=40).map(lambda s: "ghp_" + s),
    st.text(_ALNUM, min_size=40, max_size=48).map(lambda s: "sk-ant-api03-" + s),
    st.text(_ALNUM, min_size=24, max_size=30).map(lambda s: "sk_live_" + s),
)
_around = st.text(
    st.characters(whitelist_categories=("L", "N", "Zs"), whitelist_characters="=:(),[]{}"), max_size=40
)


def test_a_token_in_a_known_format_is_found_wherever_it_sits_and_never_shown() -> None:
    @given(_around, _tokens, _around)
    def check(before: str, token: str, after: str) -> None:
        line = f'{before} "{token}" {after}'
        found = leaks_in_line("src/x.py", 7, line)
        assert found, line
        assert all(token not in leak.text and token[5:] not in leak.text for leak in found)
        assert found[0].text.startswith("src/x.py:7: ")

    check()


def test_the_scanners_never_raise_on_any_text() -> None:
    @given(st.text(max_size=400), st.sampled_from(["a.py", "a.ts", "a.md", "a.rs"]))
    def check(text: str, path: str) -> None:
        leaks_in_line(path, 1, text)
        placeholder_reason(path, text)

    check()
