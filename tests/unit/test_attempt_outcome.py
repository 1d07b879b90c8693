"""What an attempt's end means: its cost and turns, a safety failure, the question it waits on, a spend stop."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orchcore.attempt_outcome import (
    Streamed,
    attempt_violations,
    failed_for_safety,
    question_to_wait_for,
    with_stream,
)
from orchcore.budget import BudgetStatus, Level, spend_stop
from orchcore.ports.agent import AgentResult, Finished, Said, UsageReport
from orchcore.records import EventKind, Outcome
from orchcore.safety.events import SafetyLayer, violation

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DONE = AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="Done.")


def streamed(*events: object) -> Streamed:
    seen = Streamed()
    for event in events:
        seen.note(event)  # type: ignore[arg-type]
    return seen


def test_the_latest_usage_of_each_message_counts_once_and_prices_the_attempt() -> None:
    seen = streamed(
        UsageReport("m1", cost_usd=Decimal("0.01")),
        UsageReport("m1", cost_usd=Decimal("0.03")),  # the same message, grown
        UsageReport("m2", cost_usd=Decimal("0.005")),
        UsageReport("m3"),  # an adapter that cannot price: counts nothing
    )
    assert with_stream(DONE, seen).cost_usd == Decimal("0.035")


def test_the_agents_own_cost_wins_then_its_final_figure_then_the_streamed_sum() -> None:
    seen = streamed(UsageReport("m1", cost_usd=Decimal("0.03")), Finished("ok", cost_usd=Decimal("0.04")))
    assert with_stream(DONE, seen).cost_usd == Decimal("0.04")
    own = AgentResult(Outcome.SUCCEEDED, cost_usd=Decimal("0.05"))
    assert with_stream(own, seen).cost_usd == Decimal("0.05")


def test_turns_and_the_agent_session_come_from_finished_when_the_result_lacks_them() -> None:
    result = with_stream(DONE, streamed(Finished("ok", turns=7, agent_session_id="cc-1")))
    assert (result.turns, result.agent_session_id) == (7, "cc-1")
    assert with_stream(DONE, streamed(Said("hi"))) is DONE  # nothing to add: the same result


def test_violations_are_the_stream_guards_then_moved_refs_then_the_checkpoints() -> None:
    guard = violation(SafetyLayer.STREAM_GUARD, "Bash git push", "forbidden (git-push)")
    found = attempt_violations(guard, ["refs/heads/main a -> b"], ["wrote .git/config"])
    assert [v.layer for v in found] == [SafetyLayer.STREAM_GUARD, SafetyLayer.REFS, SafetyLayer.CHECKPOINT]
    assert attempt_violations(None, [], []) == []


def test_a_forbidden_attempt_fails_whatever_the_agent_says_and_each_violation_is_an_event() -> None:
    found = attempt_violations(None, ["refs/heads/main a -> b"], [])
    retrying = AgentResult(Outcome.SUCCEEDED, final_text="All done!", retryable=True)
    failed, events = failed_for_safety(retrying, found, ["refs/heads/main"], task_id="1", attempt=2, at=NOW)
    assert failed.outcome is Outcome.FAILED
    assert failed.reason.startswith("safety violation: ")
    assert failed.reason.endswith("(restored from the checkpoint: refs/heads/main)")
    assert (failed.final_text, failed.retryable) == ("", False)
    (event,) = events
    assert (event.kind, event.task_id, event.attempt) == (EventKind.SAFETY, "1", 2)
    assert event.data["restored"] == ["refs/heads/main"]
    assert failed_for_safety(DONE, [], [], task_id="1", attempt=1, at=NOW) == (DONE, ())


def test_a_question_the_agent_asked_waits_even_when_it_sounds_like_a_courtesy() -> None:
    assert question_to_wait_for(DONE, None, "Anything else?", supervised=False) == "Anything else?"


def test_the_question_box_comes_first_then_the_final_message() -> None:
    asking = AgentResult(Outcome.SUCCEEDED, final_text="Schema?\n\nShould email be unique per tenant?")
    assert question_to_wait_for(asking, "Which port?", "Other?", supervised=False) == "Which port?"
    assert question_to_wait_for(asking, None, None, supervised=False) == "Should email be unique per tenant?"


def test_a_courtesy_question_after_the_work_is_no_question_without_the_supervisor() -> None:
    polite = AgentResult(Outcome.SUCCEEDED, final_text="Added the table.\n\nAnything else I can help with?")
    assert question_to_wait_for(polite, None, None, supervised=False) is None
    assert question_to_wait_for(polite, None, None, supervised=True) is not None  # the validator decides


def test_an_attempt_that_did_not_succeed_waits_on_no_question() -> None:
    failed = AgentResult(Outcome.FAILED, final_text="Should I retry?")
    assert question_to_wait_for(failed, "box?", "asked?", supervised=False) is None


def _status(spent: str, limit: str | None, scope: str = "day") -> BudgetStatus:
    return BudgetStatus(Decimal(spent), None if limit is None else Decimal(limit), Level.OK, scope)


def test_the_tasks_own_limit_stops_it_without_halting_the_session() -> None:
    stop = spend_stop(Decimal("0.50"), _status("0", "10"), Decimal("0.50"))
    assert stop is not None
    assert not stop.halts
    assert "task's limit of $0.50" in stop.reason


def test_the_binding_limit_halts_when_what_was_spent_before_plus_this_attempt_reaches_it() -> None:
    stop = spend_stop(None, _status("9.90", "10", "session"), Decimal("0.10"))
    assert stop is not None
    assert stop.halts
    assert stop.reason == "budget: the session's limit of $10 is reached (about $10.0000 spent)"
    assert spend_stop(None, _status("9.90", "10"), Decimal("0.09")) is None
    assert spend_stop(None, _status("100", None), Decimal(50)) is None


@given(
    st.decimals(min_value=0, max_value=100, places=4),
    st.decimals(min_value=0, max_value=100, places=4),
    st.decimals(min_value=0, max_value=100, places=4),
)
def test_a_spend_stop_comes_exactly_when_a_limit_is_reached(
    spent: Decimal, limit: Decimal, so_far: Decimal
) -> None:
    stop = spend_stop(None, _status(str(spent), str(limit)), so_far)
    assert (stop is not None) == (spent + so_far >= limit)
