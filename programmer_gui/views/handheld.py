"""The patient's therapy manager window: large type, plain words, few buttons.

Layout only; :mod:`programmer_gui.controllers.handheld` fills it in. Every control here
is one the patient role may use on the wire (status, alarms and their sound, the
patient-activated dose, the post-MRI interrogation); no clinician command appears.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import Severity, StatusBadge, scroll_frame

BASE_POINT_SIZE = 14
"""Large type: the patient may read it at arm's length, with poor sight."""
HEADLINE_POINT_SIZE = 22
MINIMUM_WIDTH_PX = 520
PREFERRED_SIZE = (620, 900)
"""Opened at this size, fitted to the screen (a 768-pixel-high laptop scrolls the content)."""


def _label(parent: QWidget, *, size: int | None = None, bold: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if size is not None or bold:
        font = QFont(label.font())
        if size is not None:
            font.setPointSize(size)
        font.setBold(bold)
        label.setFont(font)
    return label


class PatientWindow(QWidget):
    """The handheld's one screen."""

    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("PatientWindow")
        self.setWindowTitle("vpump \u2014 patient therapy manager")
        font = QFont(self.font())
        font.setPointSize(BASE_POINT_SIZE)
        self.setFont(font)
        # The content scrolls on a short screen rather than squeezing its wrapped text.
        content, self.scroll_area = scroll_frame(self)
        content.setMinimumWidth(MINIMUM_WIDTH_PX)
        layout = QVBoxLayout(content)

        self.headline = StatusBadge(content, point_size=HEADLINE_POINT_SIZE)
        self.headline.set_status(Severity.INFO, "Not connected to your pump")
        self.detail = _label(content)
        self.refill = _label(content, bold=True)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        layout.addWidget(self.refill)

        alarms_box = QGroupBox("Alarms", content)
        alarms_layout = QVBoxLayout(alarms_box)
        self.alarms = _label(alarms_box)
        self.alarms.setTextFormat(Qt.TextFormat.RichText)
        self.silence_button = QPushButton("&Silence the alarm sound", alarms_box)
        self.silence_button.setToolTip(
            "Stops the beeping; the alarm stays until its cause is fixed"
        )
        alarms_layout.addWidget(self.alarms)
        alarms_layout.addWidget(self.silence_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(alarms_box)

        dose_box = QGroupBox("Extra dose", content)
        dose_layout = QVBoxLayout(dose_box)
        self.dose_text = _label(dose_box)
        self.doses_left = _label(dose_box, bold=True)
        self.next_dose = _label(dose_box)
        self.dose_button = QPushButton("&Request a dose", dose_box)
        big = QFont(self.dose_button.font())
        big.setPointSize(HEADLINE_POINT_SIZE - 4)
        big.setBold(True)
        self.dose_button.setFont(big)
        self.dose_button.setMinimumHeight(56)
        self.dose_result = StatusBadge(dose_box)
        self.dose_result.setVisible(False)
        for widget in (self.dose_text, self.doses_left, self.next_dose, self.dose_button):
            dose_layout.addWidget(widget)
        dose_layout.addWidget(self.dose_result)
        layout.addWidget(dose_box)

        mri_box = QGroupBox("After an MRI scan", content)
        mri_layout = QVBoxLayout(mri_box)
        mri_text = _label(mri_box)
        mri_text.setText(
            "An MRI scan can stop the pump's motor. After every scan, hold the handheld over "
            "the pump and check that it is giving your medicine again."
        )
        self.mri_button = QPushButton("&Check my pump after an MRI scan", mri_box)
        self.mri_result = StatusBadge(mri_box)
        self.mri_result.setVisible(False)
        mri_layout.addWidget(mri_text)
        mri_layout.addWidget(self.mri_button, 0, Qt.AlignmentFlag.AlignLeft)
        mri_layout.addWidget(self.mri_result)
        layout.addWidget(mri_box)

        connection = QHBoxLayout()
        self.connection_text = _label(content)
        self.url_edit = QLineEdit(content)
        self.url_edit.setPlaceholderText("pump port, e.g. /tmp/ttyPUMP0")
        self.connect_button = QPushButton("C&onnect", content)
        connection.addWidget(self.connection_text, 1)
        connection.addWidget(self.url_edit, 1)
        connection.addWidget(self.connect_button)
        layout.addLayout(connection)
        layout.addStretch(1)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.closing.emit()
        super().closeEvent(event)
