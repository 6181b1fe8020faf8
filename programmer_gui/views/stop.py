"""The stop and resume page: the pump's delivery state, a strong withdrawal warning, the
reason and a note. Layout only."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from programmer_gui.core.stop import REASON_TEXT, WITHDRAWAL_WARNING
from programmer_gui.views.widgets import (
    Severity,
    StatusBadge,
    figure_font,
    form_row,
    scroll_page,
    section,
)


class StopPage(QWidget):
    """State, warning, reason, note, and the two buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Stop or resume delivery")
        self.state_label = QLabel("—", self)
        self.state_label.setFont(figure_font())
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        self.warning = StatusBadge(self)
        self.warning.set_status(Severity.CRITICAL, WITHDRAWAL_WARNING)
        layout.addWidget(self.warning)
        box = section("Stop", self)
        form = QFormLayout(box)
        self.reason_combo = QComboBox(box)
        for reason, text in REASON_TEXT.items():
            self.reason_combo.addItem(text, int(reason))
        self.note_edit = QLineEdit(box)
        self.note_edit.setPlaceholderText("why, and the plan (kept in the session record)")
        form_row(form, "&Reason (sent to the pump's log):", self.reason_combo)
        form_row(form, "&Note:", self.note_edit)
        layout.addWidget(box)
        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.stop_button = QPushButton("&Stop delivery…", self)
        self.resume_button = QPushButton("R&esume delivery…", self)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
