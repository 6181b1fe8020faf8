"""The home page: what the pump reports, at a glance. Layout only."""

from __future__ import annotations

from typing import Final

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import (
    Columns,
    ReservoirGauge,
    Severity,
    StatusBadge,
    ValueForm,
    scroll_page,
    section,
)

IMPLANT_ROWS: Final = (
    ("patient", "Patient"),
    ("origin", "Origin"),
    ("catheter_model", "Catheter model"),
    ("catheter", "Catheter"),
    ("implanted", "Implanted"),
    ("physician", "Physician"),
    ("drug_lot", "Drug lot"),
    ("last_refill", "Last refill"),
)
"""The implant record's figures: (key, label); the label is also the row's name in
:func:`programmer_gui.core.implant.implant_rows`, which the controller fills them from."""


class HomePage(QWidget):
    """Device, therapy, reservoir, battery, alarms and clocks, each in its own section."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, body, self.scroll_area = scroll_page(self, "Pump status")

        top = QHBoxLayout()
        self.interrogate_button = QPushButton("&Interrogate", body)
        self.read_label = QLabel("Not read yet", body)
        self.read_label.setWordWrap(True)
        top.addWidget(self.interrogate_button)
        top.addWidget(self.read_label, 1)
        layout.addLayout(top)
        self.stale_badge = StatusBadge(body)
        self.stale_badge.hide()
        layout.addWidget(self.stale_badge)

        grid = Columns(body)

        therapy = section("Therapy", body)
        self.therapy = ValueForm(therapy)
        self.therapy.add_row("dose", "Daily dose", big=True)
        self.therapy.add_row("mode", "Mode")
        self.therapy.add_row("rate", "Rate (24-hour)")
        self.therapy.add_row("rate_now", "Flow now")
        self.therapy.add_row("concentration", "Concentration")
        self.therapy.add_row("drug", "Drug")
        self.therapy.add_row("bolus", "Bolus")
        self.therapy.add_row("delivery", "Delivery").setWordWrap(True)
        therapy_layout = QVBoxLayout(therapy)
        therapy_layout.addWidget(self.therapy)
        self.bridge_badge = StatusBadge(therapy)
        self.bridge_badge.hide()
        therapy_layout.addWidget(self.bridge_badge)
        bridge_row = QHBoxLayout()
        self.cancel_bridge_button = QPushButton("Cancel the &bridge…", therapy)
        self.cancel_bridge_button.hide()
        bridge_row.addWidget(self.cancel_bridge_button)
        bridge_row.addStretch(1)
        therapy_layout.addLayout(bridge_row)
        grid.add(therapy)

        reservoir = section("Reservoir", body)
        reservoir_layout = QVBoxLayout(reservoir)
        self.reservoir = ValueForm(reservoir)
        self.reservoir.add_row("volume", "Volume (estimated)", big=True)
        self.gauge = ReservoirGauge(reservoir)
        self.reservoir.add_row("alarm_volume", "Low-reservoir alarm at")
        self.reservoir.add_row("alarm_date", "Alarm date")
        self.reservoir.add_row("refill_by", "Refill by")
        self.reservoir.add_row("empty", "Empty")
        reservoir_layout.addWidget(self.reservoir)
        reservoir_layout.addWidget(self.gauge)
        grid.add(reservoir)

        alarms = section("Alarms", body)
        self.alarms_layout = QVBoxLayout(alarms)
        self.no_alarms = StatusBadge(alarms)
        self.no_alarms.set_status(Severity.OK, "No active alarms")
        self.alarms_layout.addWidget(self.no_alarms)
        self.alarms_layout.addStretch(1)
        self.alarm_badges: list[StatusBadge] = []
        grid.add(alarms)

        device = section("Pump and battery", body)
        self.device = ValueForm(device)
        self.device.add_row("model", "Model")
        self.device.add_row("serial", "Serial number")
        self.device.add_row("firmware", "Firmware")
        self.device.add_row("battery", "Battery")
        self.device.add_row("eri", "Replacement (ERI) due")
        QVBoxLayout(device).addWidget(self.device)
        grid.add(device)

        implant = section("Implant record", body)
        self.implant = ValueForm(implant)
        for key, label in IMPLANT_ROWS:
            self.implant.add_row(key, label)
        implant_layout = QVBoxLayout(implant)
        self.implant_badge = StatusBadge(implant, hide_when_empty=True)
        implant_layout.addWidget(self.implant_badge)
        implant_layout.addWidget(self.implant)
        grid.add(implant, wide=True)

        clock = section("Clock", body)
        clock_layout = QVBoxLayout(clock)
        self.clock = ValueForm(clock)
        self.clock.add_row("pump", "Pump clock")
        self.clock.add_row("programmer", "Programmer clock")
        self.clock.add_row("offset", "Difference")
        clock_layout.addWidget(self.clock)
        clock_row = QHBoxLayout()
        self.set_clock_button = QPushButton("&Set pump clock to programmer time…", clock)
        clock_row.addWidget(self.set_clock_button)
        clock_row.addStretch(1)
        clock_layout.addLayout(clock_row)
        grid.add(clock, wide=True)

        layout.addWidget(grid)
        layout.addStretch(1)

    def set_alarms(self, alarms: list[tuple[Severity, str]]) -> None:
        """One badge per active alarm (severity, text); a green "none" badge when empty."""
        for badge in self.alarm_badges:
            self.alarms_layout.removeWidget(badge)
            badge.deleteLater()
        self.alarm_badges = []
        self.no_alarms.setVisible(not alarms)
        for severity, text in alarms:
            badge = StatusBadge(self.no_alarms.parentWidget())
            badge.set_status(severity, text)
            self.alarms_layout.insertWidget(self.alarms_layout.count() - 1, badge)
            self.alarm_badges.append(badge)
