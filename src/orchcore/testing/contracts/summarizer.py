"""The Summarizer contract: what every summarizer must do, whatever model or server it asks.

Your factory makes a summarizer for a named scenario::

    class TestMySummarizer(SummarizerContract):
        @pytest.fixture
        def make_summarizer(self) -> Iterator[SummarizerFactory]:
            def make(scenario: str) -> Summarizer:
                ...
            yield make

Scenarios: ``up`` (the model answers with some text), ``down`` (it cannot be reached).
A summarizer never raises from ``summarize`` and says why when it has no summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from orchcore.ports.summarizer import Summarizer, Summary, SummaryRequest, SummaryUnavailable

SummarizerFactory = Callable[[str], Summarizer]
GRACE_S = 20.0
REQUEST = SummaryRequest(
    system="Summarise the day in three bullet points.",
    prompt="Day 2026-12-01: 3 tasks, 2 done, 1 failed (pytest failed twice). Spent $1.20 of $5.00.\n"
    'ünïcødé — 日本語 and quotes " \\ survive',
)


class SummarizerContract:
    """Subclass it and define the ``make_summarizer`` fixture."""

    @pytest.fixture
    def make_summarizer(self) -> SummarizerFactory:
        raise NotImplementedError("define make_summarizer in your Test class")

    def test_a_reachable_model_gives_text(self, make_summarizer: SummarizerFactory) -> None:
        answer = make_summarizer("up").summarize(REQUEST)
        assert isinstance(answer, Summary), answer
        assert answer.text.strip()

    def test_it_can_be_asked_again(self, make_summarizer: SummarizerFactory) -> None:
        summarizer = make_summarizer("up")
        first, second = summarizer.summarize(REQUEST), summarizer.summarize(REQUEST)
        assert isinstance(first, Summary)
        assert isinstance(second, Summary)

    def test_an_unreachable_model_says_why_in_bounded_time(self, make_summarizer: SummarizerFactory) -> None:
        started = time.monotonic()
        answer = make_summarizer("down").summarize(REQUEST)
        assert isinstance(answer, SummaryUnavailable), answer
        assert answer.reason.strip()
        assert time.monotonic() - started < GRACE_S
