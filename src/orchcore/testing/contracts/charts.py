"""The Charts contract: every chart is one self-contained ``<svg>`` that scales and shows its labels.

    class TestMyCharts(ChartsContract):
        @pytest.fixture
        def make_charts(self) -> Charts:
            return MyCharts()

Self-contained means no ``<script>``, no ``<foreignObject>``, no ``href``/``src`` and no
``url(...)`` naming anything but a fragment, and no ``http(s)://`` text other than the XML
namespaces: a report opened offline fetches nothing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchcore.ports.charts import Charts, TimeBar

SVG = "{http://www.w3.org/2000/svg}"
NAMESPACES = (
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/XML/1998/namespace",
)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BARS = (
    TimeBar("s1/1", T0, T0 + timedelta(minutes=12), "succeeded"),
    TimeBar("s1/2", T0 + timedelta(minutes=12), T0 + timedelta(minutes=30), "failed"),
    TimeBar("s1/2", T0 + timedelta(minutes=31), T0 + timedelta(minutes=40), "succeeded"),
    TimeBar("s2/db-migrate", T0 + timedelta(hours=2), T0 + timedelta(hours=2, seconds=5), "timed_out"),
)
_label = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
)


def self_contained(svg: str) -> list[str]:
    """What in ``svg`` would make a browser fetch or run something (empty: nothing)."""
    problems = []
    root = ET.fromstring(svg)  # noqa: S314 - the adapter's own output, in a test
    if root.tag != f"{SVG}svg":
        problems.append(f"root is {root.tag}, not svg")
    if "viewBox" not in root.attrib:
        problems.append("no viewBox: it will not scale")
    for element in root.iter():
        name = element.tag.split("}")[-1]
        if name in ("script", "foreignObject", "image"):
            problems.append(f"<{name}> element")
        for key, value in element.attrib.items():
            if key.split("}")[-1] in ("href", "src") and not value.startswith("#"):
                problems.append(f"{key}={value!r}")
    urls = re.findall(r"url\(\s*['\"]?([^)'\"]*)", svg)
    problems += [f"url({url})" for url in urls if not url.startswith("#")]
    problems += [u for u in re.findall(r"https?://[^\s\"'<>)]+", svg) if u not in NAMESPACES]
    return problems


class ChartsContract:
    """Subclass it and define the ``make_charts`` fixture."""

    @pytest.fixture
    def make_charts(self) -> Charts:
        raise NotImplementedError("define make_charts in your Test class")

    def test_a_timeline_is_self_contained_and_names_its_rows(self, make_charts: Charts) -> None:
        svg = make_charts.timeline("The day", BARS)
        assert self_contained(svg) == []
        for row in ("s1/1", "s1/2", "s2/db-migrate"):
            assert row in svg
        assert "The day" in svg

    def test_bars_are_self_contained_and_name_their_labels(self, make_charts: Charts) -> None:
        svg = make_charts.bars("Cost by task", [("s1/1", 0.42), ("s1/2", 1.5), ("s2/3", 0.0)], "USD")
        assert self_contained(svg) == []
        assert all(label in svg for label in ("s1/1", "s1/2", "s2/3"))

    def test_stacked_bars_are_self_contained_and_name_categories_and_series(
        self, make_charts: Charts
    ) -> None:
        svg = make_charts.stacked("Outcomes", ["code", "docs"], {"done": [3, 1], "failed": [1, 0]})
        assert self_contained(svg) == []
        assert all(name in svg for name in ("code", "docs", "done", "failed"))

    def test_empty_charts_still_render(self, make_charts: Charts) -> None:
        for svg in (
            make_charts.timeline("Nothing ran", []),
            make_charts.bars("No cost", [], "USD"),
            make_charts.stacked("No outcomes", [], {}),
        ):
            assert self_contained(svg) == []

    def test_any_label_is_escaped_into_well_formed_svg(self, make_charts: Charts) -> None:
        @settings(max_examples=25, deadline=None)
        @given(labels=st.lists(_label, min_size=1, max_size=5, unique=True))
        def check(labels: list[str]) -> None:
            bars = [
                TimeBar(label, T0, T0 + timedelta(minutes=i + 1), "done") for i, label in enumerate(labels)
            ]
            for svg in (
                make_charts.timeline("<b>&", bars),
                make_charts.bars("<b>&", [(label, 1.0) for label in labels], "USD"),
                make_charts.stacked("<b>&", labels, {"<s>": [1] * len(labels)}),
            ):
                assert self_contained(svg) == []

        check()
