"""The Charts contract on pygal (the ``report`` extra); skipped with the reason when it is not installed."""

from __future__ import annotations

import pytest

from orchcore.ports.charts import Charts
from orchcore.testing.contracts import ChartsContract

pygal_charts = pytest.importorskip(
    "adapters.charts", reason="pygal is not installed (the report extra: pipx inject orchcore-cli pygal)"
)


class TestPygalCharts(ChartsContract):
    @pytest.fixture
    def make_charts(self) -> Charts:
        return pygal_charts.PygalCharts()
