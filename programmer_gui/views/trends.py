"""The trends page: the reservoir volume and the 24-hour dose over time, with the forecast to
the low-reservoir alarm. Layout and drawing only; the controller computes every series
from ``programmer_gui.core.trends``.

The x axis is the date on the pump's clock, as every date in the programmer is. The kinds
of line differ by style, never by colour alone, and the key under the charts names each
style: the log reconstruction dashed, the pump's own readings as dots, the forecast dotted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from programmer_gui.views.widgets import (
    StatusBadge,
    ValueForm,
    scroll_page,
    section,
)

if TYPE_CHECKING:
    from pyqtgraph import PlotWidget

Series = tuple[Sequence[float], Sequence[float]]
"""(x as programmer-clock Unix seconds, y in the plot's unit)."""


@dataclass(frozen=True, kw_only=True)
class TrendsChart:
    """What the two charts show (x in pump-clock Unix seconds)."""

    reservoir_log: Series
    """Reservoir volume reconstructed from the event log, mL."""
    reservoir_polls: Series
    """Reservoir volume read from the pump, mL."""
    forecast: Series
    """Forecast reservoir volume, mL."""
    dose_log: Series
    """24-hour dose from the event log, mcg/day."""
    dose_polls: Series
    """24-hour dose read from the pump, mcg/day."""
    alarm_volume_ml: float
    now_x: float
    alarm_x: float | None
    """When the low-reservoir alarm is forecast (None: not within the forecast)."""
    alarm_text: str
    x_range: tuple[float, float]


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

        # The two charts come when the page is first drawn (pyqtgraph loads then).
        self._plots: tuple[PlotWidget, PlotWidget] | None = None
        self.charts_layout = QVBoxLayout()
        charts = QWidget(self)
        charts.setMinimumHeight(440)
        charts.setLayout(self.charts_layout)
        self.charts_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(charts, 1)
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

    def _make_plots(self) -> tuple[PlotWidget, PlotWidget]:
        if self._plots is None:
            from programmer_gui.views import trends_charts  # noqa: PLC0415 - pyqtgraph now

            reservoir = trends_charts.trend_plot("Reservoir volume", "Reservoir (mL)", self)
            dose = trends_charts.trend_plot("24-hour dose", "Dose (mcg/day)", self)
            dose.setXLink(reservoir)
            reservoir.setAccessibleName("chart of the reservoir volume over time")
            dose.setAccessibleName("chart of the 24-hour dose over time")
            self.charts_layout.addWidget(reservoir, 3)
            self.charts_layout.addWidget(dose, 2)
            self._plots = (reservoir, dose)
        return self._plots

    @property
    def reservoir_plot(self) -> PlotWidget:
        """The reservoir chart, made (and pyqtgraph loaded) when the page is first drawn."""
        return self._make_plots()[0]

    @property
    def dose_plot(self) -> PlotWidget:
        return self._make_plots()[1]

    def draw(self, chart: TrendsChart) -> None:
        """Replace both charts' contents (x in pump-clock Unix seconds)."""
        from programmer_gui.views import trends_charts  # noqa: PLC0415 - pyqtgraph now

        reservoir, dose = self._make_plots()
        trends_charts.draw(reservoir, dose, chart)
