"""`orch plan` on a real model (SmolLM2 135M behind Ollama's API, see tests/real_model.py), structure
only: a model this small rarely writes a valid task file, so either the file it wrote is one
`orch validate` accepts, or the command failed cleanly — every problem as FILE:LINE, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.real_model import ServedModel

pytestmark = [pytest.mark.integration, pytest.mark.real_model]

ORCH = str(Path(sys.executable).with_name("orch"))
LOG = "# 2026-12-01\n\nGoal: add a GET /health endpoint that answers 200, with a test.\n"


def test_the_real_model_gives_a_valid_task_file_or_a_clean_failure(
    real_model_ollama: ServedModel, tmp_path: Path
) -> None:
    (tmp_path / "daily_logs").mkdir()
    (tmp_path / "daily_logs" / "2026-12-01.md").write_text(LOG)
    (tmp_path / "orch.yaml").write_text(
        "paths:\n  state_dir: state\n"
        f"supervisor:\n  host: {real_model_ollama.base_url}\n  model: {real_model_ollama.model}\n  timeout_s: 120\n"
        "  num_ctx: 2048\n"  # the draft is bounded by what the window leaves: minutes, not ten
    )
    done = subprocess.run(
        [ORCH, "plan", "daily_logs/2026-12-01.md", "--json", "-c", str(tmp_path / "orch.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    target = tmp_path / "tasks" / "2026-12-01.md"
    if done.returncode == 0:
        assert result["valid"] is True
        assert result["tasks"]
        checked = subprocess.run(
            [ORCH, "validate", str(target)], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
        return
    assert result["valid"] is False
    assert result["written"] is None
    assert not target.exists()
    assert result["tries"] in (1, 2)
    assert result["problems"], "an invalid draft names its problems"
    for problem in result["problems"]:
        assert problem["file"] == "tasks/2026-12-01.md"
        assert problem["line"] >= 1
        assert problem["message"]
    kept = Path(result["draft"])
    assert kept.is_file()
