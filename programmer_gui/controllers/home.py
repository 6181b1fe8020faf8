"""The home page: interrogate, poll, and show what the pump reports; offer to set its clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from programmer_gui.core.forecast import (
    DEFAULT_REFILL_MARGIN_S,
    forecast_pending,
    format_pump_date,
)
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import PumpLink
from programmer_gui.views.home import HomePage
from programmer_gui.views.main_window import MainWindow
from programmer_gui.views.widgets import (
    Severity,
    ask_confirmation,
    connect_clicked,
    format_clock,
)
from protocol import units
from protocol.enums import AlarmClass, BolusKind, Mode

if TYPE_CHECKING:
    from programmer_gui.controllers.review import ReviewController

CLOCK_TOLERANCE_S = 60
"""A pump clock further than this from the programmer's is flagged (flex steps run by it)."""

DRUG = "Baclofen (intrathecal)"

ALARM_MEANINGS: dict[str, str] = {
    "LOW_RESERVOIR": "Low reservoir: refill soon",
    "ERI": "Elective replacement indicator: plan pump replacement",
    "MEMORY_NON_CRITICAL": "Non-critical memory error: the pump keeps delivering",
    "EMPTY_RESERVOIR": "Empty reservoir: delivery can no longer be assured; refill now",
    "EOS": "End of service: the battery is depleted and the pump has stopped",
    "MOTOR_STALL": "Motor stall: delivery has stopped",
    "MEMORY_CRITICAL": "Critical memory error: the pump has stopped",
}

_BOLUS_NAMES = {
    BolusKind.THERAPEUTIC: "Therapeutic",
    BolusKind.BRIDGE: "Bridge",
    BolusKind.PRIMING: "Priming",
    BolusKind.PATIENT: "Patient-activated",
}


def describe_mode(snapshot: PumpSnapshot) -> str:
    """The dosing mode in words."""
    spec = snapshot.prescription
    mode = snapshot.status.mode
    if mode is Mode.STOPPED:
        return "STOPPED: no delivery"
    if mode is Mode.SIMPLE:
        return "Simple continuous"
    if mode is Mode.FLEX:
        if spec is None:
            return "Flex"
        if spec.weekly:
            return "Flex, a profile per weekday"
        steps = len(spec.profiles[0])
        return f"Flex, {steps} step{'s' if steps != 1 else ''} a day"
    return "Minimum rate (keep-open flow only)"


