"""The connect page: port, key file and role, or a demo pump. Layout only."""

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

from programmer_gui.views.widgets import StatusBadge, form_row, scroll_page, section


class ConnectPage(QWidget):
    """Where a session starts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Connect to a pump")

        pump = section("Pump link", self)
        form = QFormLayout(pump)
        self.detected = QComboBox(pump)
        self.detected.setAccessibleName("detected ports")
        self.refresh_button = QPushButton("Re&fresh", pump)
        row = QHBoxLayout()
        row.addWidget(self.detected, 1)
        row.addWidget(self.refresh_button)
        form_row(form, "De&tected ports:", self.detected, row)
        self.url_edit = QLineEdit(pump)
        self.url_edit.setPlaceholderText("/tmp/ttyPUMP0, socket://host:port or pumpsim://name")
        form_row(form, "&Port or URL:", self.url_edit)
        self.key_edit = QLineEdit(pump)
        self.browse_button = QPushButton("&Browse…", pump)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.browse_button)
        form_row(form, "&Key file:", self.key_edit, key_row)
        self.role_combo = QComboBox(pump)
        form_row(form, "&Role:", self.role_combo)
        buttons = QHBoxLayout()
        self.connect_button = QPushButton("&Connect", pump)
        self.connect_button.setDefault(True)
        self.disconnect_button = QPushButton("Disc&onnect", pump)
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        layout.addWidget(pump)

        demo = section("Demo pump (no hardware)", self)
        demo_layout = QFormLayout(demo)
        self.demo_text = QLabel(demo)
        self.demo_text.setWordWrap(True)
        demo_layout.addRow(self.demo_text)
        self.demo_button = QPushButton("Start &demo pump", demo)
        demo_row = QHBoxLayout()
        demo_row.addWidget(self.demo_button)
        demo_row.addStretch(1)
        demo_layout.addRow(demo_row)
        layout.addWidget(demo)

        self.status = StatusBadge(self)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.setTabOrder(self.detected, self.refresh_button)
        self.setTabOrder(self.refresh_button, self.url_edit)
        self.setTabOrder(self.url_edit, self.key_edit)
        self.setTabOrder(self.key_edit, self.browse_button)
        self.setTabOrder(self.browse_button, self.role_combo)
        self.setTabOrder(self.role_combo, self.connect_button)
        self.setTabOrder(self.connect_button, self.disconnect_button)
        self.setTabOrder(self.disconnect_button, self.demo_button)
