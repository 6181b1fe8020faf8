"""The flex chart: 24 hours of pump time of day on x, the dose rate on y, the current profile
dashed beside the new one (pyqtgraph, imported only when a chart is first made)."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

CURRENT_PEN = pg.mkPen("#7a7a7a", width=2, style=Qt.PenStyle.DashLine)
PENDING_PEN = pg.mkPen("#1f5fa8", width=3)
HOUR_LINE_PEN = pg.mkPen("#dddddd", width=1)


HOUR_LABEL_STEP_H = 6
"""Hour labels every 6 h (a label every 3 h runs together on a chart this narrow)."""
HOUR_GRID_STEP_H = 3
_EDGE_LABEL_PX = 24
"""Room at the right of the x axis so the "24:00" label is drawn whole."""


def hour_ticks() -> list[list[tuple[float, str]]]:
    """The x axis ticks: labelled every 6 h, an unlabelled grid line between."""
    labelled = [(float(h), f"{h:02d}:00") for h in range(0, 25, HOUR_LABEL_STEP_H)]
    between = [(float(h), "") for h in range(0, 25, HOUR_GRID_STEP_H) if h % HOUR_LABEL_STEP_H != 0]
    return [labelled, between]


def profile_chart(parent: QWidget | None = None) -> pg.PlotWidget:
    """A 24-hour chart: pump time of day on x, dose rate in mcg/day on y.

    The key sits under the plot, never over the lines.
    """
    plot = pg.PlotWidget(parent, background="w")
    plot.setMinimumHeight(240)
    plot.setLabel("bottom", "Pump time of day (HH:MM)")
    plot.setLabel("left", "Dose rate (mcg/day)")
    plot.setXRange(0, 24, padding=0)
    # No grid from the x axis: with one, pyqtgraph hides the "00:00" and "24:00" labels
    # that reach past the ends of the axis. set_profiles draws the hour lines instead.
    plot.showGrid(x=False, y=True, alpha=0.3)
    bottom = plot.getAxis("bottom")
    bottom.setTicks(hour_ticks())
    bottom.setStyle(hideOverlappingLabels=_EDGE_LABEL_PX)
    item = plot.getPlotItem()
    item.layout.setContentsMargins(1, 1, _EDGE_LABEL_PX, 1)
    key = pg.LegendItem(colCount=2, labelTextColor="#222222")
    item.layout.addItem(key, 4, 1)
    item.legend = key  # plot(name=...) then adds each curve to this key
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()  # no "A" (auto-range) glyph in a chart that cannot be zoomed
    return plot


def set_profiles(
    plot: pg.PlotWidget,
    *,
    current: tuple[Sequence[float], Sequence[float]] | None,
    pending: tuple[Sequence[float], Sequence[float]] | None,
    current_name: str = "Current (pump)",
    pending_name: str = "New profile",
) -> None:
    """Draw the current profile dashed grey and the new one solid blue (named in the key
    under the chart, so the two differ by line style and name, not colour alone)."""
    plot.clear()
    for hour in range(HOUR_GRID_STEP_H, 24, HOUR_GRID_STEP_H):
        plot.addItem(pg.InfiniteLine(pos=hour, angle=90, pen=HOUR_LINE_PEN))
    top = 0.0
    for curve, pen, name in (
        (current, CURRENT_PEN, current_name),
        (pending, PENDING_PEN, pending_name),
    ):
        if curve is None or not curve[1]:
            continue
        xs, ys = curve
        plot.plot(list(xs), list(ys), stepMode="center", pen=pen, name=name)
        top = max(top, *ys)
    plot.setYRange(0, max(top * 1.15, 1.0), padding=0)
