"""The dashboard of `orch serve`: server-rendered pages under ``/ui/``.

A login with the webhook secret sets a session cookie (apps.web.dash_auth); every form carries
the login's CSRF token; every button runs ``Commands.execute``, the very use case the webhook
calls, so the page adds no rule of its own. Live output and state changes arrive as
server-sent events (apps.web.dash_live). Scripts and styles are files of this package, served
under a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import attrs
import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from apps.commands import CommandError, from_orch_error
from apps.web import dash_auth as auth
from apps.web import dash_live, dash_view
from apps.web.bodies import body_problems
from orchcore import errors as e

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from apps.bootstrap import Runtime
    from apps.commands import Commands, Driver
    from apps.web.app import FailureLimiter

log = logging.getLogger("apps.web.dashboard")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: the day's report is self-contained (inline charts): it may run its own inline code, but
#: sandboxed into an origin of its own (no cookies, no forms) and with no network at all
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; sandbox allow-scripts"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {"dash.js": "text/javascript", "dash.css": "text/css"}
MAX_FORM = 16 * 1024
FORM_TIMEOUT_S = 10.0
MAX_FLASHES = 1000


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("apps.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@attrs.define
class Dashboard:
    """The pages and their auth. ``secret=None`` (``--insecure-local``) skips the login but
    still opens a login per browser, so the CSRF token guards every form all the same.
    ``secure_cookie``: always (True), never (False), or when the request came over https (None)."""

    runtime: Runtime
    commands: Commands
    driver: Driver
    secret: bytes | None
    limiter: FailureLimiter
    pool: ThreadPoolExecutor
    monotonic: Callable[[], float]
    secure_cookie: bool | None = None
    session_ttl_s: float = auth.SESSION_TTL_S
    poll_s: float = dash_live.POLL_S
    logins: auth.Logins = attrs.field(init=False)
    flashes: dict[str, tuple[str, bool]] = attrs.field(factory=dict)
    env: jinja2.Environment = attrs.field(factory=_templates)

    def __attrs_post_init__(self) -> None:
        self.logins = auth.Logins(self.monotonic, self.session_ttl_s)

    def routes(self) -> list[Route]:
        live = dash_live.Live(self.runtime, self.pool, self.poll_s)
        return [
            Route("/", lambda _: RedirectResponse("/ui/", status_code=303), methods=["GET"]),
            Route("/ui", lambda _: RedirectResponse("/ui/", status_code=303), methods=["GET"]),
            Route("/ui/", self.page, methods=["GET"]),
            Route("/ui/login", self.login_form, methods=["GET"]),
            Route("/ui/login", self.login, methods=["POST"]),
            Route("/ui/logout", self.logout, methods=["POST"]),
            Route("/ui/command", self.command, methods=["POST"]),
            Route("/ui/static/{name}", self.static, methods=["GET"]),
            Route("/ui/report/{day}", self.report, methods=["GET"]),
            Route(
                "/ui/live/{session}/{task:path}/{attempt:int}", self._guarded(live.output), methods=["GET"]
            ),
            Route("/ui/events/{session}", self._guarded(live.changes), methods=["GET"]),
        ]

    # ---- auth -----------------------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        return request.url.scheme == "https" if self.secure_cookie is None else self.secure_cookie

    def _current(self, request: Request) -> auth.Login | None:
        return self.logins.find(request.cookies.get(auth.SESSION_COOKIE))

    def _guarded(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def guarded(request: Request) -> Response:
            if self._current(request) is None:
                return self._plain(401, "log in first: /ui/login")
            response: Response = await handler(request)
            return response

        return guarded

    def _html(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.env.get_template(name).render(**context)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def _plain(self, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        return Response(text + "\n", status, media_type="text/plain", headers={**HEADERS, **(headers or {})})

    def _with_login(self, request: Request, target: str) -> Response:
        token, _ = self.logins.open()
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        age = int(self.session_ttl_s)
        response.headers.append(
            "set-cookie",
            auth.cookie_header(auth.SESSION_COOKIE, token, secure=self._secure(request), max_age=age),
        )
        response.headers.append(
            "set-cookie", auth.cookie_header(auth.LOGIN_COOKIE, "", secure=self._secure(request), max_age=0)
        )
        return response

    async def login_form(self, request: Request) -> Response:
        if self._current(request) is not None:
            return RedirectResponse("/ui/", status_code=303, headers=HEADERS)
        if self.secret is None:
            return self._with_login(request, "/ui/")
        return self._login_page(request, 200, "")

    def _login_page(
        self, request: Request, status: int, error: str, headers: dict[str, str] | None = None
    ) -> Response:
        token = request.cookies.get(auth.LOGIN_COOKIE) or ""
        if len(token) < 32:
            token = auth.new_token()
        response = self._html("login.html.j2", status, csrf=token, error=error)
        response.headers.append(
            "set-cookie",
            auth.cookie_header(auth.LOGIN_COOKIE, token, secure=self._secure(request), max_age=3600),
        )
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        if not auth.same(form.get("csrf", ""), request.cookies.get(auth.LOGIN_COOKIE, "")):
            return self._login_page(request, 403, "the form expired: try again")
        if self.secret is None:
            return self._with_login(request, "/ui/")
        presented = form.get("secret", "").encode()
        if presented and hmac.compare_digest(presented, self.secret):
            log.info("dashboard login from %s", client)
            return self._with_login(request, "/ui/")
        wait = self.limiter.retry_after(client)
        if wait is not None:
            retry = str(math.ceil(wait))
            return self._login_page(
                request, 429, f"too many failed attempts: try again in {retry} s", {"Retry-After": retry}
            )
        self.limiter.record(client)
        log.warning("failed dashboard login from %s", client)
        return self._login_page(request, 401, "wrong secret")

    async def logout(self, request: Request) -> Response:
        login = self._current(request)
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        if login is None or not auth.same(form.get("csrf", ""), login.csrf):
            return self._plain(403, "not logged in, or the form expired")
        self.logins.close(request.cookies.get(auth.SESSION_COOKIE))
        response = RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
        response.headers.append(
            "set-cookie", auth.cookie_header(auth.SESSION_COOKIE, "", secure=self._secure(request), max_age=0)
        )
        return response

    async def _form(self, request: Request) -> dict[str, str] | Response:
        """The urlencoded form, bounded in size (413) and time (408), else the refusal to send."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM:
            return self._plain(413, "the form is too large")
        data = bytearray()
        try:
            async with asyncio.timeout(FORM_TIMEOUT_S):
                async for chunk in request.stream():
                    data += chunk
                    if len(data) > MAX_FORM:
                        return self._plain(413, "the form is too large")
        except TimeoutError:
            return self._plain(408, f"the form did not arrive within {FORM_TIMEOUT_S:g} s")
        pairs = parse_qsl(data.decode("utf-8", errors="replace"), keep_blank_values=True)
        return dict(pairs)

    # ---- pages ----------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        login = self._current(request)
        if login is None:
            return RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
        chosen = request.query_params.get("session") or None
        loop = asyncio.get_running_loop()
        try:
            view = await loop.run_in_executor(
                self.pool, dash_view.overview, self.runtime, chosen, self.driver.driving()
            )
        except e.NotFound as exc:
            return self._plain(404, str(exc))
        flash = self.flashes.pop(login.csrf, None)
        return self._html("dashboard.html.j2", csrf=login.csrf, flash=flash, **view)

    async def command(self, request: Request) -> Response:
        login = self._current(request)
        if login is None:
            return self._plain(401, "log in first: /ui/login")
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        if not auth.same(form.get("csrf", ""), login.csrf):
            return self._plain(403, "the form expired or did not come from this dashboard: reload the page")
        session = form.get("session", "")
        name = form.get("command", "")
        params: dict[str, Any] = {}
        for key in ("session", "task", "reason", "text"):
            if form.get(key):
                params[key] = form[key]
        back = "/ui/?" + urlencode({"session": session}) if session else "/ui/"
        if name not in {c.value for c in dash_view.BUTTONS}:
            return self._plain(400, f"unknown command {name!r}")
        problems = body_problems(name, params)
        if problems:
            self._flash(login, "; ".join(problems), ok=False)
            return RedirectResponse(back, status_code=303, headers=HEADERS)
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.commands.execute, name, params
            )
            self._flash(login, str(result["message"]), ok=True)
        except CommandError as exc:
            self._flash(login, exc.message, ok=False)
        except e.OrchError as exc:
            self._flash(login, from_orch_error(exc).message, ok=False)
        except Exception:  # as the webhook: one clear line for the user, the traceback in the log
            log.exception("dashboard command %s failed", name)
            self._flash(login, "internal error; the server log has the details", ok=False)
        return RedirectResponse(back, status_code=303, headers=HEADERS)

    def _flash(self, login: auth.Login, message: str, *, ok: bool) -> None:
        if len(self.flashes) >= MAX_FLASHES:
            self.flashes.clear()
        self.flashes[login.csrf] = (message, ok)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return self._plain(404, "no such file")
        body = resources.files("apps.web").joinpath("static", name).read_bytes()
        headers = {**HEADERS, "Cache-Control": "max-age=300"}
        return Response(body, media_type=STATIC[name], headers=headers)

    async def report(self, request: Request) -> Response:
        if self._current(request) is None:
            return RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
        path = dash_view.report_file(self.runtime.settings, request.path_params["day"])
        if path is None:
            return self._plain(404, "no report for that day yet (results/DATE-report.html)")
        return FileResponse(
            path, media_type="text/html", headers={**HEADERS, "Content-Security-Policy": REPORT_CSP}
        )
