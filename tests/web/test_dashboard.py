"""The dashboard of `orch serve` over real HTTP on 127.0.0.1: login, cookies, CSRF, CSP, the
buttons (the webhook's use cases), the report link and the server-sent events."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.web import dash_auth
from apps.web.app import create_app
from apps.web.dash_live import BadEventId, event_id, shown, sse
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Attempt, Event, EventKind, JsonObject, Mutation, Outcome
from orchcore.state import SessionState, TaskState
from orchcore.testing import ScriptedAgent
from tests.support import wait_until
from tests.web.test_webhook import SECRET, LiveServer, World

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """An httpx client that keeps cookies, as a browser on the dashboard would (closed with
    its world's server, see the ``world`` fixture)."""

    OPEN: ClassVar[list[Browser]] = []

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = httpx.Client(base_url=world.url, timeout=10.0)
        Browser.OPEN.append(self)

    @classmethod
    def close_all(cls) -> None:
        while cls.OPEN:
            cls.OPEN.pop().close()

    def close(self) -> None:
        self.http.close()

    def login(self, secret: str = SECRET) -> httpx.Response:
        form = self.http.get("/ui/login")
        token = CSRF.search(form.text)
        assert token, form.text
        return self.http.post("/ui/login", data={"csrf": token.group(1), "secret": secret})

    def page(self, query: str = "") -> httpx.Response:
        return self.http.get("/ui/" + query)

    def csrf(self) -> str:
        found = CSRF.search(self.page().text)
        assert found
        return found.group(1)

    def command(self, command: str, **fields: str) -> httpx.Response:
        data = {"csrf": self.csrf(), "session": "s1", "command": command, **fields}
        return self.http.post("/ui/command", data=data)


def writes_lines(world: World, lines: list[str]) -> Any:
    """A script step: the agent writes ``lines`` to its log, then succeeds."""

    def step(request: AgentRequest, _: EventSink) -> AgentResult:
        for line in lines:
            world.logs.write(request.log_path, line)
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, cost_usd=Decimal("0.12"))

    return step


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, ScriptedAgent())
    w.agent.scripts["1"] = [writes_lines(w, [f"line {n}" for n in range(1, 8)])]
    yield w.serve()
    Browser.close_all()
    w.close()


@pytest.fixture
def browser(world: World) -> Iterator[Browser]:
    b = Browser(world)
    yield b
    b.close()


def waiting_for_approval(world: World) -> None:
    world.ok("/webhook/start", {"file": "today.md"})
    world.wait_state("waiting_approval")


# ---- login and cookies ----------------------------------------------------------------------


def test_the_page_sends_a_stranger_to_the_login_form(browser: Browser) -> None:
    response = browser.page()
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"
    form = browser.http.get("/ui/login")
    assert form.status_code == 200
    assert 'type="password"' in form.text
    assert SECRET not in form.text


def test_every_page_has_a_strict_content_security_policy(browser: Browser) -> None:
    for response in (browser.http.get("/ui/login"), browser.login(), browser.page()):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in browser.page().text  # no inline script: only /ui/static/dash.js


def test_the_right_secret_sets_a_random_http_only_strict_cookie(world: World) -> None:
    tokens = []
    for _ in range(2):
        b = Browser(world)
        response = b.login()
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("orch_dash="))
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert SECRET not in cookie
        tokens.append(cookie.split(";")[0].split("=", 1)[1])
        assert b.page().status_code == 200
        b.close()
    assert tokens[0] != tokens[1]
    assert len(tokens[0]) >= 40


def test_secure_cookie_when_configured(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.server = LiveServer(create_app(w.runtime, secret=SECRET, driver=w.worker, secure_cookie=True))
    http = httpx.Client(base_url=w.url)
    try:
        form = http.get("/ui/login")
        assert "Secure" in form.headers["set-cookie"]
        token = CSRF.search(form.text)
        assert token
        # a browser sends a Secure cookie over https only: the proxy in front of us speaks it
        response = http.post(
            "/ui/login",
            data={"csrf": token.group(1), "secret": SECRET},
            headers={"Cookie": f"orch_login={token.group(1)}"},
        )
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("orch_dash="))
        assert "Secure" in cookie
    finally:
        http.close()
        w.close()


def test_orch_serve_secure_cookie_reaches_the_dashboard(tmp_path: Path) -> None:
    from apps.web.server import prepare
    from tests.web.test_webhook import run_prepared, settings_in

    environ = {"ORCH_WEBHOOK_SECRET": SECRET}
    ready = prepare(
        settings_in(tmp_path),
        "127.0.0.1",
        0,
        False,
        environ=environ,
        access_log=False,
        log_config=None,
        secure_cookie=True,
    )
    thread = run_prepared(ready)
    try:
        form = httpx.get(f"http://127.0.0.1:{ready.port}/ui/login", timeout=10)
        assert form.headers["set-cookie"].endswith("Secure")
    finally:
        ready.server.should_exit = True
        thread.join(10)


