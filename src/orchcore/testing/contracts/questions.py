"""The QuestionBox contract: a question left by an agent is seen until it is answered."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchcore.ports.questions import QuestionBox

QuestionBoxFactory = Callable[[], QuestionBox]
Asker = Callable[[QuestionBox, str, str], None]
Replier = Callable[[QuestionBox, str, str], None]


class QuestionBoxContract:
    """Subclass as ``TestMyBox(QuestionBoxContract)``; override ``make_box`` and ``ask``
    (how an agent leaves a question in your box)."""

    @pytest.fixture
    def make_box(self) -> QuestionBoxFactory:
        msg = "override make_box"
        raise NotImplementedError(msg)

    @pytest.fixture
    def ask(self) -> Asker:
        msg = "override ask: how an agent leaves a question"
        raise NotImplementedError(msg)

    @pytest.fixture
    def reply(self) -> Replier:
        msg = "override reply: how a human leaves an answer in the box themselves"
        raise NotImplementedError(msg)

    def test_an_answer_a_human_leaves_is_read_with_when_it_was_written(
        self, make_box: QuestionBoxFactory, reply: Replier
    ) -> None:
        box = make_box()
        assert box.written_answer("1") is None
        reply(box, "1", "  UUIDs, please.\n\n")
        written = box.written_answer("1")
        assert written is not None
        assert written.text == "UUIDs, please."
        assert written.at.tzinfo is not None
        assert box.written_answer("2") is None

    def test_a_blank_answer_is_no_answer(self, make_box: QuestionBoxFactory, reply: Replier) -> None:
        box = make_box()
        reply(box, "1", " \n\t\n")
        assert box.written_answer("1") is None

    def test_no_question_by_default(self, make_box: QuestionBoxFactory) -> None:
        assert make_box().question("1") is None

    def test_a_question_is_seen_until_it_is_answered(self, make_box: QuestionBoxFactory, ask: Asker) -> None:
        box = make_box()
        ask(box, "1", "UUIDs or integers?")
        assert box.question("1") == "UUIDs or integers?"
        assert box.question("2") is None
        box.answer("1", "UUIDs")
        assert box.question("1") is None

    def test_a_new_question_after_an_answer_is_seen_again(
        self, make_box: QuestionBoxFactory, ask: Asker
    ) -> None:
        box = make_box()
        ask(box, "1", "First?")
        box.answer("1", "yes")
        ask(box, "1", "Second?")
        assert box.question("1") == "Second?"
