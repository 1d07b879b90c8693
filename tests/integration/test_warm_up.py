"""The warm-up on a real `orch run`: while its agent sleeps, the modules the day's report needs
are imported by the warm-up thread, not after the agent by the report; and that list is what
writing the report really loads in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apps.warm_up import AT_THE_END
from tests.support import GIT_ENV

pytestmark = pytest.mark.integration

# records, for each module of AT_THE_END, the thread that first looked for it (a finder that
# only watches: it finds nothing, the real finders after it do), then runs the real CLI
RUN = """
import json, sys, threading
watched = set(json.loads(sys.argv[1]))
seen = {}
class Watch:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in watched and name not in seen:
            seen[name] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Watch)
sys.argv = ["orch", *sys.argv[2:]]
from apps.cli.entry import main
try:
    code = main()
finally:
    print("IMPORTED " + json.dumps(seen))
sys.exit(code)
"""

# a fresh interpreter writes the finished session's report: what did that load?
REPORT = """
import json, sys
from pathlib import Path
from apps.settings import load_settings
from apps.bootstrap import build_runtime
rt = build_runtime(load_settings(sys.argv[1]))
before = set(sys.modules)
from apps.day_report import report_if_ended
written = report_if_ended(rt, rt.store.sessions()[0].id)
print(json.dumps({"written": written is not None, "loaded": sorted(set(sys.modules) - before)}))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=GIT_ENV, check=True)
    (tmp_path / "tasks.md").write_text("# Tasks\n\n## Task 1: Wait\n**Description:** wait a second\n")
    (tmp_path / "orch.yaml").write_text(
        "agent:\n  command: [sh, -c, 'cat >/dev/null; sleep 1.5']\n  timeout_s: 60\n"
        "paths:\n  workdir: project\n  state_dir: state\n"
    )
    return tmp_path


def test_the_report_modules_are_imported_while_the_agent_works(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(AT_THE_END), "run", "tasks.md", "--auto-approve"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    imported = json.loads(done.stdout.split("IMPORTED ", 1)[1])
    assert imported == dict.fromkeys(AT_THE_END, "orch-warm-up")
    assert list((project / "results").glob("*-report.html"))  # and the report was written

    report = subprocess.run(
        [sys.executable, "-c", REPORT, str(project / "orch.yaml")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(report.stdout.strip().splitlines()[-1])
    assert found["written"]
    assert set(AT_THE_END) <= set(found["loaded"])  # each one is the report's, none is a guess
