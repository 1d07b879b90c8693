"""The Charts port drawn by pygal (the ``[report]`` extra): SVG rendered in Python, no JavaScript."""

from __future__ import annotations

from adapters.charts.pygal_charts import PygalCharts

__all__ = ["PygalCharts"]
