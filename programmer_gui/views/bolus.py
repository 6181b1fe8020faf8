"""The bolus page: therapeutic, bridge or priming, their computed effects, and a running bolus.

Layout only; the controller fills it from ``programmer_gui.core.bolus``.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import StatusBadge, ValueForm, form_row, scroll_page, section

KINDS = ("Therapeutic bolus", "Priming bolus")


class BolusPage(QWidget):
    """Entry of a bolus, its computed figures, and the bolus running now."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Boluses")

        entry_box = section("New bolus", self)
        form = QFormLayout(entry_box)
        self.kind_combo = QComboBox(entry_box)
        self.kind_combo.addItems(list(KINDS))
        self.dose_edit = QLineEdit(entry_box)
        self.dose_edit.setPlaceholderText("for example 50")
        self.duration_edit = QLineEdit(entry_box)
        self.duration_edit.setPlaceholderText("for example 60")
        self.length_edit = QLineEdit(entry_box)
        self.length_edit.setReadOnly(True)
        self.length_edit.setPlaceholderText("no implant record")
        self.tubing_check = QCheckBox("The pump's tubing is empty too (new implant)", entry_box)
        for label, widget in (
            ("&Kind:", self.kind_combo),
            ("&Dose (mcg):", self.dose_edit),
            ("D&uration (min):", self.duration_edit),
            ("&Catheter (implant record):", self.length_edit),
        ):
            form_row(form, label, widget)
        form.addRow("", self.tubing_check)
        self.explain = QLabel(entry_box)
        self.explain.setWordWrap(True)
        form.addRow(self.explain)
        layout.addWidget(entry_box)

        figures_box = section("What the bolus does", self)
        figures_layout = QVBoxLayout(figures_box)
        self.figures = ValueForm(figures_box)
        self.figures.add_row("volume", "Volume", big=True)
        self.figures.add_row("duration", "Duration")
        self.figures.add_row("reservoir", "Reservoir")
        self.figures.add_row("alarm", "Low-reservoir alarm")
        figures_layout.addWidget(self.figures)
        layout.addWidget(figures_box)

        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.review_button = QPushButton("&Review bolus…", self)
        self.review_button.setDefault(True)
        actions.addWidget(self.review_button)
        layout.addLayout(actions)

        running_box = section("Bolus running now", self)
        running_layout = QVBoxLayout(running_box)
        self.running_label = QLabel("No bolus is running.", running_box)
        self.running_label.setWordWrap(True)
        self.progress = QProgressBar(running_box)
        self.progress.setRange(0, 100)
        self.progress.setFormat("%p % delivered")
        self.cancel_button = QPushButton("Ca&ncel the running bolus…", running_box)
        running_layout.addWidget(self.running_label)
        running_layout.addWidget(self.progress)
        cancel_row = QHBoxLayout()
        cancel_row.addWidget(self.cancel_button)
        cancel_row.addStretch(1)
        running_layout.addLayout(cancel_row)
        layout.addWidget(running_box)
        layout.addStretch(1)
