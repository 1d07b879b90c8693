"""`orch --help` from the help cache: the same bytes the typer app prints, without importing it,
and never a text that a change of orch's files, the terminal or the question could make stale.

Each command runs as a user types it (a fresh interpreter through the console script's entry
point, in a home of its own, so the cache starts empty) under ``-X importtime``, whose report
says whether typer was imported, i.e. whether the app answered or the cache did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli import entry

CACHED = "import sys; from apps.cli.entry import main; sys.argv[0] = 'orch'; main()"
APP = "import sys; from apps.cli.main import main; sys.argv[0] = 'orch'; main()"


def orch(code: str, args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """How `orch ARGS` ended through ``code``, and whether it imported typer."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = {
        line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if "import time:" in line
    }
    done.stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("import time:"))
    return done, "typer" in imported


def entries(home: Path) -> list[str]:
    folder = Path(entry.cache_dir(os.environ))
    assert folder.is_relative_to(home)  # the test's own home: the developer's cache is left alone
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_help_a_second_time_is_the_apps_text_without_importing_typer(in_a_temporary_home: Path) -> None:
    for args in (["--help"], ["status", "--help"]):
        expected, _ = orch(APP, args, COLUMNS="100")
        first, first_typer = orch(CACHED, args, COLUMNS="100")
        second, second_typer = orch(CACHED, args, COLUMNS="100")
        assert expected.returncode == first.returncode == second.returncode == 0
        assert first.stdout == second.stdout == expected.stdout
        assert second.stderr == ""
        assert (first_typer, second_typer) == (True, False)
    assert len(entries(in_a_temporary_home)) == 2


def test_a_narrower_terminal_gets_the_help_laid_out_for_it(in_a_temporary_home: Path) -> None:
    orch(CACHED, ["--help"], COLUMNS="100")
    narrow, typer_loaded = orch(CACHED, ["--help"], COLUMNS="56")
    expected, _ = orch(APP, ["--help"], COLUMNS="56")
    wide, _ = orch(APP, ["--help"], COLUMNS="100")
    assert typer_loaded  # not the wide text from the cache
    assert narrow.stdout == expected.stdout != wide.stdout


def test_help_that_failed_is_never_cached(in_a_temporary_home: Path) -> None:
    for _ in range(2):
        done, typer_loaded = orch(CACHED, ["nosuchcommand", "--help"])
        assert done.returncode == 2
        assert "No such command 'nosuchcommand'" in done.stderr
        assert typer_loaded
    assert entries(in_a_temporary_home) == []


def test_a_damaged_entry_is_answered_by_the_app_and_written_again(in_a_temporary_home: Path) -> None:
    expected, _ = orch(APP, ["--help"])
    orch(CACHED, ["--help"])
    (name,) = entries(in_a_temporary_home)
    path = Path(entry.cache_dir(os.environ)) / name
    for damage in ("not an entry", entry.HEADER + "12 x /nowhere\n", entry.HEADER):
        path.write_text(damage)
        done, typer_loaded = orch(CACHED, ["--help"])
        assert (done.returncode, done.stdout, typer_loaded) == (0, expected.stdout, True)
        assert path.read_text().endswith(entry.END_OF_FILES + expected.stdout)


def test_an_entry_is_stale_once_a_file_it_was_made_from_changes(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text('"""Old help."""\n')
    folder = str(tmp_path / "cache")
    entry.store(
        folder, "k", "old help\n", [(str(source), (source.stat().st_mtime_ns, source.stat().st_size))]
    )
    assert entry.lookup(folder, "k") == "old help\n"
    source.write_text('"""New help, longer."""\n')
    assert entry.lookup(folder, "k") is None
    source.unlink()
    assert entry.lookup(folder, "k") is None


def test_the_key_changes_with_the_question_and_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    before = entry.key(["--help"])
    assert entry.key(["status", "--help"]) != before
    monkeypatch.setenv("COLUMNS", "61")
    assert entry.key(["--help"]) != before
    monkeypatch.delenv("COLUMNS")
    assert entry.key(["--help"]) == before


def test_only_help_questions_are_cached() -> None:
    assert entry.cacheable(["--help"])
    assert entry.cacheable(["status", "--help"])
    for argv in ([], ["status"], ["status", "--json", "--help"], ["--help", "status"], ["../x", "--help"]):
        assert not entry.cacheable(argv), argv
