"""The flex dosing page: a table of steps beside a 24-hour chart, the 24-hour dose always shown.

Layout only: the controller fills the table, the chart and the messages from
``programmer_gui.core.flex``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.flex import WEEKDAYS
from programmer_gui.views.widgets import (
    Columns,
    StatusBadge,
    figure_font,
    flow_row,
    scroll_page,
    section,
)

# Two-line headers keep the five columns narrow enough to show whole beside the chart.
COLUMNS = (
    "Start\n(HH:MM)",
    "End\n(HH:MM)",
    "Dose rate\n(mcg/day)",
    "Rate\n(mL/day)",
    "Delivers\n(each day)",
)
EDITABLE_COLUMNS = 3
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


class FlexPage(QWidget):
    """Steps table, weekday choice, chart, the 24-hour dose and the checks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Flex dosing")

        self.weekly_check = QCheckBox("&Different profile for each weekday", self)
        self.weekday_combo = QComboBox(self)
        self.weekday_combo.addItems(list(WEEKDAYS))
        self.weekday_label = QLabel("&Weekday:", self)
        self.weekday_label.setBuddy(self.weekday_combo)
        self.copy_button = QPushButton("&Copy this day to every day", self)
        layout.addLayout(
            flow_row(self.weekly_check, self.weekday_label, self.weekday_combo, self.copy_button)
        )

        body = Columns(self)
        steps_box = section("Steps (pump time of day)", self)
        steps_layout = QVBoxLayout(steps_box)
        steps_note = QLabel("&Steps: each runs from its Start to its End.", steps_box)
        steps_note.setWordWrap(True)
        steps_layout.addWidget(steps_note)
        self.table = QTableWidget(0, len(COLUMNS), steps_box)
        steps_note.setBuddy(self.table)  # Alt+S: to the table, whose cells take typing
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTabKeyNavigation(True)
        self.table.setMinimumWidth(360)
        steps_layout.addWidget(self.table)
        self.add_button = QPushButton("&Add step", steps_box)
        self.remove_button = QPushButton("Re&move step", steps_box)
        self.reset_button = QPushButton("Start again from the &pump's profile", steps_box)
        steps_layout.addLayout(flow_row(self.add_button, self.remove_button, self.reset_button))
        body.add(steps_box)

        chart_box = section("24 hours", self)
        chart_layout = QVBoxLayout(chart_box)
        self.chart = profile_chart(chart_box)
        chart_layout.addWidget(self.chart)
        body.add(chart_box)
        layout.addWidget(body, 1)

        dose_box = section("24-hour dose", self)
        dose_layout = QVBoxLayout(dose_box)
        self.dose_label = QLabel("—", dose_box)
        self.dose_label.setFont(figure_font())
        self.dose_label.setWordWrap(True)
        dose_layout.addWidget(self.dose_label)
        layout.addWidget(dose_box)

        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.review_button = QPushButton("&Review changes…", self)
        self.review_button.setDefault(True)
        actions.addWidget(self.review_button)
        layout.addLayout(actions)

    def set_rows(self, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Fill the table; the last two columns (computed) are read-only."""
        table = self.table
        blocked = table.blockSignals(True)
        table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c >= EDITABLE_COLUMNS:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    item.setForeground(Qt.GlobalColor.darkGray)
                table.setItem(r, c, item)
        table.blockSignals(blocked)

    def set_computed(self, row: int, rate: str, delivers: str) -> None:
        """Update the read-only columns of one row without a change signal."""
        table = self.table
        blocked = table.blockSignals(True)
        for column, text in ((3, rate), (4, delivers)):
            item = table.item(row, column)
            if item is not None:
                item.setText(text)
        table.blockSignals(blocked)

    def cell_texts(self) -> list[tuple[str, str, str]]:
        """The editable cells of every row: (start, end, dose)."""
        found = []
        for r in range(self.table.rowCount()):
            texts = []
            for c in range(EDITABLE_COLUMNS):
                item = self.table.item(r, c)
                texts.append("" if item is None else item.text())
            found.append((texts[0], texts[1], texts[2]))
        return found
