"""The emergency summary page: one interrogation in plain clinical words, printable on one
page. Layout only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from programmer_gui.views.widgets import StatusBadge, scroll_page


class EmergencyPage(QWidget):
    """The summary, a read button and a save-as-PDF button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        frame = scroll_page(self, "Emergency summary")
        layout, self.heading = frame.layout, frame.heading
        intro = QLabel(
            "For a clinician who does not manage this pump: what to act on, from one "
            "interrogation (works in the patient role too).",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        buttons = QHBoxLayout()
        self.read_button = QPushButton("&Read the summary", self)
        self.pdf_button = QPushButton("Save as &PDF (one page)…", self)
        buttons.addWidget(self.read_button)
        buttons.addWidget(self.pdf_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.summary_label = QLabel("Not read yet.", self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.summary_label, 1)
        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
