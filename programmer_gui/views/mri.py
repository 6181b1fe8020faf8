"""The MRI page: before the scan (the decision, what to record, the warnings) and the
post-scan check (delivery resumed or not, the log, the missed drug, the alarm date, the
prompt to interrogate again, the valve reset). Layout only."""

from __future__ import annotations

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

from programmer_gui.core.mri import PRE_MRI_STEPS
from programmer_gui.views.widgets import StatusBadge, form_row, scroll_page, section


class MriPage(QWidget):
    """Two sections: before the scan, after the scan."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        frame = scroll_page(self, "MRI: before and after the scan")
        layout, self.heading = frame.layout, frame.heading

        before = section("Before the scan", self)
        form = QVBoxLayout(before)
        steps = "".join(f"<li>{step}</li>" for step in PRE_MRI_STEPS)
        self.steps_label = QLabel(f"<ol style='margin-left: -20px'>{steps}</ol>", before)
        self.steps_label.setWordWrap(True)
        form.addWidget(self.steps_label)
        self.valve_warning = StatusBadge(before, hide_when_empty=True)
        form.addWidget(self.valve_warning)
        self.stopped_warning = StatusBadge(before, hide_when_empty=True)
        form.addWidget(self.stopped_warning)
        self.pump_kind_label = QLabel("Pump kind: interrogate first.", before)
        self.pump_kind_label.setWordWrap(True)
        form.addWidget(self.pump_kind_label)
        fields = QFormLayout()
        self.can_go_without_check = QCheckBox("Can &go without drug", before)
        without_note = QLabel(
            "The patient can go without drug for the scan and for a delayed recovery "
            "(up to 24 h after it).",
            before,
        )
        without_note.setWordWrap(True)
        fields.addRow(self.can_go_without_check)
        fields.addRow(without_note)
        self.note_edit = QLineEdit(before)
        self.note_edit.setPlaceholderText("the plan if not (oral baclofen, stay nearby), the scan")
        form_row(fields, "&Note:", self.note_edit)
        form.addLayout(fields)
        row = QHBoxLayout()
        self.record_button = QPushButton("&Record the pre-MRI check", before)
        row.addWidget(self.record_button)
        row.addStretch(1)
        form.addLayout(row)
        layout.addWidget(before)

        after = section("After the scan", self)
        column = QVBoxLayout(after)
        self.verdict = StatusBadge(after, hide_when_empty=True)
        column.addWidget(self.verdict)
        self.findings_label = QLabel(
            "Run the check after every MRI: it interrogates the pump and reads its log.", after
        )
        self.findings_label.setWordWrap(True)
        column.addWidget(self.findings_label)
        self.again_badge = StatusBadge(after, hide_when_empty=True)
        column.addWidget(self.again_badge)
        buttons = QHBoxLayout()
        self.check_button = QPushButton("Run the post-MRI &check", after)
        self.reset_valve_button = QPushButton("Reset the &valve…", after)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.reset_valve_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        layout.addWidget(after)

        self.message = StatusBadge(self, hide_when_empty=True)
        layout.addWidget(self.message)
        layout.addStretch(1)
