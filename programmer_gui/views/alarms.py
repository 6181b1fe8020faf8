"""The alarms page: the list, silence and clear, the alarm volume, and the alarm tone test.

Layout only. The tone test shows each pattern visibly (a lamp that lights
with the tone, its frequency written beside it) and plays audio only when a
sound backend is importable (QtMultimedia is not in PySide6-Essentials).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.alarms import AlarmRow
from programmer_gui.views.sound_panel import SoundPanel
from programmer_gui.views.widgets import (
    Columns,
    StatusBadge,
    figure_font,
    flow_row,
    form_row,
    scroll_page,
    section,
)
from protocol.enums import AlarmClass

COLUMNS = ("Class", "Alarm", "Raised", "Tone", "Condition", "Meaning", "What to do")
NARROW_COLUMNS = {1: 150, 2: 112}
"""Alarm and Raised: fixed widths (px) and wrapped, so the long columns get the room."""
WRAPPED_COLUMNS = (4, 5, 6)
"""Condition, Meaning and What to do share the rest of the width, wrapped."""
CLASS_ICON = {
    AlarmClass.CRITICAL: QStyle.StandardPixmap.SP_MessageBoxCritical,
    AlarmClass.NON_CRITICAL: QStyle.StandardPixmap.SP_MessageBoxWarning,
}
CLASS_BACKGROUND = {AlarmClass.CRITICAL: "#fbdad7", AlarmClass.NON_CRITICAL: "#fff1c9"}
SOUNDING_MARK = "\u266a"
"""A note: the alarm tone sounds (DejaVu Sans has it; the loudspeaker emoji it lacks)."""
SILENCED_MARK = "\u25cb"
"""An empty circle, as on the lamp of the tone test when it is silent."""


def without_symbol(text: str) -> str:
    """``text`` without a leading symbol (``"X CRITICAL"`` -> ``"CRITICAL"``): the page
    draws its own icon or mark, one the font is sure to have."""
    head, _, rest = text.partition(" ")
    return rest if rest and not any(ch.isalnum() for ch in head) else text


class ToneLamp(QLabel):
    """A lamp that is lit (with the tone's frequency) while a tone sounds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(150, 44)
        self.setFont(figure_font(12))
        self.set_tone(None)

    def set_tone(self, frequency_hz: int | None) -> None:
        if frequency_hz is None:
            self.setText("○ silent")
            self.setStyleSheet("background: #eeeeee; border: 2px solid #999; border-radius: 6px;")
        else:
            self.setText(f"● {frequency_hz} Hz")
            self.setStyleSheet(
                "background: #ffd24d; border: 2px solid #b07d00; border-radius: 6px;"
            )


class AlarmsPage(QWidget):
    """Alarm list with its actions, the alarm volume, and the tone test."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Alarms")
        list_box = section("Alarms the pump holds (critical first)", self)
        list_layout = QVBoxLayout(list_box)
        self.table = QTableWidget(0, len(COLUMNS), list_box)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column, width_px in NARROW_COLUMNS.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width_px)
        for column in WRAPPED_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        # Wrapped rows grow or shrink with their columns' width.
        header.sectionResized.connect(lambda *_args: self.table.resizeRowsToContents())
        list_layout.addWidget(self.table)
        self.empty_label = QLabel("✔ No alarms.", list_box)
        list_layout.addWidget(self.empty_label)
        self.silence_button = QPushButton("&Silence the selected alarm", list_box)
        self.clear_button = QPushButton("C&lear the selected alarm", list_box)
        list_layout.addLayout(flow_row(self.silence_button, self.clear_button))
        self.message = StatusBadge(list_box, hide_when_empty=True)
        list_layout.addWidget(self.message)
        layout.addWidget(list_box, 1)

        lower = Columns(self)
        volume_box = section("Low-reservoir alarm volume", self)
        volume_form = QFormLayout(volume_box)
        self.volume_now = QLabel("—", volume_box)
        self.volume_edit = QLineEdit(volume_box)
        self.volume_edit.setPlaceholderText("for example 3.0")
        self.volume_effect = QLabel("—", volume_box)
        self.volume_effect.setWordWrap(True)
        self.volume_button = QPushButton("Re&view alarm volume…", volume_box)
        volume_form.addRow("Now:", self.volume_now)
        form_row(volume_form, "New v&olume (mL):", self.volume_edit)
        volume_form.addRow("Alarm date:", self.volume_effect)
        volume_form.addRow("", self.volume_button)
        lower.add(volume_box)

        tone_box = section("Alarm tone test", self)
        tone_layout = QVBoxLayout(tone_box)
        self.critical_button = QPushButton("Play &critical (two tones)", tone_box)
        self.noncritical_button = QPushButton("Play &non-critical (one tone)", tone_box)
        for button, alarm_class in (
            (self.critical_button, AlarmClass.CRITICAL),
            (self.noncritical_button, AlarmClass.NON_CRITICAL),
        ):
            button.setIcon(self.style().standardIcon(CLASS_ICON[alarm_class]))
        tone_layout.addLayout(flow_row(self.critical_button, self.noncritical_button))
        self.lamp = ToneLamp(tone_box)
        tone_layout.addWidget(self.lamp)
        self.tone_text = QLabel("Press a button to see the pattern.", tone_box)
        self.tone_text.setWordWrap(True)
        tone_layout.addWidget(self.tone_text)
        # The sound: mute, the device (or its absence), the pump's next repeat.
        self.sound = SoundPanel(tone_box)
        self.audio_text = self.sound.device_text
        tone_layout.addWidget(self.sound)
        lower.add(tone_box)
        layout.addWidget(lower)

    def set_alarms(self, rows: list[AlarmRow]) -> None:
        table = self.table
        table.setRowCount(len(rows))
        for r, alarm in enumerate(rows):
            mark = SILENCED_MARK if alarm.silenced else SOUNDING_MARK
            values = (
                without_symbol(alarm.class_text),
                alarm.title,
                alarm.raised,
                f"{mark} {without_symbol(alarm.state)}",
                alarm.condition,
                alarm.meaning,
                alarm.what_to_do,
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(alarm.code))
                # Wrapped cells read from the top; the class stays level with its icon
                # (which Qt centres vertically).
                vertical = Qt.AlignmentFlag.AlignVCenter if c == 0 else Qt.AlignmentFlag.AlignTop
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | vertical)
                if c == 0:
                    # Class by icon, word and tint at once: never by colour alone.
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setIcon(self.style().standardIcon(CLASS_ICON[alarm.alarm_class]))
                    item.setBackground(QColor(CLASS_BACKGROUND[alarm.alarm_class]))
                table.setItem(r, c, item)
        table.resizeRowsToContents()
        self.empty_label.setVisible(not rows)
        if rows and table.currentRow() < 0:
            table.selectRow(0)
