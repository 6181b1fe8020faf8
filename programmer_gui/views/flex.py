"""The flex dosing page: a table of steps beside a 24-hour chart, the 24-hour dose always shown.

Layout only: the controller fills the table, the chart and the messages from
``programmer_gui.core.flex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from pyqtgraph import PlotWidget

# Two-line headers keep the five columns narrow enough to show whole beside the chart.
COLUMNS = (
    "Start\n(HH:MM)",
    "End\n(HH:MM)",
    "Dose rate\n(mcg/day)",
    "Rate\n(mL/day)",
    "Delivers\n(each day)",
)
EDITABLE_COLUMNS = 3


def profile_chart(parent: QWidget | None = None) -> PlotWidget:
    """The 24-hour chart (:mod:`programmer_gui.views.flex_chart`; pyqtgraph loads now)."""
    from programmer_gui.views import flex_chart  # noqa: PLC0415 - pyqtgraph on first use

    return flex_chart.profile_chart(parent)


def set_profiles(
    plot: PlotWidget,
    *,
    current: tuple[Sequence[float], Sequence[float]] | None,
    pending: tuple[Sequence[float], Sequence[float]] | None,
    current_name: str = "Current (pump)",
    pending_name: str = "New profile",
) -> None:
    """Draw both profiles (:func:`programmer_gui.views.flex_chart.set_profiles`)."""
    from programmer_gui.views import flex_chart  # noqa: PLC0415 - pyqtgraph on first use

    flex_chart.set_profiles(
        plot,
        current=current,
        pending=pending,
        current_name=current_name,
        pending_name=pending_name,
    )


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
        self.chart_layout = QVBoxLayout(chart_box)
        self._chart: PlotWidget | None = None
        self.chart_box = chart_box
        chart_box.setMinimumHeight(300)  # the chart comes when first drawn: no jump then
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

    @property
    def chart(self) -> PlotWidget:
        """The 24-hour chart, made (and pyqtgraph loaded) when first drawn."""
        if self._chart is None:
            self._chart = profile_chart(self.chart_box)
            self.chart_layout.addWidget(self._chart)
        return self._chart

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
