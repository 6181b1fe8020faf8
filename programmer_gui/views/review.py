"""The review page: current and pending settings side by side, warnings to acknowledge, and
the one "Program pump" button. Layout only."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import (
    Severity,
    StatusBadge,
    ValueForm,
    figure_font,
    scroll_page,
    section,
)

CHANGED_MARK = "● "
"""Prefix of a pending value that differs from the current one (bold too: not colour alone)."""


class FittedTable(QTableWidget):
    """A table as tall as its rows, each row as tall as its wrapped text at the columns'
    width now (measured again whenever the table or a column changes width): it never
    scrolls inside the scrolling page, and no row stays stretched from a narrower layout."""

    def __init__(self, rows: int, columns: int, parent: QWidget | None = None) -> None:
        super().__init__(rows, columns, parent)
        rows_header = self.verticalHeader()
        rows_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rows_header.sectionResized.connect(lambda *_args: self.fit())
        self.horizontalHeader().sectionResized.connect(lambda *_args: self.fit())

    def fit(self) -> None:
        self.resizeRowsToContents()
        height = self.horizontalHeader().height() + 2 * self.frameWidth()
        height += sum(self.rowHeight(i) for i in range(self.rowCount()))
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()

    def updateGeometries(self) -> None:  # noqa: N802 - Qt's name
        # Qt lays rows out after the events in hand: fit the height once it has.
        super().updateGeometries()
        self.fit()


class ReviewPage(QWidget):
    """Rows, the 24-hour dose and its change, notes, an optional chart, warnings, buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, body, self.scroll_area = scroll_page(self, "Review")

        dose = section("24-hour dose", body)
        self.dose = ValueForm(dose)
        self.dose.add_row("current", "Current", big=True)
        self.dose.add_row("pending", "Pending", big=True)
        self.dose.add_row("change", "Change", big=True)
        QVBoxLayout(dose).addWidget(self.dose)
        layout.addWidget(dose)

        settings = section("Settings: current and pending", body)
        settings_layout = QVBoxLayout(settings)
        self.table = FittedTable(0, 3, settings)
        self.table.setHorizontalHeaderLabels(["Setting", "Current", "Pending"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        # The table never scrolls inside the scrolling page: it is as tall as its rows, and
        # its wrapped rows are measured again whenever its columns change width.
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setAccessibleName("current and pending settings")
        settings_layout.addWidget(self.table)
        self.changed_hint = QLabel(f"{CHANGED_MARK}marks a pending value that changes.", settings)
        settings_layout.addWidget(self.changed_hint)
        layout.addWidget(settings)

        self.chart_box = section("Chart", body)
        self.chart_layout = QVBoxLayout(self.chart_box)
        self.chart_box.hide()
        layout.addWidget(self.chart_box)

        self.notes_box = section("After programming", body)
        self.notes_layout = QVBoxLayout(self.notes_box)
        self.notes_label = QLabel(self.notes_box)
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_layout.addWidget(self.notes_label)
        layout.addWidget(self.notes_box)

        self.warnings_box = section("Warnings: acknowledge each one to program", body)
        self.warnings_layout = QVBoxLayout(self.warnings_box)
        self.warning_checks: list[QCheckBox] = []
        self.warning_rows: list[QWidget] = []
        layout.addWidget(self.warnings_box)

        self.result = StatusBadge(body, point_size=12)
        self.result.hide()
        layout.addWidget(self.result)

        # The buttons stay in view below the scrolling page (never below the fold).
        footer = QWidget(self)
        footer.setObjectName("ReviewFooter")
        buttons = QHBoxLayout(footer)
        buttons.setContentsMargins(16, 6, 16, 8)
        self.program_button = QPushButton("&Program pump", body)
        self.program_button.setFont(figure_font(13))
        self.program_button.setMinimumHeight(40)
        self.cancel_button = QPushButton("&Cancel (change nothing)", body)
        self.cancel_button.setMinimumHeight(40)
        self.program_hint = QLabel(body)
        self.program_hint.setWordWrap(True)
        buttons.addWidget(self.program_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.program_hint, 1)
        outer = self.layout()
        assert isinstance(outer, QVBoxLayout)
        outer.addWidget(footer)
        layout.addStretch(1)
        self.chart: QWidget | None = None

    def set_rows(self, rows: list[tuple[str, str, str, bool]]) -> None:
        """(label, current, pending, changed) per row."""
        self.table.setRowCount(len(rows))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for i, (label, current, pending, changed) in enumerate(rows):
            cells = (label, current, (CHANGED_MARK + pending) if changed else pending)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if changed and column == 2:
                    item.setFont(bold)
                    item.setBackground(QBrush(QColor("#fff1c9")))
                self.table.setItem(i, column, item)
        self.table.fit()

    def warnings_below_view(self) -> bool:
        """Whether part of the warnings is below the visible part of the page."""
        if not self.warnings_box.isVisible():
            return False
        viewport = self.scroll_area.viewport()
        bottom = self.warnings_box.mapTo(viewport, self.warnings_box.rect().bottomLeft())
        return bottom.y() > viewport.height()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # The mouse wheel over the chart scrolls the page (the chart itself does not zoom).
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            QApplication.sendEvent(self.scroll_area.verticalScrollBar(), event)
            return True
        return super().eventFilter(watched, event)

    def set_warnings(self, texts: list[str]) -> None:
        self.warning_checks = []
        for row in self.warning_rows:
            # Hidden at once: until the event loop deletes it, it would still be drawn.
            row.hide()
            self.warnings_layout.removeWidget(row)
            row.deleteLater()
        self.warning_rows = []
        for i, text in enumerate(texts, 1):
            # A check box does not wrap its text: the warning is a wrapping label beside it.
            row = QWidget(self.warnings_box)
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 2, 0, 2)
            check = QCheckBox(f"&{i} Read" if i < 10 else "Read", row)
            check.setAccessibleName(f"acknowledge warning {i}: {text}")
            label = QLabel(text, row)
            label.setWordWrap(True)
            label.setBuddy(check)
            line.addWidget(check, 0, Qt.AlignmentFlag.AlignTop)
            line.addWidget(label, 1)
            self.warnings_layout.addWidget(row)
            self.warning_rows.append(row)
            self.warning_checks.append(check)
        self.warnings_box.setVisible(bool(texts))

    def set_notes(self, lines: list[str]) -> None:
        self.notes_label.setText("\n".join(lines))
        self.notes_box.setVisible(bool(lines))

    def set_chart(self, chart: QWidget | None) -> None:
        if self.chart is not None:
            self.chart_layout.removeWidget(self.chart)
            self.chart.setParent(None)
        self.chart = chart
        if chart is not None:
            self.chart_layout.addWidget(chart)
            chart.installEventFilter(self)
            viewport = chart.viewport() if isinstance(chart, QAbstractScrollArea) else None
            if viewport is not None:
                viewport.installEventFilter(self)
        self.chart_box.setVisible(chart is not None)

    def set_result(self, severity: Severity | None, text: str = "") -> None:
        if severity is None:
            self.result.hide()
            return
        self.result.set_status(severity, text)
        self.result.show()
