"""The Summarizer port: a language model that writes a short summary of facts it is given
(the day's report, first). Advice, never required: an adapter that cannot answer returns
``SummaryUnavailable`` with the reason and raises nothing, and the caller goes on without."""

from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen
class SummaryRequest:
    """What to summarise: instructions (``system``) and the facts (``prompt``), both plain text."""

    system: str
    prompt: str


@attrs.frozen
class Summary:
    """The model's text (markdown) and which model wrote it."""

    text: str
    model: str = ""


@attrs.frozen
class SummaryUnavailable:
    """No summary: why (shown in the report), and what the user can do about it."""

    reason: str
    hint: str = ""


class Summarizer(Protocol):
    """Writes summaries; ``summarize`` never raises for a model that cannot answer."""

    def summarize(self, request: SummaryRequest) -> Summary | SummaryUnavailable:
        """A summary of ``request.prompt``, or why there is none."""
        ...
