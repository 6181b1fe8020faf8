"""The home page: interrogate, poll, and show what the pump reports; offer to set its clock."""

from __future__ import annotations

from fractions import Fraction

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.dates import (
    DEFAULT_REFILL_MARGIN_S,
    format_pump_date,
)
from programmer_gui.core.implant import implant_rows
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.core.stop import delivery_state
from programmer_gui.views.home import IMPLANT_ROWS, HomePage
from programmer_gui.views.widgets import (
    Confirm,
    Severity,
    confirmer,
    connect_clicked,
    format_clock,
)
from protocol import units
from protocol.enums import AlarmClass, BolusKind, Mode
from protocol.units import format_duration

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
    "LOW_BATTERY_RESET": "Low battery reset: the pump runs only the keep-open minimum rate "
    "(0.006 mL/day) until reprogrammed; reprogram now and watch for withdrawal",
}

BOLUS_RUNNING: dict[BolusKind, str] = {
    BolusKind.THERAPEUTIC: "Therapeutic bolus running",
    BolusKind.PRIMING: "Priming bolus running",
    BolusKind.PATIENT: "Patient-activated dose running",
    # Reserved on the wire (the bridge is reported by STATUS's bridge fields), but a pump
    # that reported it must still be shown, never a crash.
    BolusKind.BRIDGE: "Bridge (concentration change) running",
}
"""The Bolus row's words for every kind a pump may report (NONE: "None running")."""


def describe_mode(snapshot: PumpSnapshot) -> str:
    """The dosing mode in words."""
    spec = snapshot.prescription
    mode = snapshot.status.mode
    if mode is Mode.STOPPED:
        if snapshot.stopped_by_stop_pump:
            return "STOPPED (Stop pump): Resume restarts it"
        return "STOPPED (programmed): program a prescription to restart"
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
        raised = format_clock(alarm.raised_at_s)[:-3]
        rows.append(
            (
                Severity.CRITICAL if critical else Severity.WARNING,
                f"{word}: {ALARM_MEANINGS[alarm.code.name]} (raised {raised}{silenced}{gone})",
            )
        )
    return rows


def refill_by_s(snapshot: PumpSnapshot) -> int | None:
    """The date to refill by: a margin before the pump's low-reservoir alarm date, or the
    empty date when the alarm is already on (all pump clock)."""
    status = snapshot.status
    if status.low_reservoir_alarm_at_s is None:
        return status.empty_at_s
    return max(status.clock_s, status.low_reservoir_alarm_at_s - DEFAULT_REFILL_MARGIN_S)


def bridge_countdown(snapshot: PumpSnapshot) -> str | None:
    """The running bridge with its countdown (pump clock), or None when none runs."""
    if not snapshot.bridging:
        return None
    status = snapshot.status
    old = units.format_concentration_ug_per_ml(status.bridge_concentration_ug_per_ml)
    new = units.format_concentration_ug_per_ml(status.concentration_ug_per_ml)
    left = units.format_volume_nl(status.bridge_remaining_nl)
    end = status.bridge_ends_at_s
    when = (
        "beyond the forecast horizon"
        if end is None
        else f"ends in {format_duration(end - status.clock_s)} ({format_pump_date(snapshot, end)})"
    )
    return (
        f"BRIDGE running: doses computed at the old {old} drug until {left} more has been "
        f"delivered, then at {new}; {when}."
    )


