"""``Pump.status()``, the alarm evaluation and the cached forecasts are proven equal to the
plain reference they replace.

:class:`ReferencePump` is the pump with the plain code: ``status()`` read through the
pump's properties and the alarm table, each self-clearing alarm's condition worked out
one by one (``_condition``), every forecast integrated afresh at every call (no
forecast cache) and each constant-rate segment asking first_reach for every threshold
(``_advance_segment``). Two pumps, one of each, are driven through the same steps, and
after every step their ``status()`` must be equal field by field, as must their images (state,
alarms and the whole event log) and every alarm's ``alarm_condition_present``:

- hypothesis draws the steps (:class:`TwinMachine`: the forecast cache's state machine,
  whose rules draw programmes, boluses, patient doses, refills with and without a bridge,
  stops, faults, battery resets, telemetry charges and clock changes);
- a seeded year of the scenario bench (reprogramming, refills and boluses, polled every
  6 h with the telemetry charge before each status) on the demo preset.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from emulator.presets import PRESETS
from firmware_model.errors import FirmwareError
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import PumpProfile
from firmware_model.pump import _AUTO_CLEARING, Pump, PumpStatus, RefillOrder
from firmware_model.pump_forecasts import _new_status
from firmware_model.telemetry import status_response
from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind, EventCode, StopReason
from protocol.forecast import first_reach_t
from protocol.schedule import doses_in_24h, first_reach, linear_floor_volume
from protocol.timebase import SECONDS_PER_DAY, weekday

from .strategies import profiles
from .test_forecast_cache import CachedForecastMachine
from .test_status_response_fastpath import assert_same_response

DAY = SECONDS_PER_DAY


class ReferencePump(Pump):
    """The pump with the plain code the fast paths replace (see the module's docstring)."""

    def _forecast_ts(self) -> list[int | None]:
        plan = self._plan()
        horizon = self._profile.forecast_horizon_s
        return [
            first_reach_t(plan, q=q, p=p, need=need, horizon_s=horizon)
            for q, p, need in self._forecast_needs()
        ]

    def _advance_segment(self, target: int) -> None:
        """The former segment, verbatim: every threshold asked of first_reach, even those
        not reached by the segment's end."""
        self.segments_processed += 1
        now = self._t
        d = self._delivery
        end = target
        a = b = 0
        c = 1
        bolus = d.bolus
        if self._suspended is None and not self._halt_codes and self._valve_closed_since_t is None:
            if bolus is not None:
                a = bolus.volume_nl * (now - bolus.start_t)
                b = bolus.volume_nl
                c = bolus.duration_s
                end = min(end, bolus.end_t)
            else:
                b, until = self._schedule.segment_at(now + self._clock_offset_s)
                a = d.basal_remainder
                c = SECONDS_PER_DAY
                if until is not None:
                    end = min(end, now + until)
        event = bolus is not None and end == bolus.end_t
        mri = self._mri
        if mri is not None:
            resume = mri.next_event_t(now)
            if resume is not None and resume <= end:
                end, event = resume, True
        if b and self._bridge is not None:
            # The bridge ends when the volume since the refill reaches the dead volume.
            dt = first_reach(
                q=0, p=1, a=a, b=b, c=c, need=self._bridge.remaining_nl, max_dt=end - now
            )
            if dt is not None:
                end, event = now + dt, True
        if b:
            # Volume thresholds: low reservoir, then empty (whichever is still ahead).
            est = d.estimate_nl
            need = 0
            if est > self._alarm_volume_nl:
                need = est - self._alarm_volume_nl
            elif est > self._profile.empty_threshold_nl:
                need = est - self._profile.empty_threshold_nl
            if need:
                dt = first_reach(q=0, p=1, a=a, b=b, c=c, need=need, max_dt=end - now)
                if dt is not None:
                    end, event = now + dt, True
        # Battery thresholds: ERI, then EOS.
        remaining = self._battery_uc
        if remaining >= self._eri_threshold_uc:
            need_uc = remaining - self._eri_threshold_uc + 1
        else:
            need_uc = remaining
        if need_uc > 0:
            bat = self._battery
            dt = first_reach(
                q=bat.quiescent_drain_uc_per_s,
                p=bat.drain_uc_per_nl,
                a=a,
                b=b,
                c=c,
                need=need_uc,
                max_dt=end - now,
            )
            if dt is not None:
                end, event = now + dt, True
        dt = end - now
        volume = 0
        if b:
            total = a + b * dt
            volume = total // c - a // c
            if bolus is None:
                d.basal_remainder = total % c
            d.command(volume, self._profile.delivery_bias_ppm)
            if self._bridge is not None:
                self._bridge.remaining_nl -= volume
        self._battery_uc = max(remaining - self._battery.drain_uc(dt, volume), 0)
        self._t = end
        if event:
            self._evaluate()

    def _condition(self, code: AlarmCode) -> bool:
        match code:
            case AlarmCode.LOW_RESERVOIR:
                return self._delivery.estimate_nl <= self._alarm_volume_nl
            case AlarmCode.EMPTY_RESERVOIR:
                return self._delivery.estimate_nl <= self._profile.empty_threshold_nl
            case AlarmCode.ERI:
                return self._battery_uc < self._eri_threshold_uc
            case AlarmCode.EOS:
                return self._battery_uc == 0
            case AlarmCode.MOTOR_STALL:
                return self._stalled_since_t is not None or (
                    self._mri is not None and self._mri.stalled(self._t)
                )
            case AlarmCode.LOW_BATTERY_RESET:
                return self._reset_pending
            case _:
                return self._alarms.is_active(code)

    def _evaluate(self) -> None:
        d = self._delivery
        if self._bridge is not None and self._bridge.remaining_nl <= 0:
            self._end_bridge(EventCode.BRIDGE_ENDED)
        bolus = d.bolus
        if bolus is not None and self._t >= bolus.end_t:
            d.bolus = None
            self._log_event(EventCode.BOLUS_ENDED, bolus.kind, bolus.volume_nl)
        clock = self.clock(self._t)
        for code in _AUTO_CLEARING:
            holds = self._condition(code)
            active = self._alarms.is_active(code)
            if holds and not active:
                self._alarms.raise_alarm(code, clock)
                self._log_event(EventCode.ALARM_RAISED, code, code.alarm_class)
            elif active and not holds:
                self._alarms.clear(code)
                self._log_event(EventCode.ALARM_CLEARED, code, 0)
        halting = self._alarms.halting_codes()
        for code in halting:
            if code not in self._halt_codes:
                self._log_event(EventCode.DELIVERY_HALTED, code, 0)
        if halting != self._halt_codes:
            self._forecasts.plan_changed()
        self._halt_codes = halting
        if halting:
            self._cancel_running_bolus()
        mri = self._mri
        if (
            mri is not None
            and not mri.valve
            and mri.recovered_t is None
            and not mri.stalled(self._t)
        ):
            mri.recovered_t = self._t
            self._log_mri_recovery()
        if self.delivering != self._was_delivering:
            self._was_delivering = self.delivering
            self._delivering_since_t = self._t

    def status(self) -> PumpStatus:
        clock = self.clock(self._t)
        bolus = self._delivery.bolus
        basal = self._schedule.rate_at(clock)
        delivering = self.delivering
        if not delivering:
            current = 0
        elif bolus is not None:
            current = bolus.volume_nl * SECONDS_PER_DAY // bolus.duration_s
        else:
            current = basal
        low, empty, eri = self._forecast_ts()
        offset = self._clock_offset_s
        daily_nl, daily_ng = self._daily(weekday(clock))
        bridge = self._bridge
        recent = tuple(g + offset for g in self._grants_t if g > self._t - SECONDS_PER_DAY)
        return PumpStatus(
            model=self._profile.model,
            model_name=self._profile.model_name,
            serial=self._serial,
            firmware_version=self._profile.firmware_version,
            t_s=self._t,
            clock_s=clock,
            mode=self.mode,
            stop_reason=StopReason.NONE if self._suspended is None else self._suspended,
            halted_by=self._halt_codes,
            delivering=delivering,
            bolus_kind=BolusKind.NONE if bolus is None else bolus.kind,
            bolus_dose_ng=0 if bolus is None else bolus.dose_ng,
            bolus_volume_nl=0 if bolus is None else bolus.volume_nl,
            bolus_duration_s=0 if bolus is None else bolus.duration_s,
            bolus_start_clock_s=None if bolus is None else self.clock(bolus.start_t),
            bolus_remaining_nl=0
            if bolus is None
            else bolus.volume_nl - bolus.delivered_nl(self._t),
            bolus_ends_at_s=None if bolus is None else self.clock(bolus.end_t),
            basal_rate_nl_per_day=basal,
            current_rate_nl_per_day=current,
            daily_dose_ng=daily_ng,
            daily_volume_nl=daily_nl,
            concentration_ug_per_ml=self._concentration_ug_per_ml,
            bridge_remaining_nl=0 if bridge is None else max(bridge.remaining_nl, 0),
            bridge_concentration_ug_per_ml=0
            if bridge is None
            else bridge.old_concentration_ug_per_ml,
            bridge_end_clock_s=self.bridge_end_at(),
            basal_remainder=self._delivery.basal_remainder,
            reservoir_nl=self._delivery.estimate_nl,
            capacity_nl=self._profile.capacity_nl,
            alarm_volume_nl=self._alarm_volume_nl,
            alarms_active=self._alarms.active_codes(),
            silenced_alarms=self._alarms.silenced_codes(),
            tone=self._alarms.sounding_tone(self._profile),
            low_reservoir_at_clock_s=None if low is None else low + offset,
            empty_at_clock_s=None if empty is None else empty + offset,
            battery_permille=self.battery_permille,
            battery_uc=self._battery_uc,
            projected_battery_life_s=self._battery.projected_life_s(
                self._battery_uc, self._steady.weekly_integral
            ),
            eri_at_clock_s=None if eri is None else eri + offset,
            patient_doses_in_24h=doses_in_24h(self._grants_t, self._t),
            recent_doses_clock_s=recent,
        )


def assert_same_status(fast: PumpStatus, reference: PumpStatus) -> None:
    """Field by field (each field named when it differs), types included, and in the
    fields' order (the record's dict is filled directly)."""
    for field in dataclasses.fields(PumpStatus):
        a, b = getattr(fast, field.name), getattr(reference, field.name)
        assert (a, type(a)) == (b, type(b)), field.name
    assert list(vars(fast)) == list(vars(reference))
    assert fast == reference


def assert_twins(fast: Pump, reference: Pump) -> None:
    """The same status, state, event log and alarm conditions."""
    assert_same_status(fast.status(), reference.status())
    checksum = 0x5EED5EED
    assert_same_response(
        fast.status_response(checksum), status_response(reference.status(), checksum)
    )
    assert fast.to_image() == reference.to_image()
    for code in AlarmCode:
        assert fast.alarm_condition_present(code) == reference.alarm_condition_present(code)


class Twin:
    """Stands for a pump: every call is made on both pumps (the fast one first), their
    answers or refusals compared, and the fast pump's returned."""

    def __init__(self, fast: Pump, reference: Pump) -> None:
        self.fast = fast
        self.reference = reference

    def __getattr__(self, name: str) -> Any:
        a = getattr(self.fast, name)
        b = getattr(self.reference, name)
        if not callable(a):
            assert a == b, name
            return a

        def both(*args: Any, **kwargs: Any) -> Any:
            try:
                answer = a(*args, **kwargs)
            except FirmwareError as refusal:
                with pytest.raises(type(refusal)) as theirs:
                    b(*args, **kwargs)
                assert str(theirs.value) == str(refusal), name
                raise
            other = b(*args, **kwargs)
            if isinstance(answer, PumpStatus):
                assert isinstance(other, PumpStatus)
                assert_same_status(answer, other)
            else:
                assert answer == other, name
            return answer

        return both


class TwinMachine(CachedForecastMachine):
    """The forecast cache's random steps, made on a pump and on its reference twin."""

    @initialize(
        profile=profiles(),
        data=st.data(),
        battery_permille=st.one_of(st.just(1000), st.integers(0, 1000), st.integers(0, 30)),
        offset=st.integers(-3 * DAY, 3 * DAY),
        doses=st.sampled_from([True, True, False]),
        implanted=st.sampled_from([True, True, False]),
    )
    def start(
        self,
        *,
        profile: PumpProfile,
        data: st.DataObject,
        battery_permille: int,
        offset: int,
        doses: bool,
        implanted: bool,
    ) -> None:
        CachedForecastMachine.start(
            self,
            profile=profile,
            data=data,
            battery_permille=battery_permille,
            offset=offset,
            doses=doses,
            implanted=implanted,
        )
        fast = self.pump
        self.pump = Twin(fast, ReferencePump.from_bytes(fast.to_bytes()))  # type: ignore[assignment]

    # -- alarms and MRI exposures (beyond the forecast machine's faults)
    @rule(code=st.sampled_from(AlarmCode))
    def silence_alarm(self, code: AlarmCode) -> None:
        self.attempt(lambda: self.pump.silence_alarm(self.pump.t, code))

    @rule(code=st.sampled_from(AlarmCode))
    def clear_alarm(self, code: AlarmCode) -> None:
        self.attempt(lambda: self.pump.clear_alarm(self.pump.t, code))

    @rule()
    def memory_error(self) -> None:
        self.pump.inject_memory_error(self.pump.t, critical=False)

    @rule(
        exposure_s=st.integers(0, 2 * 3_600),
        delay_s=st.integers(0, 3 * 3_600),
        trap=st.booleans(),
        second=st.booleans(),
        interrogate_after_s=st.one_of(st.none(), st.integers(0, 4 * 3_600)),
    )
    def mri_exposure(
        self,
        exposure_s: int,
        delay_s: int,
        trap: bool,
        second: bool,
        interrogate_after_s: int | None,
    ) -> None:
        p = self.pump
        self.attempt(lambda: p.mri_enter(p.t))
        p.advance_to(p.t + exposure_s)
        self.attempt(
            lambda: p.mri_leave(
                p.t,
                recovery_delay_s=delay_s,
                telemetry_trap=trap,
                recovery_logged_at_second_interrogation=second,
            )
        )
        if interrogate_after_s is not None:
            p.advance_to(p.t + interrogate_after_s)
            p.note_interrogation(p.t)

    @rule()
    def interrogation(self) -> None:
        self.pump.note_interrogation(self.pump.t)

    @invariant()
    def twins_agree(self) -> None:
        twin = self.pump
        assert isinstance(twin, Twin)
        assert_twins(twin.fast, twin.reference)


TwinMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, derandomize=True
)
test_status_equals_the_reference_over_drawn_steps = pytest.mark.slow(TwinMachine.TestCase)


