"""The refill page: reconcile, fill, and on a new concentration the dose and the bridge.
Layout only."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import (
    Columns,
    StatusBadge,
    ValueForm,
    figure_font,
    form_row,
    scroll_page,
    section,
    unit_field,
)


class RefillPage(QWidget):
    """Four numbered sections in the order of the procedure, then Review."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, body, self.scroll_area = scroll_page(self, "Refill")

        grid = Columns(body)
        before = section("1. In the pump now", body)
        self.before = ValueForm(before)
        self.before.add_row("expected", "Expected volume", big=True)
        self.before.add_row("concentration", "Concentration")
        self.before.add_row("capacity", "Capacity")
        self.before.add_row("tolerance", "Discrepancy tolerance")
        QVBoxLayout(before).addWidget(self.before)
        grid.add(before)

        removed = section("2. Empty the reservoir", body)
        removed_form = QFormLayout(removed)
        self.removed_edit, removed_field = unit_field(removed, "mL", name="volume removed in mL")
        form_row(removed_form, "Volume &removed:", self.removed_edit, removed_field)
        self.discrepancy = StatusBadge(removed)
        removed_form.addRow(self.discrepancy)
        grid.add(removed)

        fill = section("3. Fill", body)
        fill_form = QFormLayout(fill)
        self.added_edit, added_field = unit_field(fill, "mL", name="volume added in mL")
        form_row(fill_form, "Volume &added:", self.added_edit, added_field)
        self.room_label = QLabel(fill)
        fill_form.addRow("", self.room_label)
        self.concentration_combo = QComboBox(fill)
        self.concentration_combo.setAccessibleName("concentration")
        form_row(fill_form, "C&oncentration:", self.concentration_combo)
        self.other_edit, other_field = unit_field(fill, "mcg/mL", name="other concentration")
        self.other_label = form_row(fill_form, "Other valu&e:", self.other_edit, other_field)
        self.override_check = QCheckBox("Override: I &confirm this concentration", fill)
        fill_form.addRow("", self.override_check)
        self.lot_edit = QLineEdit(fill)
        self.lot_edit.setMaxLength(16)
        self.lot_edit.setMaximumWidth(160)
        self.lot_edit.setAccessibleName("drug lot")
        form_row(fill_form, "Drug &lot:", self.lot_edit)
        grid.add(fill)

        self.change_box = section("4. New concentration: dose and bridge", body)
        change_form = QFormLayout(self.change_box)
        self.keep_radio = QRadioButton("&Keep the same mcg/day", self.change_box)
        self.new_dose_radio = QRadioButton("&New simple dose:", self.change_box)
        self.dose_group = QButtonGroup(self.change_box)
        self.dose_group.addButton(self.keep_radio)
        self.dose_group.addButton(self.new_dose_radio)
        self.keep_radio.setChecked(True)
        change_form.addRow(self.keep_radio)
        self.dose_edit, dose_field = unit_field(self.change_box, "mcg/day", name="new daily dose")
        dose_row = QHBoxLayout()
        dose_row.addWidget(self.new_dose_radio)
        dose_row.addWidget(dose_field, 1)
        change_form.addRow(dose_row)
        self.new_rate_label = QLabel(self.change_box)
        self.new_rate_label.setWordWrap(True)
        change_form.addRow(self.new_rate_label)
        self.catheter_label = QLabel(self.change_box)
        self.catheter_label.setWordWrap(True)
        change_form.addRow("Catheter (implant record):", self.catheter_label)
        self.bridge_check = QCheckBox("Run the &bridge (recommended)", self.change_box)
        self.bridge_check.setChecked(True)
        change_form.addRow(self.bridge_check)
        self.bridge_label = QLabel(self.change_box)
        self.bridge_label.setWordWrap(True)
        change_form.addRow(self.bridge_label)
        grid.add(self.change_box)
        layout.addWidget(grid)

        self.message = StatusBadge(body)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.review_button = QPushButton("Re&view refill…", body)
        self.review_button.setMinimumHeight(36)
        self.review_button.setFont(figure_font(12))
        self.clear_button = QPushButton("Clear en&tries", body)
        buttons.addWidget(self.review_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.result = StatusBadge(body, point_size=12)
        self.result.hide()
        layout.addWidget(self.result)
        layout.addStretch(1)
