"""The dashboard in a real headless Chromium against a real `orch serve` (SQLite, log files, the
command agent running a real program): log in, watch a task run live, pause and resume, approve,
answer a question and reject, all from the page. A screenshot of each page goes to
/var/tmp/orch-artifacts/ (the paths are printed). Skips, saying why, without Chromium."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from apps.web.server import Prepared, prepare
from tests.browser import chromium, screenshot_path
from tests.support import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from orchcore.records import TaskRun

pytestmark = pytest.mark.integration

SECRET = "browser-s3cret-42"  # noqa: S105 - a test secret
TIMEOUT_MS = 30_000

AGENT = """\
import sys, time
from pathlib import Path
prompt = sys.stdin.read()
if "Ask a question" in prompt and not Path("asked.marker").exists():
    Path("asked.marker").write_text("asked")
    print("looking at the button")
    print()
    print("Which colour should the button be?", flush=True)
    sys.exit(0)
for n in range(1, 7):
    print(f"line {n}", flush=True)
    time.sleep(0.6)
print("done", flush=True)
"""

TASKS = """# Tasks - browser

## Task 1: Print lines
**Requires Approval:** true
**Claude Instruction:**
print some lines
---
## Task 2: Ask a question
**Depends On:** 1
**Claude Instruction:**
ask which colour
---
## Task 3: Deploy
**Depends On:** 2
**Requires Approval:** true
**Claude Instruction:**
deploy it
"""


REPORT = """<!doctype html><html><head><meta charset="utf-8"><title>Day report</title>
<style>h1 { color: #2456a6 }</style></head><body><h1>Day report</h1><p id="drawn"></p>
<img src="https://example.invalid/tracker.png" alt="">
<script>document.getElementById("drawn").textContent = "chart drawn";</script></body></html>"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Prepared]]:
    from apps.settings import load_settings

    (tmp_path / "agent.py").write_text(AGENT)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "day.md").write_text(TASKS)
    config = tmp_path / "orch.yaml"
    config.write_text(
        f"agent:\n  name: command\n  command: [{sys.executable}, {tmp_path / 'agent.py'}]\n  timeout_s: 60\n"
    )
    settings = load_settings(str(config), environ={})
    ready = prepare(
        settings,
        "127.0.0.1",
        0,
        False,
        environ={"ORCH_WEBHOOK_SECRET": SECRET},
        access_log=False,
        log_config=None,
    )
    thread = threading.Thread(target=ready.run, daemon=True)
    thread.start()
    wait_until(lambda: ready.server.started, "the server to start")
    yield f"http://127.0.0.1:{ready.port}", ready
    ready.server.should_exit = True
    thread.join(20)


SESSION: list[str] = []


def state(ready: Prepared) -> str:
    return ready.runtime.store.session(SESSION[-1]).state.value


def task_run(ready: Prepared, task: str) -> TaskRun:
    return ready.runtime.store.load(SESSION[-1]).runs[task]


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshot_path(name)), full_page=True)


def test_a_day_steered_from_the_dashboard_in_chromium(server: tuple[str, Prepared]) -> None:
    url, ready = server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        requested: list[str] = []
        blocked: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("requestfailed", lambda r: blocked.append(r.url) if r.failure == "csp" else None)

        page.goto(url + "/")
        assert page.url.endswith("/ui/login")
        page.fill("#secret", "wrong")
        page.click("button[type=submit]")
        page.wait_for_selector("#error")
        assert "wrong secret" in page.inner_text("#error")
        shoot(page, "dashboard-login")
        page.fill("#secret", SECRET)
        page.click("button[type=submit]")
        page.wait_for_selector("#budget")
        assert SECRET not in page.url
        errors.clear()  # the wrong secret's 401 above was expected

        start = httpx.post(url + "/webhook/start", json={"file": "day.md"}, headers={"X-Orch-Secret": SECRET})
        assert start.status_code == 200, start.text
        SESSION.append(start.json()["session"]["id"])
        wait_until(lambda: state(ready) == "waiting_approval", "task 1 to wait for approval")
        page.goto(url + "/ui/")
        page.wait_for_selector("#waiting")
        assert "Print lines" in page.inner_text("#waiting")
        shoot(page, "dashboard-waiting-approval")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            "wider than the phone"
        )

        page.once("dialog", lambda dialog: dialog.dismiss())  # a tap on Cancel asks first; say no
        page.click("#session button[data-command=cancel]")
        assert state(ready) == "waiting_approval"

        page.click("#session button[data-command=pause]")
        page.wait_for_selector("#session-state:has-text('paused')")
        assert state(ready) == "paused"
        page.click("#session button[data-command=resume]")
        page.wait_for_selector("#waiting")
        wait_until(lambda: state(ready) == "waiting_approval", "the resumed session to wait again")

        page.click("#waiting button[data-command=approve]")
        page.wait_for_selector("#live-1 pre.live:has-text('line 2')")
        run = task_run(ready, "1")
        assert run.state.value == "running", "the output showed while the task ran"
        shoot(page, "dashboard-live-output")
        page.wait_for_selector("#question")
        assert "Which colour" in page.inner_text("#question")
        shoot(page, "dashboard-question")

        page.fill("#answer-text", "blue")
        page.click("#answer-form button[type=submit]")
        wait_until(lambda: task_run(ready, "2").state.value == "completed", "task 2 to finish")
        wait_until(lambda: state(ready) == "waiting_approval", "task 3 to wait")
        page.goto(url + "/ui/")
        page.wait_for_selector("#waiting:has-text('Deploy')")

        page.fill("#reject-reason", "not today")
        page.click("#reject-form button[type=submit]")
        wait_until(lambda: state(ready) == "failed", "the session to end after the rejection")
        page.goto(url + "/ui/")
        page.wait_for_selector("#task-3:has-text('rejected by dashboard: not today')")
        shoot(page, "dashboard-rejected")
        assert task_run(ready, "2").answer == "blue"

        # the day's report: written by itself when the session ended (a build without the day
        # report gets a stand-in), then linked from the page
        rt = ready.runtime
        day = rt.clock.now().astimezone(rt.settings.budget_policy().tz).date()
        results = Path(rt.settings.base_dir) / "results"
        today = results / f"{day.isoformat()}-report.html"
        if importlib.util.find_spec("apps.day_report") is not None:
            wait_until(today.exists, "the day's report, written when the session ended")
        else:
            results.mkdir(exist_ok=True)
            today.write_text(REPORT.replace("<h1>Day report</h1>", "<h1>Stand-in day report</h1>"))
        page.goto(url + "/ui/")
        page.click("#report-link")
        page.wait_for_url(f"**/ui/report/{day.isoformat()}")
        page.wait_for_load_state("load")
        shoot(page, "dashboard-day-report")

        # a report's own inline code runs, sandboxed into an origin of its own, and reaches nothing
        # outside: a probe for a day long gone, so it races no report being written
        (results / "2000-01-01-report.html").write_text(REPORT)
        requested.clear()
        blocked.clear()
        page.goto(url + "/ui/report/2000-01-01")
        page.wait_for_selector("#drawn:has-text('chart drawn')")
        assert page.evaluate("window.origin") == "null"  # sandboxed: not the dashboard's origin
        outside = [u for u in requested if not u.startswith(url)]
        assert outside == ["https://example.invalid/tracker.png"]
        assert blocked == outside  # stopped by the report's CSP before it left the browser
        errors[:] = [m for m in errors if "Content Security Policy" not in m]  # the blocked tracker
        assert not errors, errors  # nothing broke the CSP or the script
