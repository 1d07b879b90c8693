"""The LessonStore contract: what every store of lessons must do.

Your factory makes an empty store; ``reopen`` (optional) opens the same storage again::

    class TestMyLessons(LessonStoreContract):
        @pytest.fixture
        def make_lesson_store(self) -> LessonStoreFactory:
            ...

``make_lesson_store(reopen_of=None)`` returns a new empty store, or with ``reopen_of`` (a store
it made) one on the same storage — or calls ``pytest.skip`` if nothing persists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchcore.errors import NotFound
from orchcore.ports.lessons import EVERY_TYPE, LessonStore, NewLesson

LessonStoreFactory = Callable[..., LessonStore]
AT = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
TESTS = NewLesson(
    "backend", "Run the real database in tests.", "feedback/2026-12-01.md", 7, "2026-12-01", "2"
)
SMALL = NewLesson("*", "Keep   commits\nsmall.", "feedback/2026-12-01.md", 9, "2026-12-01")
DOCS = NewLesson("Documentation", "Link every new page from the README.")


class LessonStoreContract:
    """Subclass and provide ``make_lesson_store``."""

    @pytest.fixture
    def make_lesson_store(self) -> LessonStoreFactory:
        raise NotImplementedError("override make_lesson_store in your contract test class")

    def test_a_lesson_is_kept_with_where_it_came_from(self, make_lesson_store: LessonStoreFactory) -> None:
        store = make_lesson_store()
        kept = store.add(TESTS, AT)
        assert store.lessons() == [kept]
        assert (kept.task_type, kept.text, kept.task_id, kept.day) == (
            "backend",
            TESTS.text,
            "2",
            "2026-12-01",
        )
        assert kept.source == "feedback/2026-12-01.md:7"
        assert kept.created_at == AT

    def test_a_type_gets_its_own_lessons_and_those_of_every_type_oldest_first(
        self, make_lesson_store: LessonStoreFactory
    ) -> None:
        store = make_lesson_store()
        tests, small, docs = (store.add(x, AT) for x in (TESTS, SMALL, DOCS))
        assert store.lessons("Backend") == [tests, small]
        assert store.lessons("documentation") == [small, docs]
        assert store.lessons("frontend") == [small]
        assert small.task_type == EVERY_TYPE
        assert small.text == "Keep commits small."  # one line: it is one bullet of a prompt
        assert docs.source == "orch lessons add"

    def test_edit_and_remove_change_one_lesson_and_an_unknown_id_changes_nothing(
        self, make_lesson_store: LessonStoreFactory
    ) -> None:
        store = make_lesson_store()
        tests, small = store.add(TESTS, AT), store.add(SMALL, AT)
        edited = store.edit(tests.id, text="Use the real database.", task_type="testing")
        assert (edited.id, edited.text, edited.task_type, edited.source) == (
            tests.id,
            "Use the real database.",
            "testing",
            tests.source,
        )
        assert store.edit(small.id) == small
        with pytest.raises(NotFound):
            store.edit(999, text="x")
        with pytest.raises(NotFound):
            store.remove(999)
        assert store.lessons() == [edited, small]
        assert store.remove(small.id) == small
        assert store.lessons() == [edited]
        again = store.add(SMALL, AT)
        assert again.id not in (tests.id, small.id)  # an id is never given twice

    def test_a_feedback_file_is_imported_once_per_content_and_an_edit_adds_only_the_new_lessons(
        self, make_lesson_store: LessonStoreFactory
    ) -> None:
        store = make_lesson_store()
        file = "feedback/2026-12-01.md"
        first = store.import_feedback(file, "d1", [TESTS], AT)
        assert first is not None
        assert [x.text for x in first] == [TESTS.text]
        assert store.import_feedback(file, "d1", [TESTS], AT) is None
        second = store.import_feedback(file, "d2", [TESTS, SMALL], AT)
        assert second is not None
        assert [x.text for x in second] == ["Keep commits small."]
        assert [x.text for x in store.lessons()] == [TESTS.text, "Keep commits small."]

    def test_lessons_survive_reopening(self, make_lesson_store: LessonStoreFactory) -> None:
        store = make_lesson_store()
        kept = [store.add(TESTS, AT), store.add(SMALL, AT)]
        store.import_feedback("feedback/x.md", "d1", [], AT)
        again = make_lesson_store(reopen_of=store)
        assert again.lessons() == kept
        assert again.import_feedback("feedback/x.md", "d1", [], AT) is None

    def test_any_text_and_type_round_trip(self, make_lesson_store: LessonStoreFactory) -> None:
        store = make_lesson_store()
        words = st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
        )

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(text=words, task_type=st.sampled_from(["backend", "DB", "*", "", "  Testing "]))
        def check(text: str, task_type: str) -> None:
            made = NewLesson(task_type, text)
            kept = store.add(made, AT)
            assert kept.text == made.text
            assert kept in store.lessons(made.task_type)
            assert store.remove(kept.id) == kept

        check()
