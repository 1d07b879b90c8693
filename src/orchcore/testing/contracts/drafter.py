"""The Drafter contract: what every drafting model must do, whatever serves it.

Your factory makes a drafter for a named scenario::

    class TestMyDrafter(DrafterContract):
        @pytest.fixture
        def make_drafter(self) -> Iterator[DrafterFactory]:
            def make(scenario: str) -> Drafter:
                ...
            yield make

Scenarios: ``up`` (answers every request with some text), ``down`` (cannot be reached),
``misconfigured`` (can never answer until the user acts, e.g. a model not pulled; its hint
says what to do). A drafter never raises from ``draft`` and gives up in bounded time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from orchcore.ports.drafter import Draft, Drafter, DrafterUnavailable, DraftRequest

GRACE_S = 20.0
DrafterFactory = Callable[[str], Drafter]
REQUEST = DraftRequest(
    system="You write task files for orch.",
    prompt="The daily log:\n\n- add a /health endpoint",
    max_tokens=256,
)


class DrafterContract:
    """Subclass and provide ``make_drafter``."""

    @pytest.fixture
    def make_drafter(self) -> DrafterFactory:
        raise NotImplementedError("override make_drafter in your contract test class")

    def test_an_available_drafter_answers_with_text(self, make_drafter: DrafterFactory) -> None:
        answer = make_drafter("up").draft(REQUEST)
        assert isinstance(answer, Draft), answer
        assert answer.text.strip()

    def test_a_drafter_that_cannot_be_reached_says_why_in_bounded_time(
        self, make_drafter: DrafterFactory
    ) -> None:
        started = time.monotonic()
        answer = make_drafter("down").draft(REQUEST)
        assert isinstance(answer, DrafterUnavailable), answer
        assert answer.reason.strip()
        assert time.monotonic() - started < GRACE_S

    def test_a_misconfigured_drafter_says_what_the_user_can_do(self, make_drafter: DrafterFactory) -> None:
        answer = make_drafter("misconfigured").draft(REQUEST)
        assert isinstance(answer, DrafterUnavailable), answer
        assert answer.reason.strip()
        assert answer.hint.strip()

    def test_a_drafter_answers_again_after_a_request(self, make_drafter: DrafterFactory) -> None:
        drafter = make_drafter("up")
        first, second = drafter.draft(REQUEST), drafter.draft(REQUEST)
        assert isinstance(first, Draft)
        assert isinstance(second, Draft)