def test_the_conditions_are_in_the_order_of_the_self_clearing_alarms() -> None:
    assert _AUTO_CLEARING == (
        AlarmCode.LOW_RESERVOIR,
        AlarmCode.ERI,
        AlarmCode.EMPTY_RESERVOIR,
        AlarmCode.EOS,
        AlarmCode.MOTOR_STALL,
        AlarmCode.LOW_BATTERY_RESET,
    )


def test_the_record_is_the_one_its_init_builds() -> None:
    """The status record filled through its dict is the one ``PumpStatus(**fields)`` makes."""
    status = PRESETS["demo"].build(t=1_790_000_000).status()
    built = PumpStatus(**vars(status))
    assert_same_status(status, built)
    assert type(status) is PumpStatus and _new_status is object.__new__


# -- a seeded year of the scenario bench ------------------------------------------------------

CONCENTRATION = 2000
FLEX = m.PrescriptionSpec.flex_weekly(
    [[m.FlexStep(start_min=i * 180, dose_ng_per_day=400_000 + 20_000 * i) for i in range(8)]] * 7,
    concentration_ug_per_ml=CONCENTRATION,
)
SIMPLE = m.PrescriptionSpec.simple(600_000, concentration_ug_per_ml=CONCENTRATION)


def test_a_year_of_the_scenario_bench_equals_the_reference() -> None:
    """The scenario bench's year (reprogram every 30 days, refill every 90, a bolus every 7,
    polled every 6 h with the telemetry charge first), with a patient asking for a dose at
    every third poll (granted or refused: both are compared)."""
    fast = PRESETS["demo"].build(t=1_790_000_000)
    twin = Twin(fast, ReferencePump.from_bytes(fast.to_bytes()))
    twin.set_patient_settings(
        fast.t,
        PatientDoseSettings(
            enabled=True, dose_ng=50_000, duration_s=1_800, lockout_s=3 * 3_600, max_per_24h=4
        ),
    )
    t = fast.t
    polls = 0
    for day in range(1, 366):
        for _ in range(4):
            t += DAY // 4
            twin.advance_to(t)
            twin.note_telemetry(t, 1)
            assert_twins(fast, twin.reference)
            polls += 1
            if polls % 3 == 0:
                with contextlib.suppress(FirmwareError):
                    twin.request_patient_dose(t)
        if day % 90 == 0:
            twin.refill(
                t,
                RefillOrder(
                    removed_nl=fast.estimated_reservoir_nl,
                    added_nl=fast.profile.capacity_nl,
                    concentration_ug_per_ml=fast.concentration_ug_per_ml,
                    prescription=fast.prescription,
                    bridge=False,
                ),
            )
        if day % 30 == 0:
            twin.program(t, FLEX if (day // 30) % 2 else SIMPLE)
        if day % 7 == 0:
            with contextlib.suppress(FirmwareError):  # refused while a patient dose runs
                twin.start_bolus(t, fast.therapeutic_bolus(dose_ng=40_000, duration_s=1_800))
    assert fast.status().patient_doses_in_24h > 0


# -- segments ending on a threshold -----------------------------------------------------------


@pytest.mark.parametrize("preset", ["demo", "default"])
@pytest.mark.parametrize(("which", "name"), [(0, "low reservoir"), (1, "empty"), (2, "ERI")])
@pytest.mark.parametrize("program", ["as built", "flex", "bolus"])
def test_advancing_onto_a_threshold_second_equals_the_reference(
    preset: str, which: int, name: str, program: str
) -> None:
    """Land exactly on the second a threshold is reached (and the seconds either side): a
    segment that reaches it only at its very end must still stop there and raise the alarm,
    as the reference segment (which always asked first_reach) does."""
    fast = PRESETS[preset].build(t=1_790_000_000)
    reference = ReferencePump.from_bytes(fast.to_bytes())
    twin = Twin(fast, reference)
    t = fast.t
    if program == "flex":
        twin.program(
            t,
            FLEX.__class__.flex_weekly(
                [
                    [
                        m.FlexStep(start_min=i * 180, dose_ng_per_day=100_000 + 20_000 * i)
                        for i in range(8)
                    ]
                ]
                * 7,
                concentration_ug_per_ml=fast.concentration_ug_per_ml,
            ),
        )
    elif program == "bolus":
        # Little left above the alarm volume: the bolus itself reaches the low-reservoir
        # threshold (a bolus segment's a, b, c), the rest follows at the basal rate.
        bolus = fast.therapeutic_bolus(dose_ng=40_000, duration_s=1_800)
        twin.refill(
            t,
            RefillOrder(
                removed_nl=fast.estimated_reservoir_nl,
                added_nl=fast.alarm_volume_nl + bolus.volume_nl // 2,
                concentration_ug_per_ml=fast.concentration_ug_per_ml,
                prescription=fast.prescription,
                bridge=False,
            ),
        )
        twin.start_bolus(t, bolus)
    for _ in range(3):  # move within a few seconds of it, then land on it
        x = fast._forecast_ts()[which]
        if x is None:
            break
        if x - 2 > fast.t:
            twin.advance_to(x - 2)
    x = fast._forecast_ts()[which]
    assert x is not None, name
    for target in (x - 1, x, x + 1):
        if target > fast.t:
            twin.advance_to(target)
            assert_twins(fast, reference)
    assert fast.alarm_condition_present(
        (AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR, AlarmCode.ERI)[which]
    )


@pytest.mark.parametrize("span_s", [1, 600, 3 * 3_600, 7 * 3_600])
@pytest.mark.parametrize("alarm", [AlarmCode.ERI, AlarmCode.EOS])
def test_a_battery_threshold_met_exactly_at_the_segments_end_equals_the_reference(
    span_s: int, alarm: AlarmCode
) -> None:
    """The battery charge chosen so the drain over ``span_s`` meets the ERI (or EOS) need
    exactly at the end of the segment (no overshoot): the segment must stop there with the
    alarm raised, as the reference segment does."""
    built = PRESETS["demo"].build(t=1_790_000_000)
    image = built.to_image()
    t = built.t
    b, until = built.schedule.segment_at(built.clock(t))
    assert until is None or until >= span_s  # one constant-rate segment
    a = image.delivery.basal_remainder
    volume = linear_floor_volume(a, b, SECONDS_PER_DAY, span_s)
    battery = built.profile.battery()
    drain = battery.drain_uc(span_s, volume)
    threshold = battery.eri_threshold_uc(built.steady_schedule.weekly_integral)
    charge = threshold - 1 + drain if alarm is AlarmCode.ERI else drain
    fast = Pump(dataclasses.replace(image, battery_uc=charge))
    reference = ReferencePump(dataclasses.replace(image, battery_uc=charge))
    assert not fast.alarm_condition_present(alarm)
    Twin(fast, reference).advance_to(t + span_s)
    assert_twins(fast, reference)
    assert alarm in fast.status().alarms_active
