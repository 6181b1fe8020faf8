"""The alarm tones' sound controls: a mute, the sound device, the next repeat, the skips.

Layout only; :mod:`programmer_gui.controllers.sound` fills it in.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget


class SoundPanel(QWidget):
    """Mute, then three lines: the device (or its absence), the next repeat, the skips."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SoundPanel")
        self.mute = QCheckBox("M&ute the alarm tones", self)
        self.mute.setToolTip("Stops the sound only: the pattern and its next repeat still show")
        self.device_text = QLabel(self)
        self.device_text.setWordWrap(True)
        self.next_text = QLabel(self)
        self.next_text.setWordWrap(True)
        self.skipped_text = QLabel(self)
        self.skipped_text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.mute, self.device_text, self.next_text, self.skipped_text):
            layout.addWidget(widget)
