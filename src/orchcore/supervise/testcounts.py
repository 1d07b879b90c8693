"""How many tests a check ran, read from the summary lines test runners print.

Known summaries (the last one in the output wins; per-package lines are added up):

* pytest: ``=== 2 failed, 10 passed, 1 skipped, 1 xfailed in 0.12s ===`` (and ``-q``'s bare line),
  ``no tests ran``; xfailed counts as skipped, xpassed as passed;
* unittest: ``Ran 12 tests in 0.003s`` then ``OK (skipped=2)`` / ``FAILED (failures=1, errors=2)``;
* jest: ``Tests:       1 failed, 2 skipped, 10 passed, 13 total`` (``todo`` counts as skipped);
* vitest: ``Tests  1 failed | 10 passed | 2 skipped (13)``;
* mocha: ``10 passing (20ms)``, ``2 pending``, ``1 failing``;
* go test ``-v``: one ``--- PASS: TestX`` / ``--- FAIL:`` / ``--- SKIP:`` line per test;
* cargo test: ``test result: ok. 10 passed; 0 failed; 1 ignored; ...`` per crate, added up.

Pure text in, counts out; text without a summary gives None, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from orchcore.supervise.evidence import TestCounts

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PYTEST_LINE = re.compile(
    r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?|rerun)"
    r"(?:, )?)+)(?: in [\d.]+\s*s(?:econds)?)?(?: \([^)]*\))?\s*=*\s*$"
)
_PYTEST_NONE = re.compile(r"^=*\s*no tests ran\b.*$")
_PYTEST_PART = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s$")
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \(([^)]*)\))?$")
_JEST = re.compile(r"^Tests:\s+(.*\d+ total)\s*$")
_JEST_PART = re.compile(r"(\d+) (passed|failed|skipped|todo|total)")
_VITEST = re.compile(r"^\s*Tests\s+((?:\d+ (?:passed|failed|skipped|todo)(?: \| )?)+)\s*\(\d+\)")
_MOCHA = re.compile(r"^\s*(\d+) (passing|failing|pending)(?: \(.*\))?\s*$")
_GO = re.compile(r"^\s*--- (PASS|FAIL|SKIP): \S+")
_CARGO = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored;")


def _kind_counts(pairs: list[tuple[str, str]]) -> TestCounts:
    found = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    for number, word in pairs:
        key = {
            "error": "errors",
            "xfailed": "skipped",
            "xpassed": "passed",
            "todo": "skipped",
            "passing": "passed",
            "failing": "failed",
            "pending": "skipped",
        }.get(word, word)
        if key in found:
            found[key] += int(number)
    return TestCounts(**found)


def _pytest(lines: list[str]) -> TestCounts | None:
    for line in reversed(lines):
        if _PYTEST_NONE.match(line):
            return TestCounts()
        match = _PYTEST_LINE.match(line)
        if match:
            return _kind_counts(_PYTEST_PART.findall(match.group(1)))
    return None


def _unittest_details(text: str) -> dict[str, int]:
    details: dict[str, int] = {}
    for part in text.split(","):
        name, _, number = part.partition("=")
        if number.strip().isdigit():
            details[name.strip()] = int(number)
    return details


def _unittest(lines: list[str]) -> TestCounts | None:
    for index in range(len(lines) - 1, -1, -1):
        ran = _UNITTEST_RAN.match(lines[index])
        if ran is None:
            continue
        end = next((m for m in map(_UNITTEST_END.match, lines[index + 1 :]) if m), None)
        details = _unittest_details(end.group(2) or "" if end else "")
        failed, errors = details.get("failures", 0), details.get("errors", 0)
        skipped = details.get("skipped", 0) + details.get("expected failures", 0)
        passed = max(int(ran.group(1)) - failed - errors - skipped, 0)
        return TestCounts(passed, failed, skipped, errors)
    return None


def _jest(lines: list[str]) -> TestCounts | None:
    for line in reversed(lines):
        match = _JEST.match(line) or _VITEST.match(line)
        if match:
            return _kind_counts(_JEST_PART.findall(match.group(1)))
    return None


def _mocha(lines: list[str]) -> TestCounts | None:
    pairs = [(m.group(1), m.group(2)) for m in map(_MOCHA.match, lines) if m]
    return _kind_counts(pairs) if any(word == "passing" for _, word in pairs) else None


def _go(lines: list[str]) -> TestCounts | None:
    words = [m.group(1) for m in map(_GO.match, lines) if m]
    if not words:
        return None
    return TestCounts(words.count("PASS"), words.count("FAIL"), words.count("SKIP"))


def _cargo(lines: list[str]) -> TestCounts | None:
    found = [m for m in map(_CARGO.match, lines) if m]
    if not found:
        return None
    return TestCounts(*(sum(int(m.group(i)) for m in found) for i in (1, 2, 3)))


_READERS: tuple[Callable[[list[str]], TestCounts | None], ...] = (
    _pytest,
    _unittest,
    _jest,
    _cargo,
    _go,
    _mocha,
)


def reported_test_counts(output: str) -> TestCounts | None:
    """The tests ``output`` reports as run, from the first runner whose summary it holds; None if none."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    for read in _READERS:
        counts = read(lines)
        if counts is not None:
            return counts
    return None
