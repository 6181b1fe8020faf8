"""Wires the link to the main window's banner: connection, pump identity, alarms, busy.

Every snapshot is also handed to the session record (``observe``), so the
record sees the first and last state of the pump and every alarm shown.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from programmer_gui.core.session_record import SessionRecord
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import LinkState, PumpLink
from programmer_gui.views.main_window import MainWindow
from programmer_gui.views.widgets import Severity, connect_clicked, format_clock
from protocol import messages as m
from protocol.enums import AlarmCode, Role

ALARM_NAMES: dict[AlarmCode, str] = {
    AlarmCode.LOW_RESERVOIR: "Low reservoir",
    AlarmCode.ERI: "Elective replacement (battery)",
    AlarmCode.MEMORY_NON_CRITICAL: "Memory error (non-critical)",
    AlarmCode.EMPTY_RESERVOIR: "Empty reservoir: delivery not assured",
    AlarmCode.EOS: "End of service: the pump has stopped",
    AlarmCode.MOTOR_STALL: "Motor stall: delivery stopped",
    AlarmCode.MEMORY_CRITICAL: "Critical memory error: the pump has stopped",
    AlarmCode.LOW_BATTERY_RESET: "Low battery reset: keep-open rate only until reprogrammed",
}
"""How each alarm is named on the banner."""

ERROR_SHOWN_MS = 20_000


def alarm_line(alarms: tuple[m.AlarmRecord, ...], word: str) -> str | None:
    """``"CRITICAL ALARM: Motor stall ... (silenced)"``, or None when there is none."""
    if not alarms:
        return None
    names = [
        ALARM_NAMES[a.code] + (" (silenced)" if a.silenced else "")
        for a in sorted(alarms, key=lambda a: a.code)
    ]
    plural = "S" if len(names) > 1 else ""
    return f"{word} ALARM{plural}: " + "; ".join(names)


def describe_device(device: m.DeviceInfoResponse) -> str:
    return f"{device.model} mL pump · serial {device.serial} · firmware {device.firmware_version}"


class MainWindowController(QObject):
    """Keeps the banner in step with the link and feeds snapshots to the record."""

    def __init__(self, window: MainWindow, link: PumpLink, record: SessionRecord) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.record = record
        link.state_changed.connect(self._on_state)
        link.connected.connect(self._on_connected)
        link.disconnected.connect(self._on_disconnected)
        link.link_lost.connect(self._on_link_lost)
        link.reconnect_in.connect(self._on_reconnect_in)
        self._lost_reason = ""
        link.snapshot.connect(self._on_snapshot)
        link.busy_changed.connect(self._on_busy)
        link.error.connect(self.show_error)
        connect_clicked(window.link_banner.button, link.reconnect)
        self._on_state(link.state)

    def _on_state(self, state: LinkState) -> None:
        role = "patient" if self.link.role is Role.PATIENT else "clinician"
        if state is LinkState.DISCONNECTED:
            self.window.set_connection(Severity.INFO, "Not connected")
        elif state is LinkState.CONNECTING:
            self.window.set_connection(Severity.INFO, f"Connecting to {self.link.url} …")
        elif state is LinkState.CONNECTED:
            self.window.set_connection(Severity.OK, f"Connected ({role}) to {self.link.url}")
            self.window.show_link_lost(None)
        else:
            self.window.set_connection(Severity.CRITICAL, "LINK LOST: figures are not live")

    def _on_connected(self, device: m.DeviceInfoResponse) -> None:
        self.window.set_pump(describe_device(device))
        already = self.window.connected
        self.window.set_connected(True)
        # A reconnection keeps the user where they were (their entries are still there).
        if not already and "home" in self.window.pages:
            self.window.show_page("home")

    def _on_disconnected(self, reason: str) -> None:
        self.window.set_connected(False)
        self.window.show_link_lost(None)
        self.window.set_alarms(None, None)
        if self.link.device is None:
            self.window.set_pump("No pump")
        if "connect" in self.window.pages:
            self.window.show_page("connect")
        if reason:
            self.show_error(reason)

    def _on_link_lost(self, reason: str) -> None:
        self._lost_reason = reason
        self._show_lost("Reconnecting by itself; or press Reconnect now.")

    def _on_reconnect_in(self, delay_s: float) -> None:
        self._show_lost(f"Trying again by itself in {delay_s:g} s (or Reconnect now).")

    def _show_lost(self, plan: str) -> None:
        latest = self.link.latest
        read = (
            ""
            if latest is None
            else f" Figures are stale: last read {format_clock(latest.status.clock_s)} "
            "(pump clock)."
        )
        self.window.show_link_lost(
            f"LINK LOST: {self._lost_reason}{read} {plan} Typed values are kept."
        )

    def _on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.record.observe(snapshot)
        self.window.set_alarms(
            alarm_line(snapshot.critical_alarms, "CRITICAL"),
            alarm_line(snapshot.noncritical_alarms, "NON-CRITICAL"),
        )

    def _on_busy(self, busy: bool) -> None:
        self.window.set_busy("Communicating with the pump …" if busy else "")

    def show_error(self, text: str) -> None:
        self.window.statusBar().showMessage(text, ERROR_SHOWN_MS)


def install(window: MainWindow, link: PumpLink, record: SessionRecord) -> MainWindowController:
    """Wire the window's banner to the link (app.py calls this before the page installers)."""
    return MainWindowController(window, link, record)
