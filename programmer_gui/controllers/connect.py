"""The connect workflow: find ports, read the key file, open the session; or start a demo pump.

"Start demo pump" imports :mod:`programmer_gui.demo` (and so the emulator)
only when pressed: the clinical programmer never loads the emulator otherwise.
It announces the pump (``MainWindow.demo_started``) before connecting, so the
educator's window, which opens then, sees the programmer's link from its start.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog
from serial.tools import list_ports

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.link import LinkState
from programmer_gui.views.connect import ConnectPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import messages as m
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, KeyFileError, key_for, load_keys

if TYPE_CHECKING:
    from programmer_gui.demo import DemoPump

EMULATOR_LINK_GLOB = "/tmp/ttyPUMP*"
"""Where ``pump-emulator serve`` puts its stable pty symlinks (``/tmp/ttyPUMP0``, 1, ...)."""

DEMO_DESCRIPTION = (
    "An in-process virtual pump with a realistic patient: 40 mL pump holding 30 mL of "
    "2000 mcg/mL baclofen, flex dosing of about 400 mcg/day with a night step, battery at "
    "70 %. Uses the documented demo key. The educator's window opens beside the programmer."
)


@dataclass(frozen=True, kw_only=True)
class PortChoice:
    """A port the programmer found: its URL and what it is."""

    url: str
    description: str

    @property
    def label(self) -> str:
        return f"{self.url} — {self.description}"


def discover_ports(link_glob: str = EMULATOR_LINK_GLOB) -> list[PortChoice]:
    """The emulator's pty symlinks (live ones only), then every serial port pyserial lists."""
    found: list[PortChoice] = []
    for path in sorted(glob.glob(link_glob)):
        if os.path.islink(path) and os.path.exists(path):
            found.append(PortChoice(url=path, description="virtual pump (pump-emulator)"))
    try:
        ports = list_ports.comports()
    except OSError:  # no serial ports can be listed on this platform: none to offer
        ports = []
    for port in sorted(ports, key=lambda p: p.device):
        description = port.description if port.description not in ("", "n/a") else "serial port"
        found.append(PortChoice(url=port.device, description=description))
    return found


