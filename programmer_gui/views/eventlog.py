"""The event log page: a sortable, filterable table (a QAbstractTableModel) and CSV export.

:class:`EventLogModel` holds the rows; :class:`EventFilterProxy` sorts and
filters them by group and text. Layout only otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.eventlog import CATEGORIES, EventRow
from programmer_gui.views.widgets import FlowLayout, StatusBadge, flow_row, scroll_page, section

HEADERS = ("#", "Time (local)", "Group", "Event", "Details")
Index = QModelIndex | QPersistentModelIndex


class EventLogModel(QAbstractTableModel):
    """The log's rows; column 0 and 1 sort by number and time (UserRole)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[EventRow] = []

    @property
    def rows(self) -> list[EventRow]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[EventRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's API
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(row.index), row.time_text, row.category, row.event, row.details)[column]
        if role == Qt.ItemDataRole.UserRole:
            return (row.index, row.clock_s, row.category, row.event, row.details)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.event}: {row.details}"
        return None

    def headerData(  # noqa: N802 - Qt's API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def row_at(self, row: int) -> EventRow:
        return self._rows[row]


SORT_WORDS = (
    ("first to last", "last to first"),
    ("oldest first", "newest first"),
    ("A to Z", "Z to A"),
    ("A to Z", "Z to A"),
    ("A to Z", "Z to A"),
)
"""Per column: (ascending, descending) in words."""


class EventFilterProxy(QSortFilterProxyModel):
    """Sorts on the raw values and keeps the rows of the chosen groups containing the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.categories: frozenset[str] | None = None
        self.text = ""

    def set_filter(self, *, categories: frozenset[str] | None, text: str) -> None:
        self.beginFilterChange()
        self.categories = categories
        self.text = text
        self.endFilterChange()

    def headerData(  # noqa: N802 - Qt's API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """The sorted column says its order in words: Qt's arrow reads the wrong way round
        in some styles (an upward arrow over the newest entry first)."""
        title = super().headerData(section, orientation, role)
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and section == self.sortColumn()
            and 0 <= section < len(SORT_WORDS)
        ):
            descending = self.sortOrder() is Qt.SortOrder.DescendingOrder
            return f"{title} ({SORT_WORDS[section][descending]})"
        return title

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        super().sort(column, order)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if not isinstance(model, EventLogModel):
            return True
        return model.row_at(source_row).matches(categories=self.categories, text=self.text)


class EventLogPage(QWidget):
    """Filters, the table and the export button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Event log")
        filters = section("Show", self)
        filter_layout = QVBoxLayout(filters)
        checks = FlowLayout()
        self.group_checks: dict[str, QCheckBox] = {}
        for name in CATEGORIES:
            check = QCheckBox(name, filters)
            check.setChecked(True)
            self.group_checks[name] = check
            checks.addWidget(check)
        filter_layout.addLayout(checks)
        search = QHBoxLayout()
        caption = QLabel("&Containing:", filters)
        self.search_edit = QLineEdit(filters)
        self.search_edit.setPlaceholderText("text, e.g. bolus or 2000 mcg")
        caption.setBuddy(self.search_edit)
        search.addWidget(caption)
        search.addWidget(self.search_edit, 1)
        filter_layout.addLayout(search)
        layout.addWidget(filters)

        self.model = EventLogModel(self)
        self.proxy = EventFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.horizontalHeader().setSortIndicatorShown(False)  # the title says the order
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)

        self.count_label = QLabel("—", self)
        self.message = StatusBadge(self, hide_when_empty=True)
        self.read_button = QPushButton("&Read the log from the pump", self)
        self.export_button = QPushButton("E&xport shown rows to CSV…", self)
        self.count_label.setWordWrap(True)
        layout.addWidget(self.count_label)
        layout.addLayout(flow_row(self.read_button, self.export_button))
        layout.addWidget(self.message)

    def shown_rows(self) -> list[EventRow]:
        """The rows the table shows, in its order."""
        rows = []
        for r in range(self.proxy.rowCount()):
            source = self.proxy.mapToSource(self.proxy.index(r, 0))
            rows.append(self.model.row_at(source.row()))
        return rows
