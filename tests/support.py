"""Helpers every kind of test shares: polling with a deadline, and the pinned Claude Code CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLAUDE = ROOT / ".tools" / "claude" / "node_modules" / ".bin" / "claude"

needs_claude = pytest.mark.skipif(
    not CLAUDE.exists(), reason=f"{CLAUDE} is absent: run scripts/install-claude-cli.sh"
)


def wait_until(check: Callable[[], object], what: str = "the condition", timeout: float = 30.0) -> None:
    """Poll ``check`` until it is true, or fail naming ``what`` after ``timeout`` seconds (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
