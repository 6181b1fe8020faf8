"""The dose page: change a simple continuous dose, with live figures. Layout only."""

from __future__ import annotations

from PySide6.QtWidgets import (
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
    figure_font,
    scroll_page,
    section,
)


class DosePage(QWidget):
    """Current therapy, the new dose entry with its unit, and what it would mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(
            self, "Change dose (simple continuous)"
        )

        current = section("Current therapy", self)
        self.current = ValueForm(current)
        self.current.add_row("prescription", "Prescription")
        self.current.add_row("dose", "24-hour dose", big=True)
        self.current.add_row("concentration", "Concentration")
        self.current.add_row("limits", "Pump limits")
        QVBoxLayout(current).addWidget(self.current)
        layout.addWidget(current)

        entry = section("New dose", self)
        entry_layout = QVBoxLayout(entry)
        row = QHBoxLayout()
        label = QLabel("&Daily dose:", entry)
        self.dose_edit = QLineEdit(entry)
        self.dose_edit.setFont(figure_font())
        self.dose_edit.setMaximumWidth(220)
        self.dose_edit.setPlaceholderText("e.g. 400")
        self.dose_edit.setAccessibleName("daily dose in mcg per day")
        label.setBuddy(self.dose_edit)
        unit = QLabel("mcg/day", entry)
        unit.setFont(figure_font(bold=False))
        row.addWidget(label)
        row.addWidget(self.dose_edit)
        row.addWidget(unit)
        row.addStretch(1)
        entry_layout.addLayout(row)
        self.preview = ValueForm(entry)
        self.preview.add_row("rate", "Rate at this concentration", big=True)
        self.preview.add_row("alarm", "New low-reservoir alarm date")
        self.preview.add_row("change", "Change of the 24-hour dose")
        entry_layout.addWidget(self.preview)
        self.message = StatusBadge(entry)
        entry_layout.addWidget(self.message)
        layout.addWidget(entry)

        buttons = QHBoxLayout()
        self.review_button = QPushButton("&Review change…", self)
        self.review_button.setMinimumHeight(36)
        self.reset_button = QPushButton("Re&set to current", self)
        buttons.addWidget(self.review_button)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.result = StatusBadge(self)
        self.result.hide()
        layout.addWidget(self.result)
        layout.addStretch(1)