def start_demo_pump() -> DemoPump:
    """A started demo pump (real-time clock); imports the emulator only now."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    return DemoPump()


class ConnectController(Workflow):
    """Drives the connect page."""

    page = WorkflowPage("connect", "Connect", ConnectPage, needs_connection=False, at_start=True)
    """Built with the window: the page shown first."""

    def setup(self) -> None:
        self.demo: DemoPump | None = None
        self.demo_factory: Callable[[], DemoPump] = start_demo_pump
        """What "Start demo pump" calls (tests and screenshots give a manual-clock pump)."""
        self.port_finder: Callable[[], list[PortChoice]] = discover_ports
        self._choices: list[PortChoice] = []
        self.link.state_changed.connect(self._on_state)
        self.link.connected.connect(self._on_connected)
        self.link.disconnected.connect(self._on_disconnected)
        self.window.closing.connect(self.close_demo)

    def wire_page(self) -> None:
        page = self.page
        page.role_combo.addItem("Clinician", Role.CLINICIAN)
        page.role_combo.addItem("Patient (status and patient doses only)", Role.PATIENT)
        page.key_edit.setText(str(DEMO_KEY_FILE))
        page.demo_text.setText(DEMO_DESCRIPTION)
        page.detected.activated.connect(self._on_detected)
        connect_clicked(page.refresh_button, self.refresh_ports)
        connect_clicked(page.browse_button, self._browse)
        connect_clicked(page.connect_button, self.connect_pump)
        connect_clicked(page.disconnect_button, self.link.disconnect_from)
        connect_clicked(page.demo_button, self.start_demo)
        page.url_edit.returnPressed.connect(self.connect_pump)
        page.status.set_status(
            Severity.INFO, "Choose the pump's port and press Connect, or start the demo pump."
        )
        self.refresh_ports()
        self._on_state(self.link.state)

    # -- ports and keys ----------------------------------------------------------------------

    def refresh_ports(self) -> None:
        self._choices = self.port_finder()
        combo = self.page.detected
        combo.clear()
        if not self._choices:
            combo.addItem("No pump ports found: type a URL below or start the demo pump")
            combo.setEnabled(False)
            return
        combo.setEnabled(True)
        for choice in self._choices:
            combo.addItem(choice.label, choice.url)
        emulator_links = [c for c in self._choices if c.url.startswith("/tmp/ttyPUMP")]
        if not self.page.url_edit.text() and emulator_links:
            self.page.url_edit.setText(emulator_links[0].url)

    def _on_detected(self, index: int) -> None:
        url = self.page.detected.itemData(index)
        if isinstance(url, str):
            self.page.url_edit.setText(url)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self.page, "Choose the pump key file", self.page.key_edit.text(), "Key files (*.key)"
        )
        if chosen:
            self.page.key_edit.setText(chosen)

    def role(self) -> Role:
        role = self.page.role_combo.currentData()
        return role if isinstance(role, Role) else Role.CLINICIAN

    def read_key(self) -> bytes | None:
        """The key of the chosen role from the chosen file, or None (the page says why)."""
        path = self.page.key_edit.text().strip()
        if not path:
            self.page.status.set_status(Severity.CRITICAL, "Choose a key file.")
            return None
        try:
            return key_for(load_keys(path), self.role(), source=path)
        except KeyFileError as exc:
            self.page.status.set_status(Severity.CRITICAL, f"Key file problem: {exc}")
            return None

    # -- actions -----------------------------------------------------------------------------

    def connect_pump(self) -> None:
        url = self.page.url_edit.text().strip()
        if not url:
            self.page.status.set_status(
                Severity.CRITICAL, "Choose a detected port or type a port or URL."
            )
            return
        key = self.read_key()
        if key is None:
            return
        self.link.connect_to(url, key=key, role=self.role())

    def start_demo(self) -> None:
        """Start (once) the in-process demo pump and connect to it as a clinician.

        ``demo_started`` is emitted before connecting: the educator's window opens then,
        and its capture must see the programmer's link from the start."""
        if self.demo is None or self.demo.closed:
            self.page.status.set_status(Severity.INFO, "Starting the demo pump …")
            try:
                self.demo = self.demo_factory()
            except Exception as exc:
                self.page.status.set_status(
                    Severity.CRITICAL, f"The demo pump could not start: {exc}"
                )
                return
            self.window.demo_pump = self.demo
            self.window.demo_started.emit(self.demo)
        demo = self.demo
        self.page.url_edit.setText(demo.url)
        self.page.key_edit.setText(str(demo.key_file))
        self.page.role_combo.setCurrentIndex(0)
        self.link.connect_to(demo.url, key=demo.key(Role.CLINICIAN), role=Role.CLINICIAN)

    def close_demo(self) -> None:
        if self.demo is not None:
            self.demo.close()

    # -- link state --------------------------------------------------------------------------

    def _on_state(self, state: LinkState) -> None:
        busy = state is LinkState.CONNECTING
        self.page.connect_button.setEnabled(not busy)
        self.page.demo_button.setEnabled(not busy)
        self.page.disconnect_button.setEnabled(state in (LinkState.CONNECTED, LinkState.LOST))
        if busy:
            self.page.status.set_status(Severity.INFO, f"Connecting to {self.link.url} …")

    def _on_connected(self, device: m.DeviceInfoResponse) -> None:
        self.page.status.set_status(
            Severity.OK,
            f"Connected to the {device.model} mL pump {device.serial} at {self.link.url}.",
        )

    def _on_disconnected(self, reason: str) -> None:
        if reason:
            self.page.status.set_status(Severity.CRITICAL, reason)
        else:
            self.page.status.set_status(Severity.INFO, "Disconnected.")


install = ConnectController.install
"""The connect page (needs no connection)."""
__all__ = ["ConnectController", "PortChoice", "discover_ports", "install", "start_demo_pump"]
