"""The Supervisor contract: what every judge must do, whatever model or server it asks.

Your factory makes a supervisor for a named scenario::

    class TestMyJudge(SupervisorContract):
        @pytest.fixture
        def make_supervisor(self) -> Iterator[SupervisorFactory]:
            def make(scenario: str) -> Supervisor:
                ...  # a supervisor whose judge behaves as the scenario says
            yield make
            ...  # stop the stand-in servers

Scenarios: ``up`` (the judge answers every request with a verdict on what it was asked;
the verdict's content is the judge's business), ``down`` (it cannot be reached at all),
``garbled`` (it answers, but never with a verdict: not JSON, the wrong criteria, ...),
``misconfigured`` (it can never answer until the user acts, e.g. a model not pulled;
call ``pytest.skip`` if your judge has no such state). A supervisor must never raise
from ``judge`` or ``context_window``, and must give up within its own time limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.ports.supervisor import Judgement, JudgeRequest, JudgeUnavailable, Supervisor, Verdict

SCENARIOS = ("up", "down", "garbled", "misconfigured")
GRACE_S = 20.0  # a judge that cannot answer says so in bounded time: it never holds the run
SupervisorFactory = Callable[[str], Supervisor]

CRITERIA = (
    "`pytest -q` passes with no test skipped",
    "the README documents the new --dry-run flag",
    "no file outside src/ and tests/ is changed",
)
AWKWARD = (
    'quotes " and \\ backslashes',
    "ünïcødé — 日本語 — emoji 🚀",
    "line one\nline two",
    "x" * 400,
    "the README documents the new --dry-run flag.",  # near twin of another criterion
    "the README documents the new --dry-run flag",
)
_criterion = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=80)


def request(criteria: tuple[str, ...] = CRITERIA, *, task_id: str = "t1", attempt: int = 1) -> JudgeRequest:
    """A well-formed judge request, as orchcore renders them."""
    numbered = "\n".join(f"{i}. {c}" for i, c in enumerate(criteria, 1))
    return JudgeRequest(
        task_id=task_id,
        attempt=attempt,
        criteria=criteria,
        system="You review a coding agent's work against acceptance criteria. Be strict.",
        prompt=f"# Task {task_id}: add --dry-run\n\n## Acceptance criteria\n{numbered}\n\n## Diff\n+ ...\n",
    )


def assert_answers_in_order(outcome: Verdict | JudgeUnavailable, asked: tuple[str, ...]) -> None:
    """The port's promise: a verdict on exactly the asked criteria, in order; or no verdict."""
    if isinstance(outcome, JudgeUnavailable):
        assert outcome.reason, "a JudgeUnavailable says why"
        return
    assert isinstance(outcome, Verdict)
    assert [c.criterion for c in outcome.criteria] == list(asked)
    assert isinstance(outcome.overall, Judgement)
    assert all(isinstance(c.judgement, Judgement) for c in outcome.criteria)
    assert outcome.duration_s >= 0
    assert outcome.prompt_tokens is None or outcome.prompt_tokens >= 0


class SupervisorContract:
    """Subclass as ``TestMyJudge(SupervisorContract)`` and override ``make_supervisor``."""

    @pytest.fixture
    def make_supervisor(self) -> SupervisorFactory:
        msg = "override make_supervisor to return a factory (scenario) -> Supervisor"
        raise NotImplementedError(msg)

    def test_a_judge_that_is_up_answers_every_criterion_in_the_order_asked(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        outcome = make_supervisor("up").judge(request())
        assert isinstance(outcome, Verdict), outcome
        assert_answers_in_order(outcome, CRITERIA)

    def test_awkward_and_look_alike_criteria_are_answered_in_order(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        outcome = make_supervisor("up").judge(request(AWKWARD))
        assert isinstance(outcome, Verdict), outcome
        assert_answers_in_order(outcome, AWKWARD)

    def test_without_criteria_the_verdict_is_overall_only(self, make_supervisor: SupervisorFactory) -> None:
        outcome = make_supervisor("up").judge(request(()))
        assert isinstance(outcome, Verdict), outcome
        assert outcome.criteria == ()

    def test_any_criteria_get_answers_in_order_or_no_verdict(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        supervisor = make_supervisor("up")

        @settings(deadline=None, max_examples=25)
        @given(criteria=st.lists(_criterion, max_size=6, unique=True).map(tuple))
        def check(criteria: tuple[str, ...]) -> None:
            assert_answers_in_order(supervisor.judge(request(criteria)), criteria)

        check()

    def test_the_context_window_is_a_positive_number_or_unknown(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        window = make_supervisor("up").context_window()
        assert window is None or window > 0

    def test_a_judge_that_is_down_says_so_in_bounded_time_and_raises_nothing(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        supervisor = make_supervisor("down")
        start = time.monotonic()
        window = supervisor.context_window()  # unknown, or what the adapter knows without asking
        assert window is None or window > 0
        outcome = supervisor.judge(request())
        assert isinstance(outcome, JudgeUnavailable), outcome
        assert outcome.reason
        assert time.monotonic() - start < GRACE_S

    def test_answers_that_are_not_verdicts_make_the_judge_unavailable(
        self, make_supervisor: SupervisorFactory
    ) -> None:
        start = time.monotonic()
        outcome = make_supervisor("garbled").judge(request())
        assert isinstance(outcome, JudgeUnavailable), outcome
        assert outcome.reason
        assert time.monotonic() - start < GRACE_S

    def test_a_judge_that_needs_the_user_says_what_to_do(self, make_supervisor: SupervisorFactory) -> None:
        outcome = make_supervisor("misconfigured").judge(request())
        assert isinstance(outcome, JudgeUnavailable), outcome
        assert outcome.reason
        assert outcome.hint, "a judge that can only work once the user acts names the action"


__all__ = [
    "AWKWARD",
    "CRITERIA",
    "SCENARIOS",
    "SupervisorContract",
    "SupervisorFactory",
    "assert_answers_in_order",
    "request",
]