class HomeController(Workflow):
    """Fills the home page from every snapshot; the Interrogate and Set clock buttons."""

    page = WorkflowPage("home", "Status", HomePage)

    def setup(self) -> None:
        self.confirm: Confirm = confirmer(
            lambda: self.page, yes_text="&Set the clock", no_text="&Keep the pump clock"
        )
        """Asks before the clock is set (tests replace it)."""
        self.confirm_cancel_bridge: Confirm = confirmer(
            lambda: self.page, yes_text="Cancel the &bridge", no_text="&Keep the bridge"
        )
        """Asks before the bridge is cancelled; the default button keeps it (tests replace
        it)."""
        self.follow_snapshots(self.show_snapshot)
        self.link.link_lost.connect(self._on_link_lost)
        self.link.connected.connect(lambda _device: self.page.stale_badge.hide())

    def wire_page(self) -> None:
        connect_clicked(self.page.interrogate_button, self.link.interrogate)
        connect_clicked(self.page.set_clock_button, self.offer_clock_set)
        connect_clicked(self.page.cancel_bridge_button, self.offer_cancel_bridge)

    def show_snapshot(self, snapshot: PumpSnapshot) -> None:
        page = self.page
        status = snapshot.status
        device = snapshot.device

        def when(at_s: int | None, none: str = "not within 10 years") -> str:
            return none if at_s is None else format_pump_date(snapshot, at_s)

        poll = self.link.poll_interval_s
        refreshed = f"; refreshed every {poll:g} s" if poll else ""
        page.read_label.setText(
            f"Last read at {format_clock(status.clock_s)} (pump clock){refreshed}"
        )
        page.stale_badge.hide()

        conc = status.concentration_ug_per_ml
        page.therapy.set_value("dose", units.format_dose_ug_per_day(snapshot.dose_ug_per_day))
        page.therapy.set_value("mode", describe_mode(snapshot))
        page.therapy.set_value("rate", units.format_rate_nl_per_day(status.daily_volume_nl))
        now_text = units.format_rate_nl_per_day(status.current_rate_nl_per_day)
        if not status.delivering:
            now_text += " (NOT DELIVERING)"
        page.therapy.set_value("delivery", delivery_state(snapshot))
        countdown = bridge_countdown(snapshot)
        if countdown is None:
            page.bridge_badge.hide()
            page.cancel_bridge_button.hide()
        else:
            page.bridge_badge.set_status(Severity.WARNING, countdown)
            page.bridge_badge.show()
            page.cancel_bridge_button.show()
            page.cancel_bridge_button.setEnabled(self.link.is_connected)
        page.therapy.set_value("rate_now", now_text)
        page.therapy.set_value("concentration", units.format_concentration_ug_per_ml(conc))
        page.therapy.set_value("drug", DRUG)
        if status.bolus_kind is BolusKind.NONE:
            page.therapy.set_value("bolus", "None running")
        else:
            page.therapy.set_value(
                "bolus",
                f"{BOLUS_RUNNING[status.bolus_kind]}: "
                f"{units.format_volume_nl(status.bolus_remaining_nl)} left, ends "
                f"{when(status.bolus_ends_at_s)}",
            )

        page.reservoir.set_value("volume", units.format_volume_nl(status.reservoir_nl))
        page.reservoir.set_value("alarm_volume", units.format_volume_nl(status.alarm_volume_nl))
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
            "battery", units.format_percent(Fraction(status.battery_permille, 1000))
        )
        page.device.set_value("eri", when(status.eri_at_s))

        page.set_alarms(alarm_rows(snapshot))

        rows = dict(implant_rows(snapshot))
        recorded = snapshot.implant_record is not None
        if snapshot.implant is None:
            page.implant_badge.set_status(Severity.INFO, "Not readable in this session.")
        elif not recorded:
            page.implant_badge.set_status(
                Severity.WARNING,
                "No implant record: write it (Implant record page) before a refill with a "
                "bridge or a priming bolus.",
            )
        else:
            page.implant_badge.set_status(Severity.INFO, "")
        for key, label in IMPLANT_ROWS:
            page.implant.set_value(key, rows.get(label, "\u2014"))

        page.clock.set_value("pump", format_clock(status.clock_s))
        offset = snapshot.clock_offset_s
        if snapshot.simulated:
            page.clock.set_value("programmer", "not compared: simulated pump")
            page.clock.set_value(
                "offset", "simulated time is the only \u201cnow\u201d (every date is pump time)"
            )
            page.set_clock_button.hide()
            return
        page.clock.set_value("programmer", format_clock(snapshot.read_at_wall_s))
        off = abs(offset) > CLOCK_TOLERANCE_S
        page.clock.set_value(
            "offset",
            describe_offset(offset) + (" — flex steps run by the pump clock" if off else ""),
        )
        # Offered only when the two clocks disagree, outside a simulation.
        page.set_clock_button.setVisible(off)
        page.set_clock_button.setEnabled(self.link.is_connected and off)

    def _on_link_lost(self, _reason: str) -> None:
        snapshot = self.link.latest
        when = format_clock(snapshot.status.clock_s) if snapshot is not None else "—"
        self.page.stale_badge.set_status(
            Severity.CRITICAL,
            f"Link lost: the figures below were read at {when} (pump clock) and are not live.",
        )
        self.page.stale_badge.show()
        self.page.set_clock_button.setEnabled(False)

    def offer_cancel_bridge(self) -> None:
        """Ask (the default answer keeps the bridge), then end the bridge now (logged)."""
        snapshot = self.link.latest
        if snapshot is None or not snapshot.bridging:
            return
        status = snapshot.status
        old = units.format_concentration_ug_per_ml(status.bridge_concentration_ug_per_ml)
        new = units.format_concentration_ug_per_ml(status.concentration_ug_per_ml)
        question = (
            f"Cancel the bridge now? From now the doses are computed at {new}, although "
            f"{units.format_volume_nl(status.bridge_remaining_nl)} of the old {old} drug is "
            "still in the catheter: the patient receives the wrong dose until it has gone "
            "through. Cancel only if the bridge was started by mistake."
        )
        if not self.confirm_cancel_bridge("Cancel the bridge", question):
            return

        def done(response: object) -> None:
            self.record.record(
                "Bridge cancelled",
                f"{units.format_volume_nl(status.bridge_remaining_nl)} of {old} left",
                pump_clock_s=status.clock_s,
                wall_s=self.programmer_now_s(),
            )
            self.window.statusBar().showMessage("Bridge cancelled.", 10_000)

        self.link.submit(lambda client: client.cancel_bridge(), on_done=done)

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


install = HomeController.install
"""The home (status) page."""