def test_a_wrong_secret_is_refused_and_sets_no_login(browser: Browser) -> None:
    response = browser.login("wrong")
    assert response.status_code == 401
    assert "wrong secret" in response.text
    assert not any(c.startswith("orch_dash=") for c in response.headers.get_list("set-cookie"))
    assert browser.page().status_code == 303


def test_a_flood_of_wrong_secrets_is_rate_limited_and_logs_nobody_out(world: World, browser: Browser) -> None:
    browser.login()
    flooder = Browser(world)
    codes = [flooder.login(f"guess-{n}").status_code for n in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]
    limited = flooder.login("again")
    assert int(limited.headers["retry-after"]) > 0
    assert browser.page().status_code == 200  # the logged-in user is still in
    assert flooder.login().status_code == 303  # the right secret always passes
    world.monotonic.t += 61
    assert Browser(world).login("wrong").status_code == 401
    flooder.close()


def test_the_secret_is_never_logged_nor_echoed(browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = browser.login(SECRET + "x")
    right = browser.login()
    texts = [wrong.text, right.text, browser.page().text, *(r.getMessage() for r in caplog.records)]
    assert any("failed dashboard login" in t for t in texts)
    assert not [t for t in texts if SECRET in t]


def test_login_without_the_forms_token_is_refused_even_with_the_secret(world: World) -> None:
    http = httpx.Client(base_url=world.url)
    response = http.post("/ui/login", data={"csrf": "x" * 43, "secret": SECRET})
    assert response.status_code == 403
    assert not any(c.startswith("orch_dash=") for c in response.headers.get_list("set-cookie"))
    http.close()


def test_a_login_expires_on_the_server(world: World, browser: Browser) -> None:
    browser.login()
    assert browser.page().status_code == 200
    world.monotonic.t += dash_auth.SESSION_TTL_S + 1
    assert browser.page().status_code == 303


def test_logout_makes_the_cookie_worthless(browser: Browser) -> None:
    browser.login()
    cookie = browser.http.cookies["orch_dash"]
    response = browser.http.post("/ui/logout", data={"csrf": browser.csrf()})
    assert response.status_code == 303
    replay = httpx.Client(base_url=browser.world.url, cookies={"orch_dash": cookie})
    assert replay.get("/ui/").status_code == 303
    replay.close()


# ---- commands -------------------------------------------------------------------------------


def test_approve_from_the_page_runs_the_same_use_case_as_the_webhook(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    page = browser.page().text
    assert 'data-command="approve"' in page
    assert 'data-command="reject"' in page
    assert "waits for approval to start" in page
    response = browser.command("approve", task="1")
    assert response.status_code == 303
    assert "approved task 1 (session s1 is now running)" in browser.page("?session=s1").text
    world.wait_state("completed")
    commands = [e.data for e in world.store.events("s1") if e.kind.value == "command"]
    assert any(d.get("source") == "dashboard" for d in commands), commands


def test_reject_with_a_reason_fails_the_task(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    browser.command("reject", task="1", reason="not today")
    world.wait_state("failed")
    assert world.store.load("s1").runs["1"].reason == "rejected by dashboard: not today"


def test_pause_and_resume_from_the_page(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    browser.command("pause")
    assert world.store.session("s1").state.value == "paused"
    assert 'data-command="resume"' in browser.page().text
    browser.command("resume")
    world.wait_state("waiting_approval")


def test_a_command_without_the_csrf_token_changes_nothing(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    before = world.snapshot()
    for token in ("", "forged", "x" * 43):
        response = browser.http.post(
            "/ui/command", data={"csrf": token, "session": "s1", "command": "approve", "task": "1"}
        )
        assert response.status_code == 403
    other = Browser(world)
    other.login()
    theirs = other.csrf()
    browser.http.cookies.clear()
    assert browser.http.post("/ui/command", data={"csrf": theirs, "command": "approve"}).status_code == 401
    assert world.snapshot() == before
    other.close()


def test_a_refused_command_says_why_and_changes_nothing(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    before = world.snapshot()
    browser.command("answer", task="1", text="yes")
    assert "nothing was changed" in browser.page().text
    assert world.snapshot() == before
    assert browser.command("start").status_code == 400  # only the buttons' commands


def test_a_form_too_large_is_a_413_and_changes_nothing(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    browser.login()
    before = world.snapshot()
    data = {"csrf": browser.csrf(), "session": "s1", "command": "reject", "task": "1", "reason": "x" * 20_000}
    assert browser.http.post("/ui/command", data=data).status_code == 413
    assert world.snapshot() == before


# ---- report link ----------------------------------------------------------------------------


def test_the_report_is_linked_once_it_exists(world: World, browser: Browser) -> None:
    browser.login()
    day = world.runtime.clock.now().astimezone(world.settings.budget_policy().tz).date().isoformat()
    assert "report-link" not in browser.page().text
    results = Path("results")  # beside the config: the settings' folder is the current one
    results.mkdir()
    (results / f"{day}-report.html").write_text("<html><body><h1>Day report</h1></body></html>")
    assert f'href="/ui/report/{day}"' in browser.page().text
    report = browser.http.get(f"/ui/report/{day}")
    assert report.status_code == 200
    assert "Day report" in report.text
    assert "sandbox" in report.headers["content-security-policy"]
    assert browser.http.get("/ui/report/..%2F..%2Fetc").status_code == 404
    assert httpx.get(f"{world.url}/ui/report/{day}").status_code == 303  # not without a login


# ---- server-sent events ---------------------------------------------------------------------


def sse_events(response: httpx.Response, until: str = "end", most: int = 50) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in current:
                events.append(current)
                if current.get("event") == until or len(events) >= most:
                    return events
            current = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        current[field] = value.removeprefix(" ")
    return events


def finished_task_1(world: World, browser: Browser) -> None:
    waiting_for_approval(world)
    world.ok("/webhook/approve", {})
    world.wait_state("completed")
    browser.login()


def test_output_streams_every_line_with_its_number_then_ends(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    with browser.http.stream("GET", "/ui/live/s1/1/1") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    lines = [e for e in events if e.get("event") == "line"]
    assert [e["data"] for e in lines] == [f"line {n}" for n in range(1, 8)]
    assert [e["id"] for e in lines] == [str(n) for n in range(1, 8)]
    assert events[-1]["event"] == "end"


def test_output_resumes_after_the_last_event_id(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    with browser.http.stream("GET", "/ui/live/s1/1/1", headers={"Last-Event-ID": "5"}) as response:
        events = sse_events(response)
    assert [e["data"] for e in events if e.get("event") == "line"] == ["line 6", "line 7"]


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "١٢", "9" * 40, "5; drop"])
def test_a_bad_last_event_id_is_a_400(world: World, browser: Browser, bad: str) -> None:
    finished_task_1(world, browser)
    for path in ("/ui/live/s1/1/1", "/ui/events/s1"):
        response = browser.http.get(path, headers={b"Last-Event-ID": bad.encode()})
        assert response.status_code == 400, (path, bad)
        assert "Last-Event-ID" in response.text


def test_streams_need_a_login_and_a_real_attempt(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    assert httpx.get(f"{world.url}/ui/live/s1/1/1").status_code == 401
    assert browser.http.get("/ui/live/s1/1/9").status_code == 404
    assert browser.http.get("/ui/live/s1/nope/1").status_code == 404
    assert browser.http.get("/ui/events/nope").status_code == 404


def test_changes_stream_names_each_state_change_and_resumes(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    with browser.http.stream("GET", "/ui/events/s1?after=0") as response:
        events = sse_events(response, until="never", most=3)
    assert [e["event"] for e in events] == ["change"] * 3
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    with browser.http.stream("GET", "/ui/events/s1", headers={"Last-Event-ID": str(ids[1])}) as response:
        again = sse_events(response, until="never", most=1)
    assert int(again[0]["id"]) == ids[2]


def test_the_page_points_its_scripts_at_the_running_output(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    page = browser.page().text
    assert 'data-src="/ui/live/s1/2/1"' in page  # nothing runs: the latest attempt's output
    assert 'data-events="/ui/events/s1?after=' in page
    js = browser.http.get("/ui/static/dash.js")
    assert js.status_code == 200
    assert "EventSource" in js.text
    assert browser.http.get("/ui/static/../app.py").status_code == 404


def test_open_streams_end_when_the_server_stops(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    got: list[dict[str, str]] = []

    def listen() -> None:
        with browser.http.stream("GET", "/ui/events/s1") as response:
            got.extend(sse_events(response, until="closing"))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_until(lambda: world.server is not None and world.server.server.server_state.connections, "a stream")
    assert world.server is not None
    world.server.stop()
    thread.join(10)
    assert got[-1]["event"] == "closing"  # ended by the app, not cut off after uvicorn's grace period
    world.server = None


def test_each_running_task_has_its_own_live_output(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    now = world.runtime.clock.now()

    def both_running(snap: Any) -> Mutation:  # as with max_parallel 2
        runs = tuple(
            attrs.evolve(
                snap.run(t), state=TaskState.RUNNING, attempts=(*snap.run(t).attempts, Attempt(2, now))
            )
            for t in ("1", "2")
        )
        return Mutation(session=attrs.evolve(snap.session, state=SessionState.RUNNING), runs=runs)

    world.store.transact("s1", both_running)
    page = browser.page().text
    assert re.findall(r'<pre class="live" data-src="([^"]+)"', page) == ["/ui/live/s1/1/2", "/ui/live/s1/2/2"]


def test_what_an_agent_writes_is_shown_as_text_never_as_markup(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)

    def asked(snap: Any) -> Mutation:
        run = attrs.evolve(
            snap.run("2"), state=TaskState.WAITING_ANSWER, question="<script>alert(1)</script>?"
        )
        session = attrs.evolve(snap.session, state=SessionState.WAITING_ANSWER, waiting_for="2")
        return Mutation(session=session, runs=(run,))

    world.store.transact("s1", asked)
    page = browser.page().text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert 'id="answer-form"' in page


def test_each_task_shows_its_state_checks_and_cost(world: World, browser: Browser) -> None:
    finished_task_1(world, browser)
    checked: JsonObject = {
        "gates_passed": 5,
        "gates_failed": 1,
        "confidence": 0.42,
        "action": "stop_for_review",
    }
    at = world.runtime.clock.now()
    world.store.append_events("s1", [Event(EventKind.SUPERVISION, at, task_id="1", attempt=1, data=checked)])
    row = re.search(r'<tr id="task-1">(.*?)</tr>', browser.page().text, re.DOTALL)
    assert row
    assert "completed" in row.group(1)
    assert "checks: attempt 1: gates 5/6 passed, confidence 0.42, stop_for_review" in row.group(1)
    assert "$0.12" in row.group(1)


def test_the_budget_gauge_shows_the_days_spend_against_the_limit(tmp_path: Path) -> None:
    w = World(tmp_path, ScriptedAgent())
    w.agent.scripts["1"] = [writes_lines(w, ["one"])]
    budget = attrs.evolve(w.settings.budget, max_daily_cost_usd=Decimal("0.50"))
    w.runtime = attrs.evolve(w.runtime, settings=attrs.evolve(w.settings, budget=budget))
    w.serve()
    try:
        b = Browser(w)
        b.login()
        assert "no daily limit" not in b.page().text
        assert 'value="0"' in b.page().text
        waiting_for_approval(w)
        w.ok("/webhook/approve", {})
        w.wait_state("completed")
        page = b.page().text
        assert '<meter min="0" max="100" low="75" high="99" optimum="0" value="24">' in page
        assert "$0.12 of $0.50 (24 %" in page
    finally:
        Browser.close_all()
        w.close()


# ---- without a secret (--insecure-local) ----------------------------------------------------


def test_insecure_local_skips_the_login_but_still_checks_csrf(tmp_path: Path) -> None:
    w = World(tmp_path).serve(secret=None)
    try:
        b = Browser(w)
        assert b.http.get("/ui/login", follow_redirects=True).status_code == 200
        assert b.page().status_code == 200
        w.ok("/webhook/start", {"file": "today.md"})
        wait_until(lambda: w.store.session("s1").state.value == "waiting_approval", "waiting")
        assert b.http.post("/ui/command", data={"command": "approve", "session": "s1"}).status_code == 403
        b.command("approve", task="1")
        w.wait_state("completed")
        b.close()
    finally:
        Browser.close_all()
        w.close()


# ---- parsers --------------------------------------------------------------------------------


def test_event_ids_are_counts_or_refused() -> None:
    @given(st.one_of(st.text(max_size=30), st.integers(-5, 10**13).map(str)))
    def check(raw: str) -> None:
        digits = raw.strip()
        try:
            value = event_id(raw)
        except BadEventId:
            assert not (digits.isascii() and digits.isdigit() and int(digits) <= 10**12)
            return
        assert value is None if not digits else value == int(digits)

    check()


def test_output_lines_lose_terminal_escapes_and_stay_one_line() -> None:
    assert shown("\x1b[1;32mPASSED\x1b[0m 3 tests") == "PASSED 3 tests"
    assert shown("\x1b]0;title\x07progress\r") == "progress"
    assert shown("a\tb") == "a\tb"
    assert len(shown("x" * 10_000)) == 4000

    @given(st.text(max_size=200))
    def check(line: str) -> None:
        out = shown(line)
        assert "\n" not in out
        assert "\x1b" not in out
        assert sse(out, event="line", id_=1).count("\n\n") == 1  # one event, whatever the agent wrote

    check()


def test_logins_forget_the_oldest_beyond_their_limit() -> None:
    now = [0.0]
    logins = dash_auth.Logins(lambda: now[0], ttl_s=10, max_logins=3)
    tokens = [logins.open()[0] for _ in range(4)]
    assert logins.find(tokens[0]) is None
    assert all(logins.find(t) for t in tokens[1:])
    now[0] = 11
    assert logins.find(tokens[3]) is None
