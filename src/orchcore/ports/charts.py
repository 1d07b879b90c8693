"""The Charts port: draws the report's charts as self-contained SVG markup.

What a chart shows is decided in orchcore (the day report's spans, costs and outcome
counts); how it is drawn belongs to an adapter, so no chart library reaches the core. Every
chart an adapter returns is one ``<svg>`` element with no script, no external reference (no
URL it would fetch: fonts, styles and images are inline or absent) and a ``viewBox``, so it
scales to the width of a phone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs


@attrs.frozen
class TimeBar:
    """One bar of a time line: ``row`` (what ran) from ``start`` to ``end``, coloured by ``kind``."""

    row: str
    start: datetime
    end: datetime
    kind: str


class Charts(Protocol):
    """Draws charts; each method returns one ``<svg>`` element as text."""

    def timeline(self, title: str, bars: Sequence[TimeBar]) -> str:
        """A time line: one row per distinct ``row``, a bar per item, one colour per ``kind``."""
        ...

    def bars(self, title: str, values: Sequence[tuple[str, float]], unit: str) -> str:
        """Horizontal bars, one per label, in the order given; ``unit`` names the axis (e.g. USD)."""
        ...

    def stacked(self, title: str, categories: Sequence[str], series: Mapping[str, Sequence[int]]) -> str:
        """Stacked bars: one bar per category, one segment per series (each as long as categories)."""
        ...
