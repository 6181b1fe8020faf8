"""The trends page: the reservoir volume and the 24-hour dose over time, with the forecast to
the low-reservoir alarm. Layout and drawing only; the controller computes every series
from ``programmer_gui.core.trends``.

The x axis is the date on the pump's clock, as every date in the programmer is. The kinds
of line differ by style, never by colour alone, and the key under the charts names each
style: the log reconstruction dashed, the pump's own readings as dots, the forecast dotted.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from programmer_gui.views.widgets import (
    BASE_POINT_SIZE,
    StatusBadge,
    ValueForm,
    scroll_page,
    section,
)

LOG_PEN = pg.mkPen("#555555", width=2, style=Qt.PenStyle.DashLine)
POLL_BRUSH = pg.mkBrush("#1f5fa8")
FORECAST_PEN = pg.mkPen("#b3261e", width=2, style=Qt.PenStyle.DotLine)
ALARM_LINE_PEN = pg.mkPen("#b07d00", width=2, style=Qt.PenStyle.DashDotLine)
NOW_PEN = pg.mkPen("#222222", width=1)

Series = tuple[Sequence[float], Sequence[float]]
"""(x as programmer-clock Unix seconds, y in the plot's unit)."""


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
    return plot


def step_series(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """A value that holds until the next point, as a staircase."""
    out_x: list[float] = []
    out_y: list[float] = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if i:
            out_x.append(x)
            out_y.append(out_y[-1])
        out_x.append(x)
        out_y.append(y)
    return out_x, out_y


class Figures:
    """The figures of several value forms, set and read by key."""

    def __init__(self, *forms: ValueForm) -> None:
        self.values: dict[str, QLabel] = {}
        for form in forms:
            self.values.update(form.values)

    def set_value(self, key: str, text: str) -> None:
        self.values[key].setText(text)

    def value(self, key: str) -> str:
        return self.values[key].text()


class TrendsPage(QWidget):
    """Two charts sharing the date axis, the figures beside them, and a refresh."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Trends")

        figures_box = section("Now and ahead", self)
        figures_layout = QHBoxLayout(figures_box)
        figures_layout.setContentsMargins(6, 2, 6, 2)
        now_form = ValueForm(figures_box)
        now_form.add_row("reservoir", "Reservoir (pump's estimate)", big=True)
        now_form.add_row("dose", "24-hour dose")
        ahead_form = ValueForm(figures_box)
        ahead_form.add_row("alarm", "Low-reservoir alarm")
        ahead_form.add_row("empty", "Empty")
        self.figures = Figures(now_form, ahead_form)
        figures_layout.addWidget(now_form, 1)
        figures_layout.addWidget(ahead_form, 1)
        layout.addWidget(figures_box)

        self.reservoir_plot = trend_plot("Reservoir volume", "Reservoir (mL)", self)
        self.dose_plot = trend_plot("24-hour dose", "Dose (mcg/day)", self)
        self.dose_plot.setXLink(self.reservoir_plot)
        self.reservoir_plot.setAccessibleName("chart of the reservoir volume over time")
        self.dose_plot.setAccessibleName("chart of the 24-hour dose over time")
        layout.addWidget(self.reservoir_plot, 3)
        layout.addWidget(self.dose_plot, 2)
        self.key_label = QLabel(
            "Key: <b>- - dashed</b> = reconstructed from the pump's event log, an estimate (a "
            "refill is taken to start from an emptied reservoir); <b>● dots</b> = read from the "
            "pump, exact; <b>····· dotted</b> = forecast to the low-reservoir alarm and to "
            "empty; <b>-·-·</b> = the alarm volume and the alarm date.",
            self,
        )
        self.key_label.setWordWrap(True)
        layout.addWidget(self.key_label)
        history_row = QHBoxLayout()
        self.history_label = QLabel("—", self)
        self.history_label.setWordWrap(True)
        self.refresh_button = QPushButton("&Read the log again", self)
        history_row.addWidget(self.history_label, 1)
        history_row.addWidget(self.refresh_button, 0)
        layout.addLayout(history_row)
        self.message = StatusBadge(self)
        """Shown only while the log is read or when it could not be."""
        self.message.hide()
        layout.addWidget(self.message)

    def draw(
        self,
        *,
        reservoir_log: Series,
        reservoir_polls: Series,
        forecast: Series,
        dose_log: Series,
        dose_polls: Series,
        alarm_volume_ml: float,
        now_x: float,
        alarm_x: float | None,
        alarm_text: str,
        x_range: tuple[float, float],
    ) -> None:
        """Replace both charts' contents (x in programmer-clock Unix seconds)."""
        res, dose = self.reservoir_plot, self.dose_plot
        res.clear()
        dose.clear()
        res.plot(
            list(reservoir_log[0]), list(reservoir_log[1]), pen=LOG_PEN, name="from the event log"
        )
        res.plot(
            list(reservoir_polls[0]),
            list(reservoir_polls[1]),
            pen=None,
            symbol="o",
            symbolSize=8,
            symbolBrush=POLL_BRUSH,
            name="read from the pump",
        )
        res.plot(list(forecast[0]), list(forecast[1]), pen=FORECAST_PEN, name="forecast")
        volume_line = pg.InfiniteLine(
            pos=alarm_volume_ml,
            angle=0,
            pen=ALARM_LINE_PEN,
            label=f"alarm volume {alarm_volume_ml:.1f} mL",
            labelOpts={"position": 0.08, "color": "#6b4c00", "anchors": [(0, 1), (0, 1)]},
        )
        res.addItem(volume_line)
        log_x, log_y = step_series(dose_log[0], dose_log[1])
        dose.plot(log_x, log_y, pen=LOG_PEN, name="from the event log")
        dose.plot(
            list(dose_polls[0]),
            list(dose_polls[1]),
            pen=None,
            symbol="o",
            symbolSize=8,
            symbolBrush=POLL_BRUSH,
            name="read from the pump",
        )
        for plot in (res, dose):
            plot.addItem(
                pg.InfiniteLine(
                    pos=now_x,
                    angle=90,
                    pen=NOW_PEN,
                    label="now",
                    labelOpts={"position": 0.95, "color": "#222222"},
                )
            )
            if alarm_x is not None:
                plot.addItem(
                    pg.InfiniteLine(
                        pos=alarm_x,
                        angle=90,
                        pen=ALARM_LINE_PEN,
                        label=alarm_text if plot is res else "",
                        labelOpts={
                            "position": 0.55,
                            "color": "#6b4c00",
                            "anchors": [(1, 0.5), (1, 0.5)],
                        },
                    )
                )
        top_ml = max([*reservoir_log[1], *reservoir_polls[1], *forecast[1], alarm_volume_ml])
        res.setYRange(0, top_ml * 1.15 + 0.5, padding=0)
        top_dose = max([*dose_log[1], *dose_polls[1], 1.0])
        dose.setYRange(0, top_dose * 1.2, padding=0)
        res.setXRange(*x_range, padding=0)
