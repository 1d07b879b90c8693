"""Telling a question from an answer in an agent's last message."""

from __future__ import annotations

_MAX_QUESTION = 2000


def question_in(text: str) -> str | None:
    """The question an agent's final message ends with, or None.

    Conservative on purpose: only a last paragraph that ends with a question mark
    counts ("Should the email be unique per tenant?"), so a report that merely
    mentions a question does not stop the session.
    """
    paragraphs = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    last = paragraphs[-1]
    if not last.rstrip("*_` )").endswith("?"):
        return None
    return last[:_MAX_QUESTION]
