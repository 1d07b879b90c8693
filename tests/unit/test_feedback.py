"""The feedback file parser: every problem at once, located; never a crash; what is written is read back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchcore.feedback import FeedbackError, LessonLine, Note, Rating, parse_feedback
from orchcore.supervise.calibration_labels import rating_lines

SAMPLE = """\
# Feedback 2026-12-01

Free text is mine: the day went well overall.
Worked well with the new review flow (prose, not a note).

## Task 2
- rating: 2 bad — the tests were skipped
- didn't work (2): it mocked the database
- worked (1): the migration was clean
- lesson (Backend): Run the real database in tests; never mock it.
- lesson: Keep commits small.
rating: 1 good

```
lesson (backend): inside a code block, not a lesson
```
"""


def test_the_documented_sample_reads_as_ratings_notes_and_lessons_with_their_lines() -> None:
    feedback = parse_feedback(SAMPLE, "feedback/2026-12-01.md")
    assert feedback.day == "2026-12-01"
    assert feedback.ratings == (Rating("2", False, "the tests were skipped", 7), Rating("1", True, "", 12))
    assert feedback.notes == (
        Note(False, "it mocked the database", "2", 8),
        Note(True, "the migration was clean", "1", 9),
    )
    assert feedback.lessons == (
        LessonLine("backend", "Run the real database in tests; never mock it.", 10),
        LessonLine("*", "Keep commits small.", 11),
    )
    kept = feedback.new_lessons()
    assert (kept[0].file, kept[0].line, kept[0].day) == ("feedback/2026-12-01.md", 10, "2026-12-01")
    # the calibration's own reader sees the same ratings
    assert rating_lines(SAMPLE) == [(r.task_id, r.good) for r in feedback.ratings]


def test_every_problem_is_told_at_once_with_file_and_line() -> None:
    text = (
        "rating: 3 meh\n"
        "rating:\n"
        "lesson (backend) forgot the colon\n"
        "lesson (two words): text\n"
        "lesson (backend):\n"
        "didn't work:\n"
        "rating (3): good\n"
        "```\nnever closed\n"
    )
    with pytest.raises(FeedbackError) as caught:
        parse_feedback(text, "feedback/x.md")
    told = [str(p) for p in caught.value.problems]
    assert told == [
        "feedback/x.md:1: rating: task 3: found 'meh', expected good or bad",
        "feedback/x.md:2: rating: found '', expected rating: TASK good|bad [note]",
        "feedback/x.md:3: lesson: found no ':' after (backend), expected lesson (TYPE): text",
        "feedback/x.md:4: lesson: found (two words), expected a task type without spaces",
        "feedback/x.md:5: lesson: found no text after ':', expected lesson (TYPE): text",
        "feedback/x.md:6: didn't work: found no text after ':', expected didn't work (TASK): text",
        "feedback/x.md:7: rating: found rating (3), expected rating: TASK good|bad [note]",
        "feedback/x.md:9: fence: a code block opened with ``` is never closed",
    ]


@given(st.text(max_size=400))
def test_any_text_is_feedback_or_located_problems_never_a_crash(text: str) -> None:
    try:
        feedback = parse_feedback(text, "f.md")
    except FeedbackError as exc:
        problems = exc.problems
    else:
        problems = ()
        assert len(feedback.ratings) + len(feedback.notes) + len(feedback.lessons) <= len(text.splitlines())
    assert all(p.file == "f.md" and 1 <= p.line <= max(1, len(text.splitlines())) for p in problems)


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
_text = (
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=50)
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
_item = st.one_of(
    st.builds(lambda t, g, n: ("rating", t, g, n), _word, st.booleans(), _text),
    st.builds(lambda t, w, x: ("note", t, w, x), _word, st.booleans(), _text),
    st.builds(lambda t, x: ("lesson", t, x), _word, _text),
)


@given(st.lists(_item, max_size=8), st.sampled_from(["", "- ", "* "]))
def test_what_is_written_in_the_format_is_read_back(items: list[tuple[object, ...]], marker: str) -> None:
    lines = []
    for item in items:
        if item[0] == "rating":
            _, task, good, note = item
            lines.append(f"{marker}rating: {task} {'good' if good else 'bad'} {note}")
        elif item[0] == "note":
            _, task, worked, text = item
            lines.append(f"{marker}{'worked' if worked else 'did not work'} ({task}): {text}")
        else:
            _, task_type, text = item
            lines.append(f"{marker}lesson ({task_type}): {text}")
    feedback = parse_feedback("\n".join(lines), "f.md")
    ratings = [(r.task_id, r.good, r.note) for r in feedback.ratings]
    assert ratings == [
        (i[1], i[2], str(i[3]).lstrip("-\u2014\u2013:").strip()) for i in items if i[0] == "rating"
    ]
    assert [(n.task_id, n.worked, n.text) for n in feedback.notes] == [i[1:] for i in items if i[0] == "note"]
    lessons = [(x.task_type, x.text) for x in feedback.lessons]
    expected = [("*" if i[1] in ("all", "project") else str(i[1]), i[2]) for i in items if i[0] == "lesson"]
    assert lessons == expected