def describe_offset(offset_s: float) -> str:
    """``"pump 2 min 5 s ahead"`` / ``"in step (within 1 s)"``."""
    seconds = round(offset_s)
    if abs(seconds) <= 1:
        return "in step (within 1 s)"
    magnitude = abs(seconds)
    days, rest = divmod(magnitude, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    parts += [f"{secs} s"] if secs and not days and not hours else []
    return f"pump {' '.join(parts)} {'ahead' if seconds > 0 else 'behind'}"


def alarm_rows(snapshot: PumpSnapshot) -> list[tuple[Severity, str]]:
    """One (severity, text) per active alarm, critical first."""
    rows: list[tuple[Severity, str]] = []
    ordered = sorted(
        snapshot.alarms, key=lambda a: (a.alarm_class is not AlarmClass.CRITICAL, a.code)
    )
    for alarm in ordered:
        critical = alarm.alarm_class is AlarmClass.CRITICAL
        word = "CRITICAL" if critical else "NON-CRITICAL"
        silenced = "; silenced" if alarm.silenced else ""
        gone = "; condition gone, can be cleared" if not alarm.condition_present else ""
        raised = format_clock(snapshot.wall_s_at(alarm.raised_at_s))[:-3]
        rows.append(
            (
                Severity.CRITICAL if critical else Severity.WARNING,
                f"{word}: {ALARM_MEANINGS[alarm.code.name]} (raised {raised}{silenced}{gone})",
            )
        )
    return rows


def refill_by_s(snapshot: PumpSnapshot) -> int | None:
    """The date to refill by: a margin before the low-reservoir alarm (the core's forecast
    of the running prescription), or the empty date when the alarm is already on."""
    status = snapshot.status
    if snapshot.prescription is not None:
        forecast = forecast_pending(snapshot, snapshot.prescription)
        return forecast.refill_by_s or status.empty_at_s
    if status.low_reservoir_alarm_at_s is None:
        return status.empty_at_s
    return max(status.clock_s, status.low_reservoir_alarm_at_s - DEFAULT_REFILL_MARGIN_S)


class HomeController(QObject):
    """Fills the home page from every snapshot; the Interrogate and Set clock buttons."""

    def __init__(
        self,
        window: MainWindow,
        link: PumpLink,
        record: SessionRecord,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.record = record
        self.page = HomePage()
        self.confirm: Callable[[str, str], bool] = lambda title, text: ask_confirmation(
            self.page, title, text, yes_text="Set the clock"
        )
        """Asks before the clock is set (tests replace it)."""
        connect_clicked(self.page.interrogate_button, link.interrogate)
        connect_clicked(self.page.set_clock_button, self.offer_clock_set)
        link.snapshot.connect(self.show_snapshot)
        link.link_lost.connect(self._on_link_lost)
        link.connected.connect(lambda _device: self.page.stale_badge.hide())
        window.add_page("home", "Status", self.page)

    def show_snapshot(self, snapshot: PumpSnapshot) -> None:
        page = self.page
        status = snapshot.status
        device = snapshot.device

        def when(at_s: int | None, none: str = "not within 10 years") -> str:
            return none if at_s is None else format_pump_date(snapshot, at_s)

        poll = self.link.poll_interval_s
        refreshed = f"; refreshed every {poll:g} s" if poll else ""
        page.read_label.setText(
            f"Last read {format_clock(snapshot.read_at_wall_s)} (programmer clock){refreshed}"
        )
        page.stale_badge.hide()

        conc = status.concentration_ug_per_ml
        page.therapy.set_value("dose", units.format_dose_ug_per_day(snapshot.dose_ug_per_day, 1))
        page.therapy.set_value("mode", describe_mode(snapshot))
        page.therapy.set_value("rate", units.format_rate_nl_per_day(status.daily_volume_nl))
        now_text = units.format_rate_nl_per_day(status.current_rate_nl_per_day)
        if not status.delivering:
            now_text += " (NOT DELIVERING)"
        page.therapy.set_value("rate_now", now_text)
        page.therapy.set_value("concentration", units.format_concentration_ug_per_ml(conc))
        page.therapy.set_value("drug", DRUG)
        if status.bolus_kind is BolusKind.NONE:
            page.therapy.set_value("bolus", "None running")
        else:
            page.therapy.set_value(
                "bolus",
                f"{_BOLUS_NAMES[status.bolus_kind]} bolus running: "
                f"{units.format_volume_nl(status.bolus_remaining_nl, 3)} left, ends "
                f"{when(status.bolus_ends_at_s)}",
            )

        page.reservoir.set_value("volume", units.format_volume_nl(status.reservoir_nl, 1))
        page.reservoir.set_value("alarm_volume", units.format_volume_nl(status.alarm_volume_nl, 1))
        page.reservoir.set_value("alarm_date", when(status.low_reservoir_alarm_at_s))
        page.reservoir.set_value("refill_by", when(refill_by_s(snapshot)))
        page.reservoir.set_value("empty", when(status.empty_at_s))
        page.gauge.set_levels(
            volume_ml=float(units.nl_to_ml(status.reservoir_nl)),
            capacity_ml=float(units.nl_to_ml(status.capacity_nl)),
            alarm_ml=float(units.nl_to_ml(status.alarm_volume_nl)),
            low=status.reservoir_nl <= status.alarm_volume_nl,
        )

        page.device.set_value("model", f"{device.model} mL reservoir")
        page.device.set_value("serial", device.serial)
        page.device.set_value("firmware", device.firmware_version)
        page.device.set_value(
            "battery", f"{units.format_trimmed(status.battery_permille / 10, 1)} %"
        )
        page.device.set_value("eri", when(status.eri_at_s))

        page.set_alarms(alarm_rows(snapshot))

        page.clock.set_value("pump", format_clock(status.clock_s))
        page.clock.set_value("programmer", format_clock(snapshot.read_at_wall_s))
        offset = snapshot.clock_offset_s
        off = abs(offset) > CLOCK_TOLERANCE_S
        page.clock.set_value(
            "offset",
            describe_offset(offset) + (" — flex steps run by the pump clock" if off else ""),
        )
        page.set_clock_button.setEnabled(self.link.is_connected)

    def _on_link_lost(self, _reason: str) -> None:
        snapshot = self.link.latest
        when = format_clock(snapshot.read_at_wall_s) if snapshot is not None else "—"
        self.page.stale_badge.set_status(
            Severity.CRITICAL,
            f"Link lost: the figures below were read at {when} and are not live.",
        )
        self.page.stale_badge.show()
        self.page.set_clock_button.setEnabled(False)

    def programmer_now_s(self) -> float:
        """The programmer's clock (Unix s): the link's, so tests inject one clock."""
        return self.link.wall()

    def offer_clock_set(self) -> None:
        """Ask, then set the pump clock to the programmer's (recorded in the session)."""
        snapshot = self.link.latest
        if snapshot is None:
            return
        target = int(self.programmer_now_s())
        question = (
            f"Set the pump clock from {format_clock(snapshot.status.clock_s)} to the "
            f"programmer's {format_clock(target)}?\n\nFlex steps, alarm dates and the event "
            "log follow the pump clock."
        )
        if not self.confirm("Set the pump clock", question):
            return
        before = snapshot.status.clock_s

        def done(clock_s: int) -> None:
            self.record.record(
                "Clock set",
                f"pump clock {format_clock(before)} -> {format_clock(clock_s)}",
                pump_clock_s=clock_s,
                wall_s=self.programmer_now_s(),
            )
            self.window.statusBar().showMessage(
                f"Pump clock set to {format_clock(clock_s)}.", 10_000
            )

        self.link.submit(lambda client: client.set_clock(target), on_done=done)


def install(
    window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
) -> HomeController:
    """The home (status) page."""
    return HomeController(window, link, record)
