"""The patient's therapy manager: one :class:`~programmer_gui.link.PumpLink` in the patient
role, the :class:`~programmer_gui.views.handheld.PatientWindow`, and the words of
:mod:`programmer_gui.core.handheld`.

The link polls every :data:`POLL_INTERVAL_S` so the lockout countdown follows the pump's
clock (a simulation's too). The jobs it runs are the patient role's only: PATIENT_DOSE,
SILENCE_ALARM and a new session (the post-MRI interrogation); the reads are the
snapshot's (DEVICE_INFO, STATUS, READ_ALARMS, READ_PATIENT_SETTINGS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from programmer_gui.core.handheld import (
    Urgency,
    dose_state,
    format_patient_time,
    granted_text,
    mri_check_text,
    patient_alarms,
    patient_status,
)
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import LinkState, PumpLink, describe_error
from programmer_gui.views.handheld import PREFERRED_SIZE, PatientWindow
from programmer_gui.views.main_window import MainWindow
from programmer_gui.views.widgets import Severity, connect_clicked, open_at
from protocol import messages as m
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, PumpClient
from protocol.enums import ErrorCode, Role
from protocol.errors import NakError
from protocol.keys import key_for, load_keys
from protocol.units import format_duration

DEMO_PATIENT_SETTINGS: dict[str, Any] = {
    "enabled": True,
    "dose_ng": 25_000,
    "duration_s": 600,
    "lockout_s": 3 * 3600,
    "max_per_24h": 4,
}
"""``--patient --demo``: 25 mcg over 10 min, 3 h apart, at most 4 in 24 h (set by a clinician
session before the patient window opens)."""

POLL_INTERVAL_S = 1.0
"""How often the handheld reads the pump while connected, in seconds."""

SEVERITY = {
    Urgency.OK: Severity.OK,
    Urgency.CALL_CLINIC: Severity.WARNING,
    Urgency.EMERGENCY: Severity.CRITICAL,
}
_REFUSED_FOR_TIME = (ErrorCode.PATIENT_DOSE_LOCKOUT, ErrorCode.PATIENT_DOSE_LIMIT)


class HandheldController(QObject):
    """Drives the patient window over ``link`` (which it opens in the patient role)."""

    def __init__(
        self,
        window: PatientWindow,
        link: PumpLink,
        *,
        key: Callable[[], bytes],
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.key = key
        """The patient key (read when connecting)."""
        self.tz = tz
        link.set_poll_interval(POLL_INTERVAL_S)
        link.snapshot.connect(self.show_snapshot)
        link.state_changed.connect(self._on_state)
        link.error.connect(self._connection)
        connect_clicked(window.dose_button, self.request_dose)
        connect_clicked(window.mri_button, self.check_after_mri)
        connect_clicked(window.silence_button, self.silence)
        connect_clicked(window.connect_button, lambda: self.connect_to(window.url_edit.text()))
        window.url_edit.returnPressed.connect(lambda: self.connect_to(window.url_edit.text()))
        window.closing.connect(link.close)
        self._on_state(link.state)

    # -- the link -------------------------------------------------------------------------------

    def connect_to(self, url: str) -> None:
        url = url.strip()
        if not url:
            self._connection("Type the pump's port first.")
            return
        self.window.url_edit.setText(url)
        try:
            key = self.key()
        except Exception as exc:
            self._connection(describe_error(exc))
            return
        self.link.connect_to(url, key=key, role=Role.PATIENT)

    def _connection(self, text: str) -> None:
        self.window.connection_text.setText(text)

    def _on_state(self, state: object) -> None:
        connected = state is LinkState.CONNECTED
        for button in (self.window.dose_button, self.window.mri_button):
            button.setEnabled(connected)
        self.window.silence_button.setEnabled(connected and self._sounding() != [])
        self._connection(
            {
                LinkState.CONNECTED: f"Connected to your pump ({self.link.url}).",
                LinkState.CONNECTING: "Connecting to your pump \u2026",
                LinkState.LOST: "The connection to your pump was lost: hold the handheld over "
                "the pump; it reconnects by itself.",
                LinkState.DISCONNECTED: "Not connected.",
            }.get(state, "")  # type: ignore[call-overload]
        )
        if not connected and self.link.latest is None:
            self.window.headline.set_status(Severity.INFO, "Not connected to your pump")

    # -- showing the pump -----------------------------------------------------------------------

    def _sounding(self) -> list[m.AlarmRecord]:
        latest = self.link.latest
        return [] if latest is None else [a for a in latest.alarms if not a.silenced]

    def show_snapshot(self, snapshot: PumpSnapshot) -> None:
        window = self.window
        status = patient_status(snapshot, tz=self.tz)
        window.headline.set_status(SEVERITY[status.urgency], status.headline)
        window.detail.setText(status.detail)
        window.refill.setText(status.refill)
        alarms = patient_alarms(snapshot)
        if alarms:
            items = "".join(
                f"<p><b>{a.urgency.symbol} {a.title}</b>"
                f"{' (sound silenced)' if a.silenced else ''}<br>{a.what_to_do}</p>"
                for a in alarms
            )
            window.alarms.setText(items)
        else:
            window.alarms.setText("\u2714 No alarms.")
        window.silence_button.setEnabled(
            self.link.is_connected and any(not a.silenced for a in alarms)
        )
        dose = dose_state(snapshot)
        window.dose_text.setText(
            f"One extra dose: {dose.dose_text}." if dose.enabled else dose.why_not or ""
        )
        window.doses_left.setText(
            f"Doses left in 24 hours: {dose.remaining_24h} of {dose.max_per_24h}"
            if dose.enabled
            else ""
        )
        if not dose.enabled:
            window.next_dose.setText("")
        elif dose.why_not is not None:
            at = (
                f" (at {format_patient_time(dose.next_allowed_at_s, tz=self.tz)})"
                if dose.waiting and dose.next_allowed_at_s is not None
                else ""
            )
            window.next_dose.setText(f"\u26a0 {dose.why_not.rstrip('.')}{at}.")
        else:
            window.next_dose.setText("\u2714 You can request a dose now.")
        # Offered while a dose may come now or only later (the pump then says when); not
        # while the pump gives nothing or a dose is running.
        window.dose_button.setEnabled(
            self.link.is_connected and dose.enabled and (dose.why_not is None or dose.waiting)
        )

    # -- what the patient may do ----------------------------------------------------------------

    def request_dose(self) -> None:
        """Ask the pump for a dose; a lockout or the 24-h limit is answered with the time
        left (read again from the pump)."""

        def job(client: PumpClient) -> m.PatientDoseResponse | NakError:
            try:
                return client.patient_dose()
            except NakError as exc:
                if exc.code in _REFUSED_FOR_TIME:
                    return exc
                raise

        self.window.dose_button.setEnabled(False)
        self.link.submit(job, on_done=self._dose_answered, on_error=self._dose_failed)

    def _dose_answered(self, answer: m.PatientDoseResponse | NakError) -> None:
        latest = self.link.latest
        result = self.window.dose_result
        result.setVisible(True)
        if isinstance(answer, m.PatientDoseResponse):
            max_per_24h = dose_state(latest).max_per_24h if latest else answer.doses_in_24h
            result.set_status(
                Severity.OK, granted_text(answer, max_per_24h=max_per_24h, tz=self.tz)
            )
            return
        state = dose_state(latest) if latest is not None else None
        if state is None or state.next_allowed_at_s is None:
            result.set_status(Severity.WARNING, f"\u2716 Not given: {describe_error(answer)}")
            return
        reason = (
            "you have had all the doses allowed in 24 hours"
            if answer.code is ErrorCode.PATIENT_DOSE_LIMIT
            else "it is too soon after your last dose"
        )
        result.set_status(
            Severity.WARNING,
            f"\u2716 Not given: {reason}. Your next dose is possible in "
            f"{format_duration(state.wait_s)} (at "
            f"{format_patient_time(state.next_allowed_at_s, tz=self.tz)}).",
        )

    def _dose_failed(self, error: Exception) -> None:
        self.window.dose_result.setVisible(True)
        latest = self.link.latest
        why = dose_state(latest).why_not if latest is not None else None
        self.window.dose_result.set_status(
            Severity.CRITICAL,
            f"\u2716 Not given: {why}"
            if isinstance(error, NakError) and why is not None
            else f"\u2716 Not given: {describe_error(error)}",
        )
        if latest is not None:
            self.show_snapshot(latest)

    def check_after_mri(self) -> None:
        """Interrogate the pump again (a new session: what ends an MRI's telemetry mode) and
        say whether it is giving the medicine."""

        def job(client: PumpClient) -> None:
            client.open_session()

        def done(_value: None) -> None:
            latest = self.link.latest
            if latest is None:
                return
            urgency, text = mri_check_text(latest)
            self.window.mri_result.setVisible(True)
            self.window.mri_result.set_status(SEVERITY[urgency], text)

        def failed(error: Exception) -> None:
            self.window.mri_result.setVisible(True)
            self.window.mri_result.set_status(
                Severity.CRITICAL,
                f"The check did not reach the pump: {describe_error(error)} Try again; if it "
                "keeps failing, call your clinic.",
            )

        self.window.mri_result.setVisible(True)
        self.window.mri_result.set_status(Severity.INFO, "Checking your pump \u2026")
        self.link.submit(job, on_done=done, on_error=failed)

    def silence(self) -> None:
        """Silence the sound of every sounding alarm (they stay until their cause is gone)."""
        codes = [a.code for a in self._sounding()]

        def job(client: PumpClient) -> None:
            for code in codes:
                client.silence_alarm(code)

        if codes:
            self.link.submit(job, on_done=lambda _v: None)


# -- building the window ------------------------------------------------------------------------


@dataclass
class Handheld:
    """The assembled patient window with its own link."""

    window: PatientWindow
    link: PumpLink
    controller: HandheldController

    def close(self) -> None:
        """Close the window and its link (idempotent)."""
        self.window.close()
        self.link.close()
        self.window.deleteLater()


def key_file_reader(path: Path) -> Callable[[], bytes]:
    """Reads the patient key from ``path`` when called (a missing key is a KeyFileError)."""
    return lambda: key_for(load_keys(path), Role.PATIENT, source=str(path))


def build_handheld(
    *,
    key: Callable[[], bytes],
    link: PumpLink | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    wall: Callable[[], float] = time.time,
    tz: tzinfo | None = None,
) -> Handheld:
    """The patient window over a new link (a QApplication must exist)."""
    window = PatientWindow()
    open_at(window, QSize(*PREFERRED_SIZE))
    pump_link = link or PumpLink(
        window, timeout_s=timeout_s, retries=retries, poll_interval_s=POLL_INTERVAL_S, wall=wall
    )
    controller = HandheldController(window, pump_link, key=key, tz=tz)
    return Handheld(window=window, link=pump_link, controller=controller)


SHOW_HANDHELD_SHORTCUT = "Ctrl+Shift+H"
BESIDE_GAP_PX = 12


class HandheldLauncher(QObject):
    """Demo mode: the "Demo" menu's "Open the patient's handheld" opens the patient window
    on its own link to the demo pump (patient key), beside the programmer. Nothing happens
    in a session without a demo pump."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.demo: object | None = None
        self.handheld: Handheld | None = None
        self.action: QAction | None = None
        window.demo_started.connect(self.on_demo_started)
        window.closing.connect(self.close)

    def on_demo_started(self, demo: object) -> None:
        if not hasattr(demo, "url") or not hasattr(demo, "key"):
            return
        if self.demo is not demo:
            self._discard()
        self.demo = demo
        if self.action is None:
            menu = _demo_menu(self.window)
            self.action = QAction("Open the &patient's handheld", self.window)
            self.action.setShortcut(QKeySequence(SHOW_HANDHELD_SHORTCUT))
            self.action.setStatusTip("The patient's therapy manager, on its own link")
            menu.addAction(self.action)
            self.action.triggered.connect(lambda _checked=False: self.open())

    def open(self) -> Handheld | None:
        """Open (or raise) the patient window connected to the demo pump."""
        demo = self.demo
        if demo is None:
            return None
        if self.handheld is None:
            url: str = demo.url  # type: ignore[attr-defined]
            key: Callable[[Role], bytes] = demo.key  # type: ignore[attr-defined]
            self.handheld = build_handheld(key=lambda: key(Role.PATIENT))
            window = self.handheld.window
            window.show()
            self._place_beside(window)
            self.handheld.controller.connect_to(url)
        window = self.handheld.window
        window.show()
        window.raise_()
        window.activateWindow()
        return self.handheld

    def _place_beside(self, window: PatientWindow) -> None:
        main = self.window.frameGeometry()
        screen = self.window.screen()
        if screen is None:
            return
        room = screen.availableGeometry()
        x = main.right() + BESIDE_GAP_PX
        if x + window.frameGeometry().width() > room.right():
            x = max(room.left(), room.right() - window.frameGeometry().width())
        window.move(x, max(room.top(), main.top()))

    def _discard(self) -> None:
        handheld, self.handheld = self.handheld, None
        if handheld is not None:
            handheld.close()

    def close(self) -> None:
        """The programmer is closing: close the patient window and its link."""
        self._discard()
        self.demo = None


def _demo_menu(window: QMainWindow) -> QMenu:
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text().replace("&", "") == "Demo":
            return menu
    return window.menuBar().addMenu("Demo")


def run_handheld(app: QApplication, *, port: str | None, demo: bool, key_file: Path) -> int:
    """``pump-programmer --patient``: the patient window alone, connected at start to
    ``port`` or (``demo``) to an in-process demo pump with its patient key."""
    demo_pump = None
    if demo:
        from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

        demo_pump = DemoPump()
        demo_key = demo_pump.key
        # No clinician here to allow patient doses: the demo allows the usual ones.
        with PumpClient(demo_pump.url, key=demo_key(Role.CLINICIAN), role=Role.CLINICIAN) as c:
            c.connect()
            c.set_patient_settings(**DEMO_PATIENT_SETTINGS)
        handheld = build_handheld(key=lambda: demo_key(Role.PATIENT))
    else:
        handheld = build_handheld(key=key_file_reader(key_file))
    try:
        handheld.window.show()
        if demo_pump is not None:
            handheld.controller.connect_to(demo_pump.url)
        elif port:
            handheld.controller.connect_to(port)
        return app.exec()
    finally:
        handheld.close()
        if demo_pump is not None:
            demo_pump.close()
