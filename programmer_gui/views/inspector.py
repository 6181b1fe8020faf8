"""The protocol inspector: every frame on the telemetry link, decoded beside its hex.

Layout and the Qt item model only; decoding lives in
:mod:`programmer_gui.core.educator` (:class:`~programmer_gui.core.educator.WireDecoder`).
The table lists one row per frame (time, direction arrow, opcode, SEQ, LEN and a
one-line description); selecting a row shows the frame's bytes field by field
(SYNC ... CRC) beside its decoded fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.educator import (
    EntryKind,
    WireEntry,
    entry_details,
    hex_text,
    is_routine,
    short_time,
)

__all__ = ["COLUMNS", "InspectorView", "RoutineFilter", "WireTableModel"]

COLUMNS = ("#", "Pump time", "Direction", "Op", "SEQ", "LEN", "Decoded")
"""The table's columns."""

MAX_ROWS = 2_000
"""Rows kept (the oldest go first): hours of polling at 2 s."""

_KIND_BACKGROUND = {
    EntryKind.NAK: "#fff1c9",
    EntryKind.DROPPED: "#fbdad7",
    EntryKind.NOTIFY: "#e4eef9",
}
_KIND_MARK = {EntryKind.NAK: "\u26a0 ", EntryKind.DROPPED: "\u2716 "}
"""An icon-like mark before the description: colour is never the only signal."""

_ROLE_ENTRY = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class WireTableModel(QAbstractTableModel):
    """The inspector's rows: :class:`~programmer_gui.core.educator.WireEntry`, oldest first."""

    def __init__(
        self, *, start_pump_s: int, max_rows: int = MAX_ROWS, parent: QObject | None = None
    ):
        super().__init__(parent)
        self._entries: list[WireEntry] = []
        self._start_pump_s = start_pump_s
        self._max_rows = max_rows

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 2:
                return entry.direction.words
            return entry.summary
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = _KIND_BACKGROUND.get(entry.kind)
            return None if colour is None else QBrush(QColor(colour))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == _ROLE_ENTRY:
            return entry
        return None

    def _text(self, entry: WireEntry, column: int) -> str:
        if column == 0:
            return str(entry.number)
        if column == 1:
            return short_time(entry.pump_s, self._start_pump_s)
        if column == 2:
            return entry.direction.arrow
        if column == 3:
            return entry.op_name
        if column == 4:
            return "" if entry.seq is None else str(entry.seq)
        if column == 5:
            return str(entry.payload_length)
        return _KIND_MARK.get(entry.kind, "") + entry.summary

    def entry(self, row: int) -> WireEntry:
        return self._entries[row]

    @property
    def entries(self) -> tuple[WireEntry, ...]:
        return tuple(self._entries)

    def append(self, entries: Sequence[WireEntry]) -> None:
        """Add rows at the end, dropping the oldest beyond the limit."""
        if not entries:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()
        excess = len(self._entries) - self._max_rows
        if excess > 0:
            self.beginRemoveRows(QModelIndex(), 0, excess - 1)
            del self._entries[:excess]
            self.endRemoveRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self.endResetModel()


class RoutineFilter(QSortFilterProxyModel):
    """Hides the programmer's routine polling (STATUS and the like) when asked to."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._hide_routine = False

    @property
    def hide_routine(self) -> bool:
        return self._hide_routine

    def set_hide_routine(self, hide: bool) -> None:
        self.beginFilterChange()
        self._hide_routine = hide
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        if not self._hide_routine:
            return True
        model = self.sourceModel()
        assert isinstance(model, WireTableModel)
        return not is_routine(model.entry(source_row))


class InspectorView(QWidget):
    """The table of frames; under it, the selected frame's decoded fields beside its hex."""

    entry_selected = Signal(object)
    """The :class:`WireEntry` of the row selected (None when the selection is cleared)."""

    def __init__(
        self, *, start_pump_s: int, tz: tzinfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._tz = tz
        self.model = WireTableModel(start_pump_s=start_pump_s, parent=self)
        self.proxy = RoutineFilter(self)
        self.proxy.setSourceModel(self.model)

        self.follow = QCheckBox("&Follow new frames", self)
        self.follow.setChecked(True)
        self.follow.setToolTip("Scroll to each new frame as it arrives")
        self.hide_routine = QCheckBox("Hide &status polling", self)
        self.hide_routine.setToolTip(
            "Hide the STATUS and read-only requests the programmer repeats every few seconds"
        )
        self.clear_button = QPushButton("C&lear", self)
        self.counts = QLabel(self)
        bar = QHBoxLayout()
        bar.addWidget(self.follow)
        bar.addWidget(self.hide_routine)
        bar.addStretch(1)
        bar.addWidget(self.counts)
        bar.addWidget(self.clear_button)

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Frames on the telemetry link")

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSize(max(10, QFont().pointSize()))
        self.details = _pane(mono, "Select a frame to see its decoded fields.", self)
        self.details.setAccessibleName("Selected frame: decoded fields")
        self.hex_view = _pane(mono, "... and its bytes on the wire, field by field.", self)
        self.hex_view.setAccessibleName("Selected frame: bytes in hex")
        below = QSplitter(Qt.Orientation.Horizontal, self)
        below.addWidget(self.details)
        below.addWidget(self.hex_view)
        below.setChildrenCollapsible(False)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self.hide_routine.toggled.connect(self.proxy.set_hide_routine)
        self.clear_button.clicked.connect(self._clear)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._update_counts()

    def add_entries(self, entries: Sequence[WireEntry]) -> None:
        """Append decoded rows (scrolling to the newest while "Follow" is on)."""
        if not entries:
            return
        self.model.append(entries)
        self._update_counts()
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def select_row(self, row: int) -> None:
        """Select the ``row``-th visible row (for keyboard users and tests)."""
        self.table.selectRow(row)

    def selected_entry(self) -> WireEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        entry = self.proxy.data(rows[0], _ROLE_ENTRY)
        return entry if isinstance(entry, WireEntry) else None

    def show_entry(self, entry: WireEntry | None) -> None:
        """The decoded fields of ``entry`` beside its bytes (None clears both)."""
        if entry is None:
            self.details.clear()
            self.hex_view.clear()
            return
        self.details.setPlainText(entry_details(entry, tz=self._tz))
        self.hex_view.setPlainText(hex_text(entry.data))

    def _selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        entry = self.selected_entry()
        self.show_entry(entry)
        self.entry_selected.emit(entry)

    def _clear(self) -> None:
        self.model.clear()
        self.show_entry(None)
        self._update_counts()

    def _update_counts(self) -> None:
        entries = self.model.entries
        frames = sum(1 for e in entries if e.kind is not EntryKind.DROPPED)
        dropped = len(entries) - frames
        naks = sum(1 for e in entries if e.kind is EntryKind.NAK)
        self.counts.setText(f"{frames} frames, {naks} NAK, {dropped} dropped")


def _pane(font: QFont, placeholder: str, parent: QWidget) -> QPlainTextEdit:
    pane = QPlainTextEdit(parent)
    pane.setReadOnly(True)
    pane.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    pane.setFont(font)
    pane.setPlaceholderText(placeholder)
    return pane
