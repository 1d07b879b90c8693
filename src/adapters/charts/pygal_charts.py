"""The Charts port on pygal: each chart is one inline ``<svg>``, with nothing to fetch.

Why pygal: it renders SVG in pure Python (no browser, no Node, no CDN), its styles are
inlined into the SVG, and its only external reference — the tooltip script, a
``kozea.github.io`` URL — is turned off with ``js=[]``. What little it still embeds that
a report does not need (an inline ``<script>`` with its config, comments naming its web
site) is removed, so the contract can assert "no script, no URL" outright. Charts have a
``viewBox`` and no fixed size: they scale to the page's width.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pygal
from pygal.style import Style

from orchcore.ports.charts import TimeBar

# pygal appends to sys.meta_path a finder for its map plugins (pygal.maps.*, unused here) that
# has only the legacy find_module: from then on every import miss warns (ImportWarning, an error
# under -W error) and Python 3.12 ignores such finders anyway. Drop it, as 3.12 would.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

# task outcomes (and anything else) get a colour each; the known ones say what they are
KIND_COLOURS = {
    "succeeded": "#2e7d32",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "timed_out": "#ef6c00",
    "error": "#ad1457",
    "stopped": "#6d4c41",
    "cancelled": "#6d4c41",
    "interrupted": "#f9a825",
    "rate_limited": "#8e24aa",
    "asked": "#1565c0",
    "waiting_answer": "#1565c0",
    "waiting_approval": "#0277bd",
    "running": "#00838f",
    "pending": "#9e9e9e",
    "not run": "#bdbdbd",
    "blocked": "#757575",
}
OTHER_COLOURS = ("#3949ab", "#00897b", "#7cb342", "#fb8c00", "#5e35b1", "#546e7a")


def _style(kinds: Sequence[str], stroke: int = 1) -> Style:
    spare = iter(OTHER_COLOURS * (len(kinds) // len(OTHER_COLOURS) + 1))
    colours = tuple(KIND_COLOURS.get(k) or next(spare) for k in kinds)
    return Style(
        colors=colours,
        background="white",
        plot_background="white",
        font_family="system-ui, sans-serif",
        title_font_size=18,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        stroke_width=stroke,  # the series' lines: the time line's bars are lines this thick
        stroke_width_hover=stroke,
        stroke_opacity=1,
        stroke_opacity_hover=1,
    )


_CHART_ID = re.compile(r'<svg[^>]*\sid="([^"]+)"')


def _thin_legend(svg: str) -> str:
    """The time line's bars are 14 px strokes; its legend's colour boxes are not."""
    found = _CHART_ID.search(svg)
    if found is None:
        return svg
    rule = f"#{found.group(1)} .legends rect.reactive{{stroke-width:1}}"
    return svg.replace("</style>", rule + "</style>", 1)


def _clean(svg: str) -> str:
    return _COMMENT.sub("", _SCRIPT.sub("", svg))


def _options(title: str, kinds: Sequence[str], height: int, stroke: int = 1) -> dict[str, Any]:
    return {
        "title": title,
        "style": _style(kinds, stroke),
        "js": [],  # pygal's default is a tooltip script from kozea.github.io: nothing external
        "disable_xml_declaration": True,  # inline in HTML
        "height": height,
        "width": 800,
        "legend_at_bottom": True,
        "truncate_label": 28,
        "truncate_legend": 24,
        "print_values": False,
    }


class PygalCharts:
    """Satisfies orchcore.ports.Charts with pygal 3."""

    def timeline(self, title: str, bars: Sequence[TimeBar]) -> str:
        rows = list(dict.fromkeys(b.row for b in bars))
        kinds = list(dict.fromkeys(b.kind for b in bars))
        position = {row: len(rows) - i for i, row in enumerate(rows)}  # first row at the top
        # a bar of a few seconds on a day's axis is still seen: at least 1/150 of the span
        shortest = (max(b.end for b in bars) - min(b.start for b in bars)) / 150 if bars else None
        chart = pygal.DateTimeLine(
            **_options(title, kinds, 160 + 26 * max(len(rows), 1), stroke=14),
            show_dots=False,
            allow_interruptions=True,  # a None between two bars: no line joins them
            fill=False,
            x_label_rotation=30,
            x_value_formatter=lambda at: at.strftime("%H:%M"),
            show_y_guides=True,
            range=(0.5, len(rows) + 0.5),
        )
        chart.y_labels = [{"label": row, "value": position[row]} for row in rows]
        for kind in kinds:
            points: list[tuple[Any, float] | None] = []
            for b in bars:
                if b.kind == kind:
                    end = max(b.end, b.start + shortest) if shortest is not None else b.end
                    points += [(b.start, position[b.row]), (end, position[b.row]), None]
            chart.add(kind, points[:-1])
        return _thin_legend(_clean(chart.render(is_unicode=True)))

    def bars(self, title: str, values: Sequence[tuple[str, float]], unit: str) -> str:
        chart = pygal.HorizontalBar(
            **_options(title, ["value"], 140 + 24 * max(len(values), 1)),
            show_legend=False,
            x_title=unit,
        )
        chart.x_labels = [label for label, _ in values]
        chart.add(unit, [float(v) for _, v in values])
        return _clean(chart.render(is_unicode=True))

    def stacked(self, title: str, categories: Sequence[str], series: Mapping[str, Sequence[int]]) -> str:
        chart = pygal.StackedBar(**_options(title, list(series), 420))
        chart.x_labels = list(categories)
        for name, counts in series.items():
            chart.add(name, [int(n) for n in counts])
        return _clean(chart.render(is_unicode=True))
