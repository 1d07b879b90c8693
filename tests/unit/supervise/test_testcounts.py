"""Test counts read from the summary lines of pytest, unittest, jest, vitest, mocha, go and cargo."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchcore.supervise import TestCounts, reported_test_counts


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("==== 2 failed, 10 passed, 1 skipped, 1 xfailed in 0.12s ====", TestCounts(10, 2, 2, 0)),
        ("..........\n10 passed in 0.03s", TestCounts(10)),
        ("=== 1 failed, 3 passed, 2 warnings in 1.20s ===", TestCounts(3, 1)),
        ("5 passed, 1 deselected in 0.02s", TestCounts(5)),
        ("=== 1 error in 0.10s ===", TestCounts(errors=1)),
        ("===== no tests ran in 0.01s =====", TestCounts()),
        (
            "...\n----------------------------------------------------------------------\nRan 12 tests in 0.003s\n\nOK (skipped=2)",
            TestCounts(10, 0, 2),
        ),
        ("Ran 5 tests in 0.100s\n\nFAILED (failures=1, errors=2)", TestCounts(2, 1, 0, 2)),
        ("Tests:       1 failed, 2 skipped, 10 passed, 13 total\nTime: 1.2 s", TestCounts(10, 1, 2)),
        (" Tests  1 failed | 10 passed | 2 skipped (13)", TestCounts(10, 1, 2)),
        ("  10 passing (20ms)\n  2 pending\n  1 failing", TestCounts(10, 1, 2)),
        (
            "=== RUN TestA\n--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.00s)\n    --- SKIP: TestC (0.00s)\nFAIL",
            TestCounts(1, 1, 1),
        ),
        (
            "test result: ok. 10 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n"
            "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            TestCounts(11, 2, 1),
        ),
        ("\x1b[32m===== 4 passed in 0.05s =====\x1b[0m", TestCounts(4)),
        ("Compiling...\nerror: could not compile", None),
        ("", None),
    ],
)
def test_summary_lines_give_the_counts(output: str, expected: TestCounts | None) -> None:
    assert reported_test_counts(output) == expected


def test_the_last_pytest_summary_wins_over_an_earlier_run_in_the_same_output() -> None:
    output = "=== 3 passed in 0.1s ===\nrerun after fixing\n=== 1 failed, 2 passed in 0.1s ==="
    assert reported_test_counts(output) == TestCounts(2, 1)


_counts = st.builds(TestCounts, *(st.integers(0, 5000) for _ in range(3)))


def _pytest(c: TestCounts) -> str:
    parts = [f"{n} {w}" for n, w in ((c.failed, "failed"), (c.passed, "passed"), (c.skipped, "skipped")) if n]
    return f"===== {', '.join(parts)} in 1.23s =====" if parts else "===== no tests ran in 0.01s ====="


def _unittest(c: TestCounts) -> str:
    details = [f"{k}={n}" for k, n in (("failures", c.failed), ("skipped", c.skipped)) if n]
    end = ("FAILED" if c.failed else "OK") + (f" ({', '.join(details)})" if details else "")
    return f"....\n{'-' * 70}\nRan {c.total} tests in 0.512s\n\n{end}"


def _jest(c: TestCounts) -> str:
    parts = [f"{n} {w}" for n, w in ((c.failed, "failed"), (c.skipped, "skipped"), (c.passed, "passed")) if n]
    return (
        f"Test Suites: 2 passed, 2 total\nTests:       {', '.join([*parts, f'{c.total} total'])}\nTime: 2 s"
    )


def _cargo(c: TestCounts) -> str:
    verdict = "FAILED" if c.failed else "ok"
    return f"test result: {verdict}. {c.passed} passed; {c.failed} failed; {c.skipped} ignored; 0 measured; 0 filtered out"


def _go(c: TestCounts) -> str:
    lines = [
        f"--- {w}: Test{w}{i} (0.00s)"
        for w, n in (("PASS", c.passed), ("FAIL", c.failed), ("SKIP", c.skipped))
        for i in range(n)
    ]
    return "\n".join(lines)


def test_every_format_reads_back_what_it_printed() -> None:
    @given(_counts, st.sampled_from([_pytest, _unittest, _jest, _cargo]), st.text(max_size=200))
    def check(counts: TestCounts, render: object, noise: str) -> None:
        assert callable(render)
        # noise before the summary (the run's own output) never changes what the summary says
        noise = "\n".join(line for line in noise.splitlines() if not any(ch.isdigit() for ch in line))
        assert reported_test_counts(noise + "\n" + render(counts)) == counts

    check()


def test_go_test_verbose_lines_are_counted_one_by_one() -> None:
    @given(st.builds(TestCounts, *(st.integers(0, 30) for _ in range(3))).filter(lambda c: c.total > 0))
    def check(counts: TestCounts) -> None:
        assert reported_test_counts(_go(counts)) == counts

    check()


def test_any_text_gives_counts_or_none_and_never_raises() -> None:
    @given(st.text())
    def check(text: str) -> None:
        counts = reported_test_counts(text)
        assert counts is None or counts.total >= 0

    check()
