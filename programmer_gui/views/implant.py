"""The implant record page: the record the pump holds, and its editor. Layout only."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
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
    unit_row,
)


class ImplantPage(QWidget):
    """The record now (read from the pump) beside the editor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Implant record")

        current_box = section("In the pump now", self)
        self.current = ValueForm(current_box)
        current_layout = QVBoxLayout(current_box)
        self.current_badge = StatusBadge(current_box, hide_when_empty=True)
        current_layout.addWidget(self.current_badge)
        current_layout.addWidget(self.current)
        layout.addWidget(current_box)

        editor = section("Write the record", self)
        form = QFormLayout(editor)
        self.model_combo = QComboBox(editor)
        self.model_combo.setAccessibleName("catheter model")
        self.length_edit = QLineEdit(editor)
        self.length_edit.setAccessibleName("catheter length in cm")
        self.uncertainty_edit = QLineEdit(editor)
        self.uncertainty_edit.setAccessibleName("catheter length uncertainty in cm")
        self.date_edit = QLineEdit(editor)
        self.date_edit.setPlaceholderText("YYYY-MM-DD")
        self.date_edit.setAccessibleName("implant date")
        self.patient_edit = QLineEdit(editor)
        self.patient_edit.setAccessibleName("patient identifier")
        self.origin_combo = QComboBox(editor)
        self.origin_combo.setAccessibleName("origin of the spasticity")
        self.physician_edit = QLineEdit(editor)
        self.physician_edit.setAccessibleName("physician")
        self.text_edits = (
            self.length_edit,
            self.uncertainty_edit,
            self.date_edit,
            self.patient_edit,
            self.physician_edit,
        )
        """The editor's typed fields (the catheter model and origin are chosen)."""
        for text, widget, unit in (
            ("Catheter &model:", self.model_combo, ""),
            ("Trimmed &length:", self.length_edit, "cm"),
            ("Length &uncertainty (±):", self.uncertainty_edit, "cm"),
            ("Implant &date:", self.date_edit, "pump clock (UTC)"),
            ("&Patient identifier:", self.patient_edit, ""),
            ("&Origin of spasticity:", self.origin_combo, ""),
            ("P&hysician:", self.physician_edit, ""),
        ):
            form_row(form, text, widget, unit_row(editor, widget, unit) if unit else None)
        self.volume_label = QLabel(editor)
        self.volume_label.setWordWrap(True)
        form.addRow(self.volume_label)
        layout.addWidget(editor)

        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
        actions = QHBoxLayout()
        self.review_button = QPushButton("Re&view implant record…", self)
        self.reset_button = QPushButton("Show the pump's record", self)
        actions.addWidget(self.review_button)
        actions.addWidget(self.reset_button)
        actions.addStretch(1)
        layout.addLayout(actions)
        layout.addStretch(1)
