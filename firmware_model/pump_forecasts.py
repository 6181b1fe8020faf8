"""The pump's forecasts (low reservoir, empty, ERI, bridge end) and its status record.

Methods of :class:`~firmware_model.pump.Pump`, written here as functions of the pump
(``self``) and bound in its class body (``Pump.status = pump_forecasts.status``), so a
call costs what a method defined in the class costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware_model.pump_records import PumpStatus
from protocol import messages as m
from protocol.battery import PERMILLE
from protocol.enums import BolusKind, Mode, StopReason
from protocol.forecast import BridgePlan, Plan, bridge_end, first_reach_t
from protocol.schedule import daily_dose_ng, doses_in_24h
from protocol.timebase import DAYS_PER_WEEK, SECONDS_PER_DAY

if TYPE_CHECKING:
    from firmware_model.pump import Pump

_new_status = object.__new__
_set_attribute = object.__setattr__
_NO_CODES: frozenset[Any] = frozenset()
"""The empty set of alarm codes, shared (the wire's records compare fields by value)."""


def _plan(self: Pump) -> Plan:
    delivering = self.delivering
    patient = self._patient
    doses = patient.enabled and delivering
    bridge = self._bridge
    conc = self.rate_concentration_ug_per_ml
    return Plan(
        t=self._t,
        clock_offset_s=self._clock_offset_s,
        schedule=self._schedule,
        basal_remainder=self._delivery.basal_remainder,
        bolus=self._delivery.bolus if delivering else None,
        patient=patient.rule(conc) if doses else None,
        grants_t=tuple(self._grants_t),
        delivering=delivering,
        bridge=None
        if bridge is None
        else BridgePlan(
            remaining_nl=bridge.remaining_nl,
            schedule_after=self._steady,
            patient_after=patient.rule(self._concentration_ug_per_ml) if doses else None,
            old_concentration_ug_per_ml=bridge.old_concentration_ug_per_ml,
            new_concentration_ug_per_ml=self._concentration_ug_per_ml,
        ),
    )


def _daily(self: Pump, weekday_: int) -> tuple[int, int]:
    """Today's 24-h basal volume (nL, at the rates in force) and dose (ng), rounded down
    (memoised per compiled schedule)."""
    if self._daily_for is not self._schedule:
        volumes = map(self._schedule.daily_volume_nl, range(DAYS_PER_WEEK))
        self._daily_volumes_nl = tuple(v.numerator // v.denominator for v in volumes)
        doses = (
            daily_dose_ng(
                self._prescription,
                wd,
                minimum_mode_rate_nl_per_day=self._profile.minimum_rate_mode_nl_per_day,
            )
            for wd in range(DAYS_PER_WEEK)
        )
        self._daily_doses_ng = tuple(d.numerator // d.denominator for d in doses)
        self._daily_for = self._schedule
    return self._daily_volumes_nl[weekday_], self._daily_doses_ng[weekday_]


def _daily_dose_ng(self: Pump, weekday_: int) -> int:
    return self._daily(weekday_)[1]


def _forecast_needs(self: Pump) -> tuple[tuple[int, int, int], ...]:
    """(q, p, need) of the low-reservoir, empty and ERI thresholds (see :class:`Query`)."""
    est = self._delivery.estimate_nl
    remaining = self._battery_uc
    threshold = self._eri_threshold_uc
    bat = self._battery
    return (
        (0, 1, est - self._alarm_volume_nl),
        (0, 1, est - self._profile.empty_threshold_nl),
        (
            bat.quiescent_drain_uc_per_s,
            bat.drain_uc_per_nl,
            remaining - threshold + 1 if remaining >= threshold else 0,
        ),
    )


def _forecast_ts(self: Pump) -> list[int | None]:
    """Model seconds of the low-reservoir, empty and ERI forecasts (None: beyond the
    horizon), from the forecast cache (:class:`~firmware_model.forecast.ForecastCache`)."""
    # _forecast_needs() written out (one call fewer per poll); the reference pump of
    # tests/firmware_model/test_status_reference.py asks with _forecast_needs() itself.
    d = self._delivery
    est = d.estimate_nl
    profile = self._profile
    remaining = self._battery_uc
    threshold = self._eri_threshold_uc
    bat = self._battery
    return self._forecasts.forecast_ts(
        t=self._t,
        horizon_s=profile.forecast_horizon_s,
        commanded_nl=d.total_commanded_nl,
        needs=(
            (0, 1, est - self._alarm_volume_nl),
            (0, 1, est - profile.empty_threshold_nl),
            (
                bat.quiescent_drain_uc_per_s,
                bat.drain_uc_per_nl,
                remaining - threshold + 1 if remaining >= threshold else 0,
            ),
        ),
        plan=self._plan,
    )


def _forecasts_uncached(self: Pump) -> list[int | None]:
    """The three forecasts in RTC seconds, integrated afresh (the reference for the cache)."""
    plan = self._plan()
    horizon = self._profile.forecast_horizon_s
    out: list[int | None] = []
    for q, p, need in self._forecast_needs():
        x = first_reach_t(plan, q=q, p=p, need=need, horizon_s=horizon)
        out.append(None if x is None else self.clock(x))
    return out


def _forecast_clock(self: Pump, index: int) -> int | None:
    x = self._forecast_ts()[index]
    return None if x is None else self.clock(x)


def low_reservoir_at(self: Pump) -> int | None:
    """RTC second the estimate reaches the alarm volume (now if it has), or None.

    Integrated over the real plan (running bolus, flex steps, patient doses
    at their maximum); None when not within the profile's forecast horizon.
    """
    return self._forecast_clock(0)


def empty_at(self: Pump) -> int | None:
    """RTC second the estimate reaches the empty threshold (now if it has), or None."""
    return self._forecast_clock(1)


def eri_at(self: Pump) -> int | None:
    """RTC second the projected battery life drops under the ERI lead (now if it has)."""
    return self._forecast_clock(2)


def bridge_end_at(self: Pump) -> int | None:
    """RTC second the running bridge is forecast to end (None: no bridge, or not
    within the horizon); recomputed from the plan, so extra delivery moves it."""
    if self._bridge is None:
        return None
    end = bridge_end(self._plan(), horizon_s=self._profile.forecast_horizon_s)
    return None if end is None else self.clock(end[1])


def status(self: Pump) -> PumpStatus:
    """Everything an interrogation reports, at :attr:`t` (advance first)."""
    record = _status_record(self, None)
    assert type(record) is PumpStatus
    return record


def status_response(self: Pump, prescription_checksum: int) -> m.StatusResponse:
    """The STATUS answer at :attr:`t` (advance first), built straight from the pump: the
    record ``telemetry.status_response(pump.status(), prescription_checksum)`` makes,
    without the status record in between (one dict built per poll, not two). Proven equal
    to it, field by field and on the wire, in
    tests/firmware_model/test_status_response_fastpath.py and over the reference pump's
    steps in tests/firmware_model/test_status_reference.py."""
    record = _status_record(self, prescription_checksum)
    assert type(record) is m.StatusResponse
    return record


def _status_record(self: Pump, checksum: int | None) -> PumpStatus | m.StatusResponse:
    """The status record (``checksum`` None), or the STATUS answer carrying ``checksum``."""
    # Written flat (the pump's properties inlined, no alarm work while none is active):
    # the same values as the properties and the alarm table give, proven equal to the
    # plain record in tests/firmware_model/test_status_reference.py.
    t = self._t
    offset = self._clock_offset_s
    clock = t + offset
    profile = self._profile
    d = self._delivery
    bolus = d.bolus
    schedule = self._schedule
    basal, wd = schedule.rate_and_weekday(clock)
    suspended = self._suspended
    programmed = self._prescription.mode
    halted_by = self._halt_codes
    delivering = (
        suspended is None
        and programmed is not Mode.STOPPED
        and not halted_by
        and self._valve_closed_since_t is None
    )
    if not delivering:
        current = 0
    elif bolus is not None:
        current = bolus.volume_nl * SECONDS_PER_DAY // bolus.duration_s
    else:
        current = basal
    low, empty, eri = self._forecast_ts()
    if self._daily_for is schedule:
        daily_nl, daily_ng = self._daily_volumes_nl[wd], self._daily_doses_ng[wd]
    else:
        daily_nl, daily_ng = self._daily(wd)
    bridge = self._bridge
    grants = self._grants_t
    alarms = self._alarms
    if alarms.active:
        active_codes = alarms.active_codes()
        silenced = alarms.silenced_codes()
        tone = alarms.sounding_tone(profile)
    else:
        active_codes = silenced = ()
        tone = None
    if bolus is None:
        bolus_kind, bolus_dose, bolus_volume, bolus_duration = BolusKind.NONE, 0, 0, 0
        bolus_start = bolus_end = None
        bolus_remaining = 0
    else:
        bolus_kind, bolus_dose = bolus.kind, bolus.dose_ng
        bolus_volume, bolus_duration = bolus.volume_nl, bolus.duration_s
        bolus_start, bolus_end = bolus.start_t + offset, bolus.end_t + offset
        bolus_remaining = bolus.volume_nl - bolus.delivered_nl(t)
    if bridge is None:
        bridge_remaining = bridge_concentration = 0
        bridge_end_clock = None
    else:
        bridge_remaining = max(bridge.remaining_nl, 0)
        bridge_concentration = bridge.old_concentration_ug_per_ml
        bridge_end_clock = self.bridge_end_at()
    if grants:
        doses = doses_in_24h(grants, t)
        recent = tuple(g + offset for g in grants if g > t - SECONDS_PER_DAY)
    else:
        doses, recent = 0, ()
    uc = self._battery_uc
    battery = self._battery
    low_clock = None if low is None else low + offset
    empty_clock = None if empty is None else empty + offset
    eri_clock = None if eri is None else eri + offset
    permille = -(-uc * PERMILLE // battery.capacity_uc)  # battery.permille(uc), written out
    if checksum is not None:
        # The wire's STATUS fields, as telemetry.status_response maps them from the record.
        values = {
            "clock_s": clock,
            "mode": programmed if suspended is None else Mode.STOPPED,
            "stop_reason": StopReason.NONE if suspended is None else suspended,
            "delivering": delivering,
            "halted_by": frozenset(halted_by) if halted_by else _NO_CODES,
            "bolus_kind": bolus_kind,
            "bolus_dose_ng": bolus_dose,
            "bolus_volume_nl": bolus_volume,
            "bolus_duration_s": bolus_duration,
            "bolus_started_at_s": bolus_start,
            "bolus_remaining_nl": bolus_remaining,
            "bolus_ends_at_s": bolus_end,
            "basal_rate_nl_per_day": basal,
            "current_rate_nl_per_day": current,
            "daily_dose_ng": daily_ng,
            "daily_volume_nl": daily_nl,
            "concentration_ug_per_ml": self._concentration_ug_per_ml,
            "bridge_remaining_nl": bridge_remaining,
            "bridge_concentration_ug_per_ml": bridge_concentration,
            "bridge_ends_at_s": bridge_end_clock,
            "basal_remainder": d.basal_remainder,
            "reservoir_nl": d.estimate_nl,
            "capacity_nl": profile.capacity_nl,
            "alarm_volume_nl": self._alarm_volume_nl,
            "alarms_active": frozenset(active_codes) if active_codes else _NO_CODES,
            "alarms_silenced": frozenset(silenced) if silenced else _NO_CODES,
            "low_reservoir_alarm_at_s": low_clock,
            "empty_at_s": empty_clock,
            "battery_permille": permille,
            "battery_uc": uc,
            "eri_at_s": eri_clock,
            "prescription_checksum": checksum,
            "recent_doses": tuple(m.DoseGrant(at_s=g) for g in recent) if recent else (),
        }
        response = _new_status(m.StatusResponse)
        # A record's fields live in its __dict__ (records are frozen, not slotted).
        _set_attribute(response, "__dict__", values)
        return response
    fields = {
        "model": profile.model,
        "model_name": profile.model_name,
        "serial": self._serial,
        "firmware_version": profile.firmware_version,
        "t_s": t,
        "clock_s": clock,
        "mode": programmed if suspended is None else Mode.STOPPED,
        "stop_reason": StopReason.NONE if suspended is None else suspended,
        "halted_by": halted_by,
        "delivering": delivering,
        "bolus_kind": bolus_kind,
        "bolus_dose_ng": bolus_dose,
        "bolus_volume_nl": bolus_volume,
        "bolus_duration_s": bolus_duration,
        "bolus_start_clock_s": bolus_start,
        "bolus_remaining_nl": bolus_remaining,
        "bolus_ends_at_s": bolus_end,
        "basal_rate_nl_per_day": basal,
        "current_rate_nl_per_day": current,
        "daily_dose_ng": daily_ng,
        "daily_volume_nl": daily_nl,
        "concentration_ug_per_ml": self._concentration_ug_per_ml,
        "bridge_remaining_nl": bridge_remaining,
        "bridge_concentration_ug_per_ml": bridge_concentration,
        "bridge_end_clock_s": bridge_end_clock,
        "basal_remainder": d.basal_remainder,
        "reservoir_nl": d.estimate_nl,
        "capacity_nl": profile.capacity_nl,
        "alarm_volume_nl": self._alarm_volume_nl,
        "alarms_active": active_codes,
        "silenced_alarms": silenced,
        "tone": tone,
        "low_reservoir_at_clock_s": low_clock,
        "empty_at_clock_s": empty_clock,
        "battery_permille": permille,
        "battery_uc": uc,
        "projected_battery_life_s": battery.projected_life_s(uc, self._steady.weekly_integral),
        "eri_at_clock_s": eri_clock,
        "patient_doses_in_24h": doses,
        "recent_doses_clock_s": recent,
    }
    # Every value above is the pump's own, of its field's type, so the record is
    # filled without its generated __init__ (a frozen dataclass sets each of 42 fields
    # through object.__setattr__): the same record, proven equal to PumpStatus(**fields)
    # in tests/firmware_model/test_status_response_fastpath.py.
    status = _new_status(PumpStatus)
    status.__dict__.update(fields)
    return status
