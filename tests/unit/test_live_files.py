"""Live file tracking as a user sees it: one event per batch, forbidden paths flagged, a status line."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchcore.live_files import SHOWN, files_event, files_line
from orchcore.ports.file_watch import ChangeKind, SeenChange
from orchcore.records import EventKind

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FORBIDDEN = ("**/migrations/**",)


def test_no_change_is_no_event() -> None:
    assert files_event([], "1", 1, AT, FORBIDDEN) is None


def test_a_write_to_a_forbidden_path_is_flagged_in_the_event_and_the_status_line() -> None:
    changes = [
        SeenChange(ChangeKind.ADDED, "app/models.py", "ab" * 32, 10),
        SeenChange(ChangeKind.MODIFIED, "db/migrations/0001_init.py", "cd" * 32, 99),
    ]
    event = files_event(changes, "1", 1, AT, FORBIDDEN)
    assert event is not None
    assert event.kind is EventKind.FILES
    assert event.data["forbidden"] == ["db/migrations/0001_init.py"]
    first = {"kind": "added", "path": "app/models.py", "sha256": "ab" * 32, "size": 10}
    assert event.data["changes"] == [
        first,
        {**first, "kind": "modified", "path": changes[1].path, "sha256": "cd" * 32, "size": 99},
    ]
    line = files_line([event], "1", 1)
    assert (
        line == "2 files: +app/models.py ~db/migrations/0001_init.py; ⚑ forbidden: db/migrations/0001_init.py"
    )


def test_the_line_shows_each_path_once_in_its_latest_state_for_that_attempt_only() -> None:
    first = files_event([SeenChange(ChangeKind.MODIFIED, "a.py", "0" * 64, 1)], "1", 2, AT, FORBIDDEN)
    then = files_event([SeenChange(ChangeKind.DELETED, "a.py")], "1", 2, AT, FORBIDDEN)
    other_attempt = files_event([SeenChange(ChangeKind.ADDED, "old.py", "0" * 64, 1)], "1", 1, AT, FORBIDDEN)
    other_task = files_event([SeenChange(ChangeKind.ADDED, "b.py", "0" * 64, 1)], "2", 2, AT, FORBIDDEN)
    events = [e for e in (other_attempt, first, other_task, then) if e is not None]
    assert files_line(events, "1", 2) == "1 file: -a.py"
    assert files_line(events, "3", 1) is None


@given(st.lists(st.from_regex(r"[a-z]{1,8}\.py", fullmatch=True), min_size=1, max_size=30, unique=True))
def test_a_long_list_names_the_latest_few_and_counts_the_rest(paths: list[str]) -> None:
    event = files_event([SeenChange(ChangeKind.MODIFIED, p, "0" * 64, 1) for p in paths], "1", 1, AT, ())
    assert event is not None
    line = files_line([event], "1", 1)
    assert line is not None
    assert line.startswith(f"{len(paths)} file")
    for path in paths[-SHOWN:]:
        assert f"~{path}" in line
    assert ("more)" in line) == (len(paths) > SHOWN)


def test_a_file_made_then_changed_in_an_attempt_is_new_and_one_made_then_removed_is_gone() -> None:
    made = files_event(
        [
            SeenChange(ChangeKind.ADDED, "a.py", "0" * 64, 1),
            SeenChange(ChangeKind.ADDED, "tmp.txt", "0" * 64, 1),
        ],
        "1",
        1,
        AT,
        (),
    )
    then = files_event(
        [SeenChange(ChangeKind.MODIFIED, "a.py", "1" * 64, 2), SeenChange(ChangeKind.DELETED, "tmp.txt")],
        "1",
        1,
        AT,
        (),
    )
    assert files_line([e for e in (made, then) if e is not None], "1", 1) == "1 file: +a.py"
