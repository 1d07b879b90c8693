"""The day's HTML report in a real headless Chromium with the network cut off: it makes no request
beyond its own file, its three charts draw (nonzero SVG boxes with content), and on a phone's width
the page does not scroll sideways (wide tables scroll in their own box). Screenshots are saved under
/var/tmp/orch-artifacts (ORCH_ARTIFACTS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.day_report_render import render_html
from orchcore.day_report import DayReport
from tests.browser import chromium, screenshot_path
from tests.unit.test_day_report import Day, day_with_everything

pytestmark = pytest.mark.integration
pygal_charts = pytest.importorskip(
    "adapters.charts", reason="pygal is not installed (the report extra: pipx inject orchcore-cli pygal)"
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def report() -> DayReport:
    day: Day = day_with_everything()
    return day.report()


@pytest.fixture
def page_file(report: DayReport, tmp_path: Path) -> Path:
    path = tmp_path / "2026-11-23-report.html"
    path.write_text(render_html(report, pygal_charts.PygalCharts()), encoding="utf-8")
    return path


def _open(browser: object, page_file: Path, viewport: dict[str, int]) -> tuple[object, list[str]]:
    from playwright.sync_api import Browser, Route

    assert isinstance(browser, Browser)
    context = browser.new_context(offline=True, viewport=viewport)  # no network at all
    requests: list[str] = []
    own = page_file.as_uri()

    def gate(route: Route) -> None:
        url = route.request.url
        if url == own:
            route.continue_()
            return
        requests.append(url)
        route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("request", lambda r: None if r.url == own else requests.append(r.url))
    page.goto(own, wait_until="load")
    return page, requests


def test_the_report_opens_offline_with_no_request_and_its_charts_draw(page_file: Path) -> None:
    with chromium() as browser:
        page, requests = _open(browser, page_file, DESKTOP)
        boxes = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "figure svg",
            "els => els.map(e => {const r = e.getBoundingClientRect();"
            " return [r.width, r.height, e.querySelectorAll('path, rect, text').length]})",
        )
        page.screenshot(path=str(screenshot_path("day-report-desktop")), full_page=True)  # type: ignore[attr-defined]
    assert requests == []
    assert len(boxes) == 3
    for width, height, shapes in boxes:
        assert width > 200
        assert height > 100
        assert shapes > 10


def test_on_a_phone_the_page_fits_its_width(page_file: Path) -> None:
    with chromium() as browser:
        page, requests = _open(browser, page_file, PHONE)
        page_width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
        chart_widths = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "figure svg", "els => els.map(e => e.getBoundingClientRect().width)"
        )
        shot = screenshot_path("day-report-phone")
        page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    assert requests == []
    assert page_width <= PHONE["width"]
    assert all(0 < w <= PHONE["width"] for w in chart_widths)
    assert shot.stat().st_size > 10_000
