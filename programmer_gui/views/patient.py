"""The patient-activated dose settings page: what the pump holds, the new settings with their
units, and what they do to the daily dose and the low-reservoir alarm date. Layout only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import (
    StatusBadge,
    ValueForm,
    form_row,
    scroll_page,
    section,
    unit_field,
)

EFFECT_ROWS = (
    ("volume", "Volume per dose", False),
    ("per_day", "Most doses in 24 h", False),
    ("extra", "Most added per day", False),
    ("total", "Most in 24 h (basal + doses)", True),
    ("alarm_without", "Low-reservoir alarm, no doses taken", False),
    ("alarm_with", "Low-reservoir alarm, every dose taken", True),
)
"""(key, label, big) of the effect figures, in the order shown."""


class PatientPage(QWidget):
    """Current settings, the new settings, their effect, and the way to the review."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, body, self.scroll_area = scroll_page(self, "Patient-activated doses")

        current_box = section("Settings in the pump now", body)
        current_layout = QVBoxLayout(current_box)
        self.current_label = QLabel("—", current_box)
        self.current_label.setWordWrap(True)
        self.current_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        current_layout.addWidget(self.current_label)
        layout.addWidget(current_box)

        entry_box = section("New settings", body)
        form = QFormLayout(entry_box)
        self.enabled_check = QCheckBox("Patient may ask for &doses (with the handheld)", entry_box)
        form.addRow("", self.enabled_check)
        self.dose_edit, dose_box = unit_field(
            entry_box, "mcg", name="dose per activation", example="25", unit_min_width=60
        )
        self.duration_edit, duration_box = unit_field(
            entry_box, "min", name="delivery time", example="10", unit_min_width=60
        )
        self.lockout_edit, lockout_box = unit_field(
            entry_box, "min", name="lockout", example="180", unit_min_width=60
        )
        self.max_edit, max_box = unit_field(
            entry_box, "doses", name="maximum per 24 hours", example="4", unit_min_width=60
        )
        for text, edit, box in (
            ("Dose per &activation:", self.dose_edit, dose_box),
            ("Deli&very time:", self.duration_edit, duration_box),
            ("&Lockout between doses:", self.lockout_edit, lockout_box),
            ("&Maximum per 24 h:", self.max_edit, max_box),
        ):
            form_row(form, text, edit, box)
        layout.addWidget(entry_box)

        effect_box = section("Effect on the daily dose and the forecast", body)
        effect_layout = QVBoxLayout(effect_box)
        self.effect = ValueForm(effect_box)
        for key, label, big in EFFECT_ROWS:
            self.effect.add_row(key, label, big=big)
        self.effect.values["alarm_with"].setWordWrap(True)
        effect_note = QLabel(
            "The forecast assumes the patient takes every dose as soon as the lockout allows: "
            "the earliest the alarm can come.",
            effect_box,
        )
        effect_note.setWordWrap(True)
        effect_layout.addWidget(self.effect)
        effect_layout.addWidget(effect_note)
        layout.addWidget(effect_box)

        self.message = StatusBadge(body)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.reset_button = QPushButton("Start again from the &pump's settings", body)
        self.review_button = QPushButton("&Review patient doses…", body)
        self.review_button.setDefault(True)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(self.review_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setTabOrder(self.enabled_check, self.dose_edit)
        self.setTabOrder(self.dose_edit, self.duration_edit)
        self.setTabOrder(self.duration_edit, self.lockout_edit)
        self.setTabOrder(self.lockout_edit, self.max_edit)
        self.setTabOrder(self.max_edit, self.review_button)

    @property
    def edits(self) -> tuple[QLineEdit, QLineEdit, QLineEdit, QLineEdit]:
        """Dose, delivery time, lockout, maximum per 24 h."""
        return (self.dose_edit, self.duration_edit, self.lockout_edit, self.max_edit)
