"""Which answers the user wrote in the question box answer the questions waiting now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchcore.ports.questions import WrittenAnswer
from orchcore.questions import answers_to_pick_up, waits_for_human
from orchcore.state import SessionState

ASKED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_an_answer_written_since_the_question_answers_it_and_an_older_or_blank_one_does_not() -> None:
    waiting = {"1": ASKED, "2": ASKED, "3": ASKED, "4": ASKED}
    written = {
        "1": WrittenAnswer("UUIDs", ASKED + timedelta(seconds=5)),
        "2": WrittenAnswer("integers", ASKED - timedelta(minutes=1)),  # for an earlier question
        "3": WrittenAnswer("  ", ASKED + timedelta(seconds=5)),
        "9": WrittenAnswer("not waiting", ASKED + timedelta(seconds=5)),
    }
    assert answers_to_pick_up(waiting, written) == {"1": "UUIDs"}
    assert answers_to_pick_up(waiting, {"1": WrittenAnswer("same time", ASKED)}) == {"1": "same time"}


def test_only_a_session_waiting_for_a_human_is_waited_for() -> None:
    assert {s for s in SessionState if waits_for_human(s)} == {
        SessionState.WAITING_ANSWER,
        SessionState.WAITING_APPROVAL,
    }
