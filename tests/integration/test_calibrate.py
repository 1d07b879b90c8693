"""`orch calibrate` on a real history: a session run by `orch run` (command agent, real checks,
real SQLite), a human's approve and reject of attempts stopped for review, and ratings in
`feedback/DATE.md`; then the next attempt's confidence goes through the fitted calibration."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import GIT_ENV

pytestmark = pytest.mark.integration

ORCH = str(Path(sys.executable).with_name("orch"))
# task N writes out-N.txt; tasks 10 to 12 have a check that always fails, so each stops for review
AGENT = '#!/bin/sh\nprompt=$(cat)\nn=$(printf "%s" "$prompt" | sed -n "s/^# Task \\([0-9]*\\).*/\\1/p" | head -1)\necho "work $n" > "out-$n.txt"\necho done\n'
DAY = "2026-12-01"


def task(n: int) -> str:
    check = "true" if n < 10 else 'sh -c "echo E   wrong; exit 1"'
    return (
        f"## Task {n}: Part {n}\n**Type:** backend\n**Description:** write out-{n}.txt\n"
        f"**Deliverables:** out-{n}.txt\n**Checks:**\n{check}\n"
    )


def orch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCH, *args, "-c", str(root / "orch.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=GIT_ENV, check=True)
    (repo / "README.md").write_text("parts\n")
    subprocess.run(["git", "add", "README.md"], cwd=repo, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "first"], cwd=repo, env=GIT_ENV, check=True)
    (tmp_path / "agent.sh").write_text(AGENT)
    (tmp_path / f"{DAY}.md").write_text("# Tasks\n\n" + "\n".join(task(n) for n in range(1, 13)))
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  command: [sh, {tmp_path / 'agent.sh'}]\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
        "approval:\n  mode: auto\nsupervisor:\n  judge: off\n  max_fix_attempts: 0\n"
    )
    return tmp_path


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_calibrate_fits_reviews_and_ratings_refuses_when_too_few_and_the_next_attempt_uses_it(
    root: Path,
) -> None:
    calibration = root / "state" / "calibration.json"
    assert "task 10 stopped for review" in ok(orch(root, "run", f"{DAY}.md"))

    refused = orch(root, "calibrate")
    assert refused.returncode == 3
    assert (
        "platt calibration needs at least 10 labelled attempts, at least 3 good and 3 bad; found 0"
        in refused.stderr
    )
    assert "nothing was written" in refused.stderr
    assert not calibration.exists()

    ok(orch(root, "approve", "10"))
    assert "task 11 stopped for review" in ok(orch(root, "resume"))
    ok(orch(root, "reject", "11", "--reason", "wrong part"))
    ok(orch(root, "resume"))  # task 11 runs again and stops again
    feedback = root / "feedback"
    feedback.mkdir()
    ratings = [f"rating: {n} {'bad' if n in (8, 9) else 'good'}" for n in range(1, 10)]
    (feedback / f"{DAY}.md").write_text("# Feedback\n\n" + "\n".join([*ratings, "rating: 99 good", ""]))

    dry = orch(root, "calibrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "11 labelled attempts (8 good, 3 bad; 2 from reviews, 9 from feedback ratings)" in dry.stdout
    assert re.search(r"before \(raw\)\s+\d\.\d{3}\s+\d\.\d{3}", dry.stdout)
    assert "after, leave-one-out" in dry.stdout
    assert "no judged attempt for the rating in feedback/2026-12-01.md: 99" in dry.stderr
    assert not calibration.exists()

    assert orch(root, "calibrate", "--method", "isotonic").returncode == 3
    figures = json.loads(ok(orch(root, "calibrate", "--json")))
    assert (figures["samples"], figures["good"], figures["bad"]) == (11, 8, 3)
    assert figures["brier_after_in_sample"] < figures["brier_before"]
    assert figures["written"] == str(calibration)
    assert json.loads(calibration.read_text())["calibration"]["kind"] == "platt"

    ok(orch(root, "approve", "11"))
    ok(orch(root, "resume"))  # task 12 runs under the calibration and stops for review
    trail = json.loads(ok(orch(root, "explain", "12", "--json")))
    last = trail[-1]
    assert last["raw_confidence"] != last["confidence"]
    assert f"confidence {last['confidence']:.2f} (raw {last['raw_confidence']:.2f})" in json.dumps(
        last["trail"]
    )
