from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from orchcore.daily import files_for_day

DAY = date(2026, 12, 1)


def test_the_file_for_a_day_has_the_date_in_its_name_not_in_its_folder_or_a_longer_number() -> None:
    names = [
        "2026-12-01.md",
        "tasks-2026-12-01.yaml",
        "2026-12-01/notes.md",
        "2026-12-011.md",
        "12026-12-01.md",
        "2026-12-02.md",
        "daily/2026-12-01-tasks.md",
    ]
    assert files_for_day(names, DAY) == [
        "2026-12-01.md",
        "tasks-2026-12-01.yaml",
        "daily/2026-12-01-tasks.md",
    ]


@given(st.lists(st.text(alphabet="0123456789-/.abmdy", max_size=24), max_size=8), st.dates())
def test_every_file_found_names_the_day_and_none_is_made_up(names: list[str], day: date) -> None:
    found = files_for_day(names, day)
    assert all(name in names and day.isoformat() in name.rsplit("/", 1)[-1] for name in found)
