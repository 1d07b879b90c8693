"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright for Python
through ``executable_path`` (``playwright install`` cannot download here; scripts/install-chromium.sh
installs the browser). A test that cannot get it skips and prints why."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("ORCH_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("ORCH_ARTIFACTS", "/var/tmp/orch-artifacts"))


def skip(reason: str) -> None:
    """Skip with the reason printed (pytest -rs shows it too)."""
    print(f"SKIP browser test: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A launched headless Chromium; skips the test when there is none or it cannot start."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        skip("playwright is not installed: pip install playwright (the dev extra)")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        skip(f"{CHROMIUM} is absent: run scripts/install-chromium.sh (as root)")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        except Error as exc:
            skip(f"chromium cannot start: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str) -> Path:
    """Where a test's screenshot goes (printed, so the run's log names it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    print(f"screenshot: {path}")
    return path
