"""The trends page's two charts (pyqtgraph, imported only when the page is first drawn): the
reservoir volume and the 24-hour dose over time on the pump's dates, each line kind in its own
style (never colour alone)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from programmer_gui.views.trends import Series, TrendsChart, step_series
from programmer_gui.views.widgets import BASE_POINT_SIZE
from protocol.units import Quantity

LOG_PEN = pg.mkPen("#555555", width=2, style=Qt.PenStyle.DashLine)
POLL_BRUSH = pg.mkBrush("#1f5fa8")
FORECAST_PEN = pg.mkPen("#b3261e", width=2, style=Qt.PenStyle.DotLine)
ALARM_LINE_PEN = pg.mkPen("#b07d00", width=2, style=Qt.PenStyle.DashDotLine)
NOW_PEN = pg.mkPen("#222222", width=1)


def trend_plot(title: str, unit_label: str, parent: QWidget | None = None) -> pg.PlotWidget:
    """A plot with dates on x and ``unit_label`` on y (its unit in the label)."""
    axis = pg.DateAxisItem(orientation="bottom")
    plot = pg.PlotWidget(parent, background="w", axisItems={"bottom": axis})
    plot.setMinimumHeight(200)
    plot.setTitle(title, color="#222222", size=f"{BASE_POINT_SIZE}pt")
    plot.setLabel("left", unit_label, color="#222222")
    plot.setLabel("bottom", "Date (pump clock)", color="#222222")
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=True, y=False)
    plot.hideButtons()  # no stray "A" (auto-range) glyph over the dates
    return plot


def draw(res: pg.PlotWidget, dose: pg.PlotWidget, chart: TrendsChart) -> None:
    """Replace both charts' contents (x in pump-clock Unix seconds)."""
    res.clear()
    dose.clear()
    res.plot(
        list(chart.reservoir_log[0]),
        list(chart.reservoir_log[1]),
        pen=LOG_PEN,
        name="from the event log",
    )
    _plot_polls(res, chart.reservoir_polls)
    res.plot(list(chart.forecast[0]), list(chart.forecast[1]), pen=FORECAST_PEN, name="forecast")
    volume_line = pg.InfiniteLine(
        pos=chart.alarm_volume_ml,
        angle=0,
        pen=ALARM_LINE_PEN,
        label=f"alarm volume {Quantity.VOLUME.text(chart.alarm_volume_ml)}",
        labelOpts={"position": 0.08, "color": "#6b4c00", "anchors": [(0, 1), (0, 1)]},
    )
    res.addItem(volume_line)
    log_x, log_y = step_series(chart.dose_log[0], chart.dose_log[1])
    dose.plot(log_x, log_y, pen=LOG_PEN, name="from the event log")
    _plot_polls(dose, chart.dose_polls)
    for plot in (res, dose):
        plot.addItem(
            pg.InfiniteLine(
                pos=chart.now_x,
                angle=90,
                pen=NOW_PEN,
                label="now",
                labelOpts={"position": 0.95, "color": "#222222"},
            )
        )
        if chart.alarm_x is not None:
            plot.addItem(
                pg.InfiniteLine(
                    pos=chart.alarm_x,
                    angle=90,
                    pen=ALARM_LINE_PEN,
                    label=chart.alarm_text if plot is res else "",
                    labelOpts={
                        "position": 0.55,
                        "color": "#6b4c00",
                        "anchors": [(1, 0.5), (1, 0.5)],
                    },
                )
            )
    top_ml = max(
        [
            *chart.reservoir_log[1],
            *chart.reservoir_polls[1],
            *chart.forecast[1],
            chart.alarm_volume_ml,
        ]
    )
    res.setYRange(0, top_ml * 1.15 + 0.5, padding=0)
    top_dose = max([*chart.dose_log[1], *chart.dose_polls[1], 1.0])
    dose.setYRange(0, top_dose * 1.2, padding=0)
    res.setXRange(*chart.x_range, padding=0)


def _plot_polls(plot: pg.PlotWidget, polls: Series) -> None:
    """The pump's own readings, as dots."""
    plot.plot(
        list(polls[0]),
        list(polls[1]),
        pen=None,
        symbol="o",
        symbolSize=8,
        symbolBrush=POLL_BRUSH,
        name="read from the pump",
    )
