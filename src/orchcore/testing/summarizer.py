"""A Summarizer fake for tests: answers from a script, and records what it was asked."""

from __future__ import annotations

import attrs

from orchcore.ports.summarizer import Summary, SummaryRequest, SummaryUnavailable


@attrs.define
class ScriptedSummarizer:
    """Satisfies orchcore.ports.Summarizer: every call gets ``answer`` (a text, or unavailable)."""

    answer: Summary | SummaryUnavailable = attrs.field(
        factory=lambda: Summary("- the day went well", "scripted")
    )
    asked: list[SummaryRequest] = attrs.field(factory=list)

    def summarize(self, request: SummaryRequest) -> Summary | SummaryUnavailable:
        self.asked.append(request)
        return self.answer
