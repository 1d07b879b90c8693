"""Reading a unified diff as each file's added and removed lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchcore.supervise import diff_stats, file_diffs

_line = st.text(
    st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    max_size=30,
)
_path = st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.(py|sql|md)", fullmatch=True)


def _render(path: str, context: list[str], removed: list[str], added: list[str]) -> str:
    old = len(context) + len(removed)
    new = len(context) + len(added)
    body = [f" {c}" for c in context] + [f"-{r}" for r in removed] + [f"+{a}" for a in added]
    head = f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
    return head + f"@@ -1,{old} +1,{new} @@\n" + "\n".join(body) + "\n"


def test_a_generated_diff_reads_back_line_for_line() -> None:
    @given(
        st.lists(
            st.tuples(
                _path, st.lists(_line, max_size=4), st.lists(_line, max_size=6), st.lists(_line, max_size=6)
            ),
            max_size=4,
            unique_by=lambda f: f[0],
        )
    )
    def check(files: list[tuple[str, list[str], list[str], list[str]]]) -> None:
        diff = "".join(_render(*f) for f in files)
        parsed = file_diffs(diff)
        assert [(p.path, list(p.added), list(p.removed)) for p in parsed] == [
            (f[0], f[3], f[2]) for f in files
        ]
        assert diff_stats(diff) == {f[0]: (len(f[3]), len(f[2])) for f in files}

    check()


def test_a_removed_sql_comment_is_a_line_not_a_new_file() -> None:
    diff = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,2 @@\n--- old note\n+-- new note\n select 1;\n"
    [part] = file_diffs(diff)
    assert (part.path, part.removed, part.added) == ("q.sql", ("-- old note",), ("-- new note",))


def test_added_and_deleted_files_are_named_by_the_side_that_exists() -> None:
    diff = (
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n"
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-def test_x(): pass\n"
    )
    parsed = file_diffs(diff)
    assert [(p.path, p.added_at, p.removed) for p in parsed] == [
        ("new.py", (1, 2), ()),
        ("old.py", (), ("def test_x(): pass",)),
    ]


def test_added_lines_carry_their_line_number_in_the_new_file() -> None:
    diff = "--- a/c.py\n+++ b/c.py\n@@ -10,3 +10,4 @@\n a\n-b\n+B\n+C\n c\n"
    [part] = file_diffs(diff)
    assert list(zip(part.added_at, part.added, strict=True)) == [(11, "B"), (12, "C")]


def test_any_text_parses_without_raising() -> None:
    @given(st.text())
    def check(text: str) -> None:
        for part in file_diffs(text):
            assert len(part.added_at) == len(part.added)

    check()
