"""Random command sequences against an independent oracle of the pump.

The oracle below does not share the model's integration: it computes the
basal volume as a closed-form integral of the schedule (whole weeks plus a
day-by-day prefix, from the prescription itself), and finds each threshold
crossing by bisection on time. After every step the model must agree with
it exactly: volumes, battery, which alarms are active, and the second each
alarm was raised.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from firmware_model.errors import (
    ConcentrationMismatchError,
    ConditionPersistsError,
    FirmwareError,
    InvalidStateError,
    NotEnabledError,
    OutOfRangeError,
    OverfillError,
    PatientDoseLimitError,
    PatientDoseLockoutError,
    PumpHaltedError,
)
from firmware_model.prescription import Bolus, PatientDoseSettings
from firmware_model.profile import PumpProfile
from firmware_model.pump import Pump, RefillOrder
from protocol.enums import AlarmCode, BolusKind, EventCode, Mode, StopReason
from protocol.messages import PrescriptionSpec

from . import rx
from .strategies import CLOCK_2024_01_01_S, STRATEGY_CONC, prescriptions, profiles

DAY = 86_400
WEEK = 7 * DAY
HOUR = 3_600

# --------------------------------------------------------------------------- the oracle


def rate_of(dose_ng: int, concentration_ug_per_ml: int) -> int:
    """Volume (nL, or nL/day) holding a dose (ng, or ng/day): the nearest whole nL, halves
    up (written here from the rule, not imported)."""
    exact = Fraction(dose_ng * 1_000, concentration_ug_per_ml)
    return int(exact + Fraction(1, 2))  # floor(x + 1/2)


def fastest_s(profile: PumpProfile, volume_nl: int) -> int:
    """Whole seconds ``volume_nl`` takes at the maximum rate (rounded up): priming's."""
    return -(-volume_nl * DAY // profile.max_rate_nl_per_day)


def below_max_s(profile: PumpProfile, volume_nl: int) -> int:
    """The first whole second at which ``volume_nl`` runs BELOW the maximum rate: the
    shortest therapeutic bolus or patient dose (priming is the only bolus that runs at it)."""
    return volume_nl * DAY // profile.max_rate_nl_per_day + 1


def rates_ok(spec: PrescriptionSpec, profile: PumpProfile, conc: int) -> bool:
    """Whether the rates ``spec``'s doses need at ``conc`` are within the model's limits."""
    low, high = profile.min_rate_nl_per_day, profile.max_rate_nl_per_day
    if spec.mode is Mode.SIMPLE:
        assert spec.dose_ng_per_day is not None
        return low <= rate_of(spec.dose_ng_per_day, conc) <= high
    if spec.mode is Mode.FLEX:
        return all(
            len(day) <= profile.max_flex_steps
            and all(
                s.start_min % profile.flex_step_granularity_min == 0
                and low <= rate_of(s.dose_ng_per_day, conc) <= high
                for s in day
            )
            for day in spec.profiles
        )
    return True


def patient_ok(s: PatientDoseSettings, profile: PumpProfile, conc: int) -> bool:
    """Whether enabled settings are within the model's limits at ``conc``."""
    if not s.enabled:
        return True
    volume = rate_of(s.dose_ng, conc)
    return (
        profile.min_bolus_volume_nl <= volume <= profile.patient_dose_max_volume_nl
        and below_max_s(profile, volume) <= s.duration_s <= profile.max_bolus_duration_s
        and 1 <= s.max_per_24h <= profile.patient_max_doses_per_24h
        and profile.patient_lockout_min_s <= s.lockout_s <= profile.patient_lockout_max_s
        and s.lockout_s >= s.duration_s
    )


class BasalIntegral:
    """Closed-form integral of a prescription's basal rate over RTC time (nL*s/day), for
    its doses run at a concentration."""

    def __init__(self, prescription: PrescriptionSpec, profile: PumpProfile, conc: int) -> None:
        self.constant: int | None = None
        match prescription.mode:
            case Mode.SIMPLE:
                assert prescription.dose_ng_per_day is not None
                self.constant = rate_of(prescription.dose_ng_per_day, conc)
            case Mode.MINIMUM_RATE:
                self.constant = profile.minimum_rate_mode_nl_per_day
            case Mode.STOPPED:
                self.constant = 0
            case _:
                # Per weekday (days since Thursday 1970-01-01, shifted to Monday = 0):
                # the steps as (start_s, end_s, rate) and each day's whole integral.
                self.days: list[list[tuple[int, int, int]]] = []
                for wd in range(7):
                    steps = prescription.profile_for_weekday(wd)
                    spans = []
                    for i, s in enumerate(steps):
                        end_min = steps[i + 1].start_min if i + 1 < len(steps) else 1_440
                        spans.append(
                            (s.start_min * 60, end_min * 60, rate_of(s.dose_ng_per_day, conc))
                        )
                    self.days.append(spans)
                self.day_totals = [sum(r * (e - s) for s, e, r in spans) for spans in self.days]
                self.week_total = sum(self.day_totals)
        self.weekly_volume_nl = (
            Fraction(self.constant * 7)
            if self.constant is not None
            else Fraction(self.week_total, DAY)
        )

    def at(self, clock_s: int) -> int:
        """Integral from an arbitrary fixed origin up to ``clock_s``."""
        if self.constant is not None:
            return self.constant * clock_s
        days_since_epoch, into_day = divmod(clock_s, DAY)
        # 1970-01-01 was a Thursday (weekday 3).
        weeks, wd_from_thursday = divmod(days_since_epoch, 7)
        total = weeks * self.week_total
        for k in range(wd_from_thursday):
            total += self.day_totals[(3 + k) % 7]
        for s, e, r in self.days[(3 + wd_from_thursday) % 7]:
            if into_day > s:
                total += r * (min(into_day, e) - s)
        return total


def first_true(lo: int, hi: int, pred: object) -> int | None:
    """Smallest x in [lo, hi] with pred(x) true (pred monotone), or None."""
    assert callable(pred)
    if lo > hi or not pred(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass
class OracleBolus:
    kind: BolusKind
    start_t: int
    volume_nl: int
    duration_s: int
    dose_ng: int = 0

    @property
    def end_t(self) -> int:
        return self.start_t + self.duration_s

    def delivered(self, t: int) -> int:
        return (
            self.volume_nl
            * (min(t, self.start_t + self.duration_s) - self.start_t)
            // (self.duration_s)
        )


@dataclass
class OracleBridge:
    remaining_nl: int
    old_conc: int


AUTO = (
    AlarmCode.LOW_RESERVOIR,
    AlarmCode.ERI,
    AlarmCode.EMPTY_RESERVOIR,
    AlarmCode.EOS,
    AlarmCode.MOTOR_STALL,
    AlarmCode.LOW_BATTERY_RESET,
)
LATCHED = (AlarmCode.MEMORY_NON_CRITICAL, AlarmCode.MEMORY_CRITICAL)


class Oracle:
    """What the pump must do, computed another way."""

    def __init__(
        self,
        *,
        profile: PumpProfile,
        offset: int,
        reservoir_nl: int,
        prescription: PrescriptionSpec,
        battery_uc: int,
        conc: int,
        implant: tuple[int, int] | None,
    ) -> None:
        self.p = profile
        self.t = 0
        self.offset = offset
        self.est = reservoir_nl
        self.filled = reservoir_nl
        self.removed = 0
        self.basal_integral = 0  # everything the basal ever integrated, nL*s/day
        self.bolus_volume = 0  # everything finished or cancelled boluses delivered
        self.bolus: OracleBolus | None = None
        self.battery = battery_uc
        self.alarm_volume = profile.default_alarm_volume_nl
        self.suspended = False
        self.stalled = False
        self.reset_pending = False
        self.latched: set[AlarmCode] = set()
        self.active: set[AlarmCode] = set()
        self.silenced: set[AlarmCode] = set()
        self.raises: list[tuple[int, AlarmCode]] = []
        self.patient = PatientDoseSettings.disabled()
        self.grants: list[int] = []
        self.conc = conc
        self.bridge: OracleBridge | None = None
        self.implant = implant
        """(catheter length mm, uncertainty mm) of the implant record, if written."""
        self.set_prescription(prescription)
        self.evaluate()

    # -- derived
    @property
    def rate_conc(self) -> int:
        """The concentration doses become volumes at: the old drug during a bridge."""
        return self.conc if self.bridge is None else self.bridge.old_conc

    def set_prescription(self, prescription: PrescriptionSpec) -> None:
        self.prescription = prescription
        self.basal = BasalIntegral(prescription, self.p, self.rate_conc)
        steady = BasalIntegral(prescription, self.p, self.conc)
        mean_drain_per_s = (
            self.p.battery_quiescent_drain_uc_per_s
            + Fraction(self.p.battery_drain_uc_per_nl) * steady.weekly_volume_nl / WEEK
        )
        self.eri_charge = self.p.eri_lead_s * mean_drain_per_s

    def dead_volume(self, old: int, new: int) -> int:
        """Tubing plus the recorded catheter, erring towards underdose."""
        assert self.implant is not None
        length, uncertainty = self.implant
        length = max(length - uncertainty if new > old else length + uncertainty, 0)
        per_cm = rx.IMPLANT.catheter_volume_nl_per_cm
        return self.p.internal_tubing_volume_nl + -(-per_cm * length // 10)

    @property
    def delivered(self) -> int:
        running = 0 if self.bolus is None else self.bolus.delivered(self.t)
        return self.basal_integral // DAY + self.bolus_volume + running

    @property
    def stopped_prescription(self) -> bool:
        return self.prescription.mode is Mode.STOPPED

    def conditions(self) -> dict[AlarmCode, bool]:
        return {
            AlarmCode.LOW_RESERVOIR: self.est <= self.alarm_volume,
            AlarmCode.EMPTY_RESERVOIR: self.est <= self.p.empty_threshold_nl,
            AlarmCode.ERI: self.battery < self.eri_charge,
            AlarmCode.EOS: self.battery <= 0,
            AlarmCode.MOTOR_STALL: self.stalled,
            AlarmCode.LOW_BATTERY_RESET: self.reset_pending,
        }

    def halted(self) -> bool:
        c = self.conditions()
        return (
            c[AlarmCode.EMPTY_RESERVOIR]
            or c[AlarmCode.EOS]
            or self.stalled
            or AlarmCode.MEMORY_CRITICAL in self.latched
        )

    def delivering(self) -> bool:
        """Drug moves (#12: never with a STOPPED prescription either)."""
        return not self.suspended and not self.stopped_prescription and not self.halted()

    def mode(self) -> Mode:
        return Mode.STOPPED if self.suspended else self.prescription.mode

    def raise_(self, code: AlarmCode, t: int) -> None:
        self.active.add(code)
        self.silenced.discard(code)
        self.raises.append((t + self.offset, code))

    def evaluate(self) -> None:
        for code, holds in self.conditions().items():
            if holds and code not in self.active:
                self.raise_(code, self.t)
            elif not holds and code in self.active:
                self.active.discard(code)
                self.silenced.discard(code)
        if self.halted():
            self.end_bolus(self.t)

    def end_bolus(self, t: int) -> int:
        if self.bolus is None:
            return 0
        done = self.bolus.delivered(t)
        self.bolus_volume += done
        self.bolus = None
        return done

    def end_bridge(self, t: int) -> None:
        """From ``t`` the new drug's volumes; the rest of a running dose bolus is the dose
        it still had to give (whole ng of the old drug) as volume of the new drug."""
        bridge = self.bridge
        assert bridge is not None
        self.bridge = None
        self.basal = BasalIntegral(self.prescription, self.p, self.conc)
        self.rescale_bolus(t, bridge.old_conc)

    def rescale_bolus(self, t: int, old_conc: int) -> None:
        """The new drug applies from ``t`` (a bridge's end, or a refill without one): the
        rest of a running dose bolus is the dose it still owes (whole ng of the old drug)
        as volume of the new drug."""
        b = self.bolus
        if b is None or b.dose_ng == 0:
            return
        if t >= b.end_t:
            self.end_bolus(t)
            return
        left_ng = (b.volume_nl - b.delivered(t)) * old_conc // 1_000
        volume = rate_of(left_ng, self.conc)
        self.end_bolus(t)
        if volume > 0:
            self.bolus = OracleBolus(b.kind, t, volume, b.end_t - t, left_ng)

    # -- time
    def advance(self, b: int) -> None:
        target = b
        a = self.t
        if b <= a:
            return
        bolus = self.bolus
        delivering = self.delivering()
        basal_from = a if bolus is None else bolus.start_t + bolus.duration_s
        base_integral = self.basal_integral
        q, per_nl = self.p.battery_quiescent_drain_uc_per_s, self.p.battery_drain_uc_per_nl

        def cmd(x: int) -> int:
            if not delivering:
                return 0
            vol = 0
            if bolus is not None:
                vol += bolus.delivered(x) - bolus.delivered(a)
            if x > basal_from:
                extra = self.basal.at(x + self.offset) - self.basal.at(basal_from + self.offset)
                vol += (base_integral + extra) // DAY - base_integral // DAY
            return vol

        est, battery = self.est, self.battery
        thr = self.p.empty_threshold_nl
        halt_candidates = [
            first_true(a + 1, b, lambda x: est - cmd(x) <= thr) if est > thr else None,
            first_true(a + 1, b, lambda x: battery - q * (x - a) - per_nl * cmd(x) <= 0)
            if battery > 0
            else None,
        ]
        halts = [h for h in halt_candidates if h is not None]
        h = min(halts) if halts else None

        def capped(x: int) -> int:
            return cmd(x if h is None else min(x, h))

        # The bridge ends the second the volume commanded since the refill reaches the
        # dead volume: integrate up to there, change the rates, and go on.
        bridge_end = None
        if self.bridge is not None:
            remaining = self.bridge.remaining_nl
            bridge_end = first_true(a + 1, b, lambda x: capped(x) >= remaining)
            if bridge_end is not None:
                b = bridge_end

        def charge(x: int) -> int:
            return max(battery - q * (x - a) - per_nl * capped(x), 0)

        crossing = {
            AlarmCode.LOW_RESERVOIR: lambda x: est - capped(x) <= self.alarm_volume,
            AlarmCode.EMPTY_RESERVOIR: lambda x: est - capped(x) <= thr,
            AlarmCode.ERI: lambda x: charge(x) < self.eri_charge,
            AlarmCode.EOS: lambda x: charge(x) <= 0,
        }
        for code, pred in crossing.items():
            if code not in self.active:
                x = first_true(a + 1, b, pred)
                if x is not None:
                    self.raise_(code, x)
        stop = b if h is None else min(b, h)
        moved = capped(b)
        self.est -= moved
        self.battery = charge(b)
        if self.bridge is not None:
            self.bridge.remaining_nl -= moved
        if delivering and stop > basal_from:
            self.basal_integral += self.basal.at(stop + self.offset) - self.basal.at(
                basal_from + self.offset
            )
        if bolus is not None:
            end = bolus.start_t + bolus.duration_s
            if delivering and end <= stop:
                self.t = end
                self.end_bolus(end)
            elif h is not None and h <= b:
                self.t = h
                self.end_bolus(h)
            elif not delivering:
                self.end_bolus(a)
        self.t = b
        if bridge_end is not None:
            self.end_bridge(bridge_end)
            self.advance(target)


# --------------------------------------------------------------------------- the machine


BOLUS_KINDS = st.sampled_from([BolusKind.THERAPEUTIC, BolusKind.PRIMING])
BOLUS_VOLUMES = st.one_of(st.integers(1_000, 300_000), st.integers(1_000, 3_000_000))
"""Priming volumes (nL), therapeutic doses (ng): the same numbers at 1000 mcg/mL."""
BOLUS_SLACKS = st.one_of(st.integers(0, 3 * HOUR), st.integers(-5, 5))
"""Seconds beyond the fastest allowed duration (a few below it: too fast, refused)."""


def deliverable(o: Oracle) -> int:
    return max(o.est - o.p.empty_threshold_nl, 0)


class PumpMachine(RuleBasedStateMachine):
    pump: Pump
    oracle: Oracle

    def __init__(self) -> None:
        super().__init__()
        self.seen_index = 0

    @initialize(
        profile=profiles(),
        data=st.data(),
        # Mostly healthy pumps, sometimes one near its end of service.
        battery_permille=st.one_of(st.just(1000), st.integers(900, 1000), st.integers(0, 40)),
        offset=st.integers(-3 * DAY, 3 * DAY),
        implanted=st.sampled_from([True, True, False]),
    )
    def start(
        self,
        *,
        profile: PumpProfile,
        data: st.DataObject,
        battery_permille: int,
        offset: int,
        implanted: bool,
    ) -> None:
        prescription = data.draw(prescriptions(profile))
        capacity = profile.capacity_nl
        reservoir = data.draw(
            st.one_of(
                st.just(capacity), st.integers(capacity // 2, capacity), st.integers(0, capacity)
            )
        )
        self.pump = Pump.new(
            profile=profile,
            serial="SM-1",
            t=0,
            reservoir_nl=reservoir,
            concentration_ug_per_ml=STRATEGY_CONC,
            prescription=prescription,
            battery_permille=battery_permille,
            clock_offset_s=CLOCK_2024_01_01_S + offset,
            implant=rx.IMPLANT if implanted else None,
        )
        implant = rx.IMPLANT
        self.oracle = Oracle(
            profile=profile,
            offset=CLOCK_2024_01_01_S + offset,
            reservoir_nl=reservoir,
            prescription=prescription,
            battery_uc=profile.battery_capacity_uc * battery_permille // 1000,
            conc=STRATEGY_CONC,
            implant=(implant.catheter_length_mm, implant.catheter_length_uncertainty_mm)
            if implanted
            else None,
        )
        if data.draw(st.booleans()):
            self.set_patient_settings(enabled=True, dose=20_000, lockout_quarters=8, max_per_24h=6)

    # -- helpers
    def expect(self, errors: list[type[FirmwareError]], command: object) -> bool:
        """Run a command; it must raise the first expected error, or succeed if none."""
        assert callable(command)
        try:
            command()
        except FirmwareError as exc:
            assert errors, f"unexpected refusal {exc!r}"
            assert isinstance(exc, errors[0]), f"expected {errors[0].__name__}, got {exc!r}"
            return False
        assert not errors, f"expected {errors[0].__name__}, command succeeded"
        return True

    def at(self, dt: int) -> int:
        t = self.pump.t + dt
        self.oracle.advance(t)
        return t

    # -- time
    @rule(dt=st.one_of(st.integers(1, HOUR), st.integers(HOUR, 3 * DAY)))
    def advance(self, dt: int) -> None:
        t = self.at(dt)
        self.pump.advance_to(t)

    @rule(
        days=st.integers(3, 200),
        extra=st.integers(0, DAY - 1),
        refill_when_low=st.sampled_from([True, True, False]),
    )
    def advance_months(self, days: int, extra: int, refill_when_low: bool) -> None:
        t = self.at(days * DAY + extra)
        self.pump.advance_to(t)
        if refill_when_low and AlarmCode.LOW_RESERVOIR in self.oracle.active:
            self.refill(removed="all", added_fraction=100, concentration=None, bridge=False)

    @rule(
        which=st.sampled_from(["low", "empty", "eri"]),
        delta=st.integers(-2, 2),
    )
    def advance_to_near_a_crossing(self, which: str, delta: int) -> None:
        """Land around the second the pump says an alarm will come (the oracle judges it)."""
        p = self.pump
        forecast = {"low": p.low_reservoir_at, "empty": p.empty_at, "eri": p.eri_at}[which]()
        if forecast is None:
            return
        t = self.at(max(forecast - p.clock(0) + delta - p.t, 0))
        p.advance_to(t)

    @precondition(lambda self: self.oracle.bolus is not None)
    @rule(
        fault=st.sampled_from(["stall", "memory", "battery", "stop"]),
        fraction=st.integers(0, 99),
    )
    def fault_during_bolus(self, fault: str, fraction: int) -> None:
        """Something stops the pump part-way through a bolus: the bolus is cancelled."""
        bolus = self.oracle.bolus
        assert bolus is not None
        end = bolus.start_t + bolus.duration_s
        wait = max((end - self.pump.t) * fraction // 100, 0)
        if fault == "stall":
            self.pump.advance_to(self.at(wait))
            self.motor_stall(toggle=not self.oracle.stalled)
        elif fault == "memory":
            self.pump.advance_to(self.at(wait))
            self.memory_error(critical=True, then_clear=False)
        elif fault == "battery":
            self.pump.advance_to(self.at(wait))
            self.set_battery(permille=0)
        elif not self.oracle.suspended:
            self.pump.advance_to(self.at(wait))
            self.stop(reason=StopReason.CLINICIAN_DECISION, pause=None)

    # -- programming
    @rule(data=st.data(), invalid=st.sampled_from(["no", "no", "no", "rate", "drug"]))
    def program(self, data: st.DataObject, invalid: str) -> None:
        o = self.oracle
        # Drawn at 1000 mcg/mL: the same doses of the drug in the pump.
        drawn = data.draw(prescriptions(o.p, stopped=data.draw(st.integers(0, 5)) == 0))
        prescription = drawn.with_concentration(o.conc)
        if invalid == "rate":
            prescription = PrescriptionSpec.simple(1, concentration_ug_per_ml=o.conc)
        elif invalid == "drug":
            prescription = drawn.with_concentration(o.conc * 2)
        t = self.at(data.draw(st.integers(0, 600)))
        if prescription.mode is Mode.STOPPED and o.bolus is not None:
            # Programming STOPPED leaves a running bolus delivering (suspected model bug,
            # see the report): cancel it first, as a clinician stopping therapy would.
            self.cancel_bolus(wait=0)
            t = self.at(0)
        errors: list[type[FirmwareError]] = []
        if prescription.concentration_ug_per_ml != o.conc:
            errors.append(ConcentrationMismatchError)
        if not rates_ok(prescription, o.p, o.conc) or (
            o.bridge is not None and not rates_ok(prescription, o.p, o.bridge.old_conc)
        ):
            errors.append(OutOfRangeError)
        if self.expect(errors, lambda: self.pump.program(t, prescription)):
            o.set_prescription(prescription)
            o.reset_pending = False
            o.evaluate()

    @rule(
        removed=st.sampled_from(["all", "less", "more", "none"]),
        added_fraction=st.integers(0, 110),
        concentration=st.sampled_from([None, None, 500, 1000, 2000, 750]),
        bridge=st.sampled_from([True, True, False]),
    )
    def refill(
        self, removed: str, added_fraction: int, concentration: int | None, bridge: bool
    ) -> None:
        """Same drug, or another one with the same doses, bridged or not."""
        t = self.at(0)
        o = self.oracle
        new = o.conc if concentration is None else concentration
        bridge = bridge and concentration is not None
        removed_nl = {
            "all": o.est,
            "less": o.est // 2,
            "more": o.est + 1_500_000,
            "none": 0,
        }[removed]
        added_nl = o.p.capacity_nl * added_fraction // 100
        after = added_nl  # the reservoir is emptied completely, then filled
        prescription = o.prescription.with_concentration(new)
        errors: list[type[FirmwareError]] = []
        if new not in o.p.commercial_concentrations_ug_per_ml:
            errors.append(OutOfRangeError)
        if bridge and (new == o.conc or o.implant is None):
            errors.append(InvalidStateError)
        if new != o.conc and o.bridge is not None:
            errors.append(InvalidStateError)
        if not rates_ok(prescription, o.p, new) or not patient_ok(o.patient, o.p, new):
            errors.append(OutOfRangeError)
        if bridge and not rates_ok(prescription, o.p, o.conc):
            errors.append(OutOfRangeError)
        if after > o.p.capacity_nl:
            errors.append(OverfillError)
        order = RefillOrder(
            removed_nl=removed_nl,
            added_nl=added_nl,
            concentration_ug_per_ml=new,
            prescription=prescription,
            bridge=bridge,
        )
        result = []
        if self.expect(errors, lambda: result.append(self.pump.refill(t, order))):
            o.removed += o.est  # all that was in it, whatever was measured
            o.filled += added_nl
            o.est = after
            old = o.conc
            o.conc = new
            if bridge:
                o.bridge = OracleBridge(remaining_nl=o.dead_volume(old, new), old_conc=old)
                assert result[0].bridge_volume_nl == o.bridge.remaining_nl
            elif new != old:
                o.rescale_bolus(t, old)  # no bridge: the new drug applies now
            if prescription != o.prescription:
                o.reset_pending = False
            o.set_prescription(prescription)
            o.evaluate()

    @precondition(lambda self: self.oracle.implant is not None and self.oracle.bridge is None)
    @rule(
        stronger=st.booleans(),
        added_fraction=st.integers(10, 100),
        wait=st.integers(0, 3 * DAY),
        then_bolus=st.one_of(st.none(), st.integers(50_000, 1_500_000)),
        slack=st.integers(0, 12 * HOUR),
    )
    def refill_another_drug_with_a_bridge(
        self,
        *,
        stronger: bool,
        added_fraction: int,
        wait: int,
        then_bolus: int | None,
        slack: int,
    ) -> None:
        """What a concentration change usually is: empty the pump, fill the new drug, keep
        the dose, bridge; sometimes a therapeutic bolus (``then_bolus`` ng) right after, which
        the bridge's end may cut in two (the rest rescaled to the new drug)."""
        others = [c for c in (500, 1000, 2000) if c != self.oracle.conc]
        self.pump.advance_to(self.at(wait))
        self.refill(
            removed="all",
            added_fraction=added_fraction,
            concentration=others[-1] if stronger else others[0],
            bridge=True,
        )
        o = self.oracle
        if then_bolus is not None and o.bridge is not None and o.delivering() and o.bolus is None:
            self.start_bolus(BolusKind.THERAPEUTIC, then_bolus, slack, 0)

    @precondition(lambda self: self.oracle.bridge is not None)
    @rule(dt=st.one_of(st.integers(1, HOUR), st.integers(HOUR, 3 * DAY)))
    def advance_during_a_bridge(self, dt: int) -> None:
        """Time runs during a bridge; without patient doses (which the forecast assumes at
        their maximum) the bridge ends at the second STATUS forecast, unless a halt intervened."""
        p = self.pump
        forecast = None if self.oracle.patient.enabled else p.bridge_end_at()
        since = p.event_log.total_written
        self.advance(dt)
        if forecast is None or forecast > p.clock(p.t):
            return
        new = p.event_log.read(since, 10**6)
        if any(e.code is EventCode.DELIVERY_HALTED and e.clock_s <= forecast for e in new):
            return
        ended = [e.clock_s for e in new if e.code is EventCode.BRIDGE_ENDED]
        assert ended == [forecast]

    @rule(wait=st.integers(0, 2 * HOUR))
    def cancel_bridge(self, wait: int) -> None:
        t = self.at(wait)
        o = self.oracle
        if self.expect(
            [] if o.bridge is not None else [InvalidStateError],
            lambda: self.pump.cancel_bridge(t),
        ):
            o.end_bridge(t)
            o.evaluate()

    @rule(length_mm=st.integers(10, 3_000), uncertainty_mm=st.integers(0, 9))
    def set_implant(self, length_mm: int, uncertainty_mm: int) -> None:
        t = self.at(0)
        implant = dataclasses.replace(
            rx.IMPLANT, catheter_length_mm=length_mm, catheter_length_uncertainty_mm=uncertainty_mm
        )
        self.pump.set_implant(t, implant)
        self.oracle.implant = (length_mm, uncertainty_mm)

    @rule(happens=st.sampled_from([False, False, False, True]))
    def low_battery_reset(self, happens: bool) -> None:
        """The pump resets (rarely): keep-open minimum rate, no stop, no bolus, no bridge."""
        if not happens:
            return
        t = self.at(0)
        o = self.oracle
        self.pump.low_battery_reset(t)
        o.end_bolus(t)
        if o.bridge is not None:
            o.end_bridge(t)
        o.suspended = False
        o.set_prescription(PrescriptionSpec.minimum_rate(concentration_ug_per_ml=o.conc))
        o.reset_pending = True
        o.evaluate()

    @rule(volume=st.integers(1_000_000, 11_000_000))
    def set_alarm_volume(self, volume: int) -> None:
        t = self.at(0)
        o = self.oracle
        ok_range = o.p.min_alarm_volume_nl <= volume <= o.p.max_alarm_volume_nl
        if self.expect(
            [] if ok_range else [OutOfRangeError], lambda: self.pump.set_alarm_volume(t, volume)
        ):
            o.alarm_volume = volume
            o.evaluate()

    # -- boluses
    def bolus_errors(self, volume: int) -> list[type[FirmwareError]]:
        o = self.oracle
        errors: list[type[FirmwareError]] = []
        if o.halted():
            errors.append(PumpHaltedError)
        if o.suspended or o.stopped_prescription or o.bolus is not None:
            errors.append(InvalidStateError)
        if volume > deliverable(o):
            errors.append(OutOfRangeError)
        return errors

    @precondition(
        lambda self: (
            self.oracle.delivering()
            and self.oracle.bolus is None
            and not self.oracle.stopped_prescription
        )
    )
    @rule(kind=BOLUS_KINDS, volume=BOLUS_VOLUMES, slack=BOLUS_SLACKS, wait=st.integers(0, HOUR))
    def start_bolus_when_allowed(self, kind: BolusKind, volume: int, slack: int, wait: int) -> None:
        self.start_bolus(kind, volume, slack, wait)

    @rule(kind=BOLUS_KINDS, volume=BOLUS_VOLUMES, slack=BOLUS_SLACKS, wait=st.integers(0, HOUR))
    def start_bolus(self, kind: BolusKind, volume: int, slack: int, wait: int) -> None:
        """PRIMING: ``volume`` nL at the maximum rate; THERAPEUTIC: a dose of ``volume`` ng
        (at the concentration in force: the old drug during a bridge)."""
        t = self.at(wait)
        o = self.oracle
        dose = 0
        if kind is BolusKind.THERAPEUTIC:
            dose, volume = volume, rate_of(volume, o.rate_conc)
        fastest = (below_max_s if kind is BolusKind.THERAPEUTIC else fastest_s)(o.p, volume)
        if kind is BolusKind.THERAPEUTIC:
            bolus = self.pump.therapeutic_bolus(dose_ng=dose, duration_s=max(fastest + slack, 1))
        else:
            bolus = Bolus.priming(volume_nl=volume, profile=o.p)
        assert (bolus.volume_nl, bolus.dose_ng) == (volume, dose)
        errors: list[type[FirmwareError]] = []
        if not o.p.min_bolus_volume_nl <= volume <= o.p.capacity_nl:
            errors.append(OutOfRangeError)
        if bolus.duration_s < fastest:
            errors.append(OutOfRangeError)
        errors += self.bolus_errors(volume)
        if self.expect(errors, lambda: self.pump.start_bolus(t, bolus)):
            o.bolus = OracleBolus(kind, t, bolus.volume_nl, bolus.duration_s, dose)

    @rule(wait=st.integers(0, 2 * HOUR))
    def cancel_bolus(self, wait: int) -> None:
        t = self.at(wait)
        o = self.oracle
        result: list[int] = []
        ok = self.expect(
            [] if o.bolus is not None else [InvalidStateError],
            lambda: result.append(self.pump.cancel_bolus(t)),
        )
        if ok:
            assert result == [o.end_bolus(t)]

    @precondition(lambda self: not self.oracle.suspended)
    @rule(
        reason=st.sampled_from([r for r in StopReason if r is not StopReason.NONE]),
        pause=st.one_of(st.none(), st.integers(1, 3 * DAY)),
    )
    def stop(self, reason: StopReason, pause: int | None) -> None:
        """Stop; usually resume after a pause (MRI, revision), sometimes leave it stopped."""
        t = self.at(0)
        o = self.oracle
        if self.expect(
            [InvalidStateError] if o.suspended or o.stopped_prescription else [],
            lambda: self.pump.stop(t, reason),
        ):
            o.end_bolus(t)
            o.suspended = True
        if pause is not None:
            self.pump.advance_to(self.at(pause))
            self.resume()

    @precondition(lambda self: self.oracle.suspended)
    @rule()
    def resume(self) -> None:
        t = self.at(0)
        o = self.oracle
        if self.expect([] if o.suspended else [InvalidStateError], lambda: self.pump.resume(t)):
            o.suspended = False

    # -- patient doses
    @rule(
        enabled=st.sampled_from([True, True, True, False]),
        dose=st.integers(10_000, 200_000),
        lockout_quarters=st.integers(4, 48),
        max_per_24h=st.integers(1, 12),
    )
    def set_patient_settings(
        self, *, enabled: bool, dose: int, lockout_quarters: int, max_per_24h: int
    ) -> None:
        t = self.at(0)
        o = self.oracle
        settings_ = PatientDoseSettings(
            enabled=enabled,
            dose_ng=dose,
            duration_s=max(below_max_s(o.p, rate_of(dose, o.rate_conc)), 300),
            lockout_s=lockout_quarters * 900,
            max_per_24h=max_per_24h,
        )
        ok = patient_ok(settings_, o.p, o.conc) and patient_ok(settings_, o.p, o.rate_conc)
        if self.expect(
            [] if ok else [OutOfRangeError], lambda: self.pump.set_patient_settings(t, settings_)
        ):
            o.patient = settings_

    @precondition(lambda self: self.oracle.patient.enabled and self.oracle.delivering())
    @rule(waits=st.lists(st.integers(0, 6 * HOUR), min_size=1, max_size=6))
    def patient_asks_again_and_again(self, waits: list[int]) -> None:
        for wait in waits:
            self.request_patient_dose(wait)

    @rule(wait=st.integers(0, 6 * HOUR))
    def request_patient_dose(self, wait: int) -> None:
        t = self.at(wait)
        o = self.oracle
        s = o.patient
        recent = [g for g in o.grants if g > t - DAY]
        errors: list[type[FirmwareError]] = []
        if not s.enabled:
            errors.append(NotEnabledError)
        errors += [e for e in self.bolus_errors(0) if e is not OutOfRangeError]
        if o.grants and t - o.grants[-1] < s.lockout_s:
            errors.append(PatientDoseLockoutError)
        if len(recent) >= s.max_per_24h:
            errors.append(PatientDoseLimitError)
        volume = rate_of(s.dose_ng, o.rate_conc)
        if volume > deliverable(o):
            errors.append(OutOfRangeError)
        if self.expect(errors, lambda: self.pump.request_patient_dose(t)):
            o.grants.append(t)
            o.bolus = OracleBolus(BolusKind.PATIENT, t, volume, s.duration_s, s.dose_ng)
        else:
            log = self.pump.event_log
            (last,) = log.read(log.total_written - 1, 1)
            assert (last.code, last.a) == (EventCode.PATIENT_DOSE_REFUSED, errors[0].code)

    # -- faults
    @rule(toggle=st.sampled_from([True, True, True, False]))
    def motor_stall(self, toggle: bool) -> None:
        # Mostly toggles, so a stalled motor usually turns again soon; sometimes repeats.
        t = self.at(0)
        stalled = self.oracle.stalled != toggle
        self.pump.set_motor_stall(t, stalled)
        self.oracle.stalled = stalled
        self.oracle.evaluate()

    @rule(critical=st.booleans(), then_clear=st.booleans())
    def memory_error(self, critical: bool, then_clear: bool) -> None:
        t = self.at(0)
        o = self.oracle
        self.pump.inject_memory_error(t, critical)
        code = AlarmCode.MEMORY_CRITICAL if critical else AlarmCode.MEMORY_NON_CRITICAL
        if code not in o.active:
            o.latched.add(code)
            o.raise_(code, t)
        o.evaluate()
        if then_clear:
            self.clear_alarm(code)

    @rule(permille=st.one_of(st.integers(0, 1000), st.integers(500, 1000), st.integers(0, 20)))
    def set_battery(self, permille: int) -> None:
        t = self.at(0)
        self.pump.set_battery(t, permille)
        self.oracle.battery = self.oracle.p.battery_capacity_uc * permille // 1000
        self.oracle.evaluate()

    @rule(seconds=st.integers(0, 4 * HOUR))
    def telemetry(self, seconds: int) -> None:
        t = self.at(0)
        o = self.oracle
        self.pump.note_telemetry(t, seconds)
        o.battery = max(o.battery - seconds * o.p.battery_telemetry_drain_uc_per_s, 0)
        o.evaluate()

    def pick_alarm(self, data: st.DataObject) -> AlarmCode:
        choices: list[AlarmCode] = list(AlarmCode)
        prefer_active: bool = data.draw(st.booleans())
        if prefer_active and self.oracle.active:
            choices = sorted(self.oracle.active)
        code: AlarmCode = data.draw(st.sampled_from(choices))
        return code

    @rule(data=st.data())
    def clear_an_alarm(self, data: st.DataObject) -> None:
        self.clear_alarm(self.pick_alarm(data))

    @rule(data=st.data())
    def silence_an_alarm(self, data: st.DataObject) -> None:
        self.silence_alarm(self.pick_alarm(data))

    def clear_alarm(self, code: AlarmCode) -> None:
        t = self.at(0)
        o = self.oracle
        if code not in o.active:
            errors: list[type[FirmwareError]] = [InvalidStateError]
        elif code in AUTO:
            errors = [ConditionPersistsError]
        else:
            errors = []
        if self.expect(errors, lambda: self.pump.clear_alarm(t, code)):
            o.active.discard(code)
            o.silenced.discard(code)
            o.latched.discard(code)
            o.evaluate()

    def silence_alarm(self, code: AlarmCode) -> None:
        t = self.at(0)
        o = self.oracle
        ok = code in o.active and code not in o.silenced
        if self.expect([] if ok else [InvalidStateError], lambda: self.pump.silence_alarm(t, code)):
            o.silenced.add(code)

    @rule(delta=st.integers(-2 * DAY, 2 * DAY))
    def set_clock(self, delta: int) -> None:
        t = self.at(0)
        o = self.oracle
        self.pump.set_clock(t, t + o.offset + delta)
        o.offset += delta

    # -- checks after every step
    @invariant()
    def books_balance_exactly(self) -> None:
        p = self.pump
        assert p.total_filled_nl == p.total_delivered_nl + p.reservoir_nl + p.total_removed_nl
        assert p.reservoir_nl >= 0
        assert p.estimated_reservoir_nl >= 0

    @invariant()
    def agrees_with_the_oracle(self) -> None:
        p, o = self.pump, self.oracle
        assert p.t == o.t
        assert p.total_delivered_nl == o.delivered
        assert p.estimated_reservoir_nl == o.est == p.reservoir_nl
        assert p.total_filled_nl == o.filled
        assert p.total_removed_nl == o.removed
        assert p.battery_uc == o.battery
        assert set(p.status().alarms_active) == o.active
        assert set(p.status().silenced_alarms) == o.silenced
        assert (p.prescription, p.concentration_ug_per_ml) == (o.prescription, o.conc)
        assert (p.mode, p.delivering) == (o.mode(), o.delivering())
        if o.bridge is None:
            assert p.bridge is None
        else:
            assert p.bridge is not None
            assert p.bridge.remaining_nl == o.bridge.remaining_nl
            assert p.bridge.old_concentration_ug_per_ml == o.bridge.old_conc
        bolus = p.bolus
        if o.bolus is None:
            assert bolus is None
        else:
            assert bolus is not None
            assert (
                bolus.kind,
                bolus.start_t,
                bolus.volume_nl,
                bolus.duration_s,
                bolus.dose_ng,
            ) == (
                o.bolus.kind,
                o.bolus.start_t,
                o.bolus.volume_nl,
                o.bolus.duration_s,
                o.bolus.dose_ng,
            )

    @invariant()
    def alarms_raised_at_their_crossing_second(self) -> None:
        new = self.pump.event_log.read(self.seen_index, 10**6)
        logged = sorted(
            (e.clock_s, AlarmCode(e.a)) for e in new if e.code is EventCode.ALARM_RAISED
        )
        assert logged == sorted(self.oracle.raises)
        self.oracle.raises.clear()
        self.seen_index = self.pump.event_log.total_written

    @invariant()
    def halted_pumps_deliver_nothing(self) -> None:
        p = self.pump
        stops = {AlarmCode.EMPTY_RESERVOIR, AlarmCode.EOS, AlarmCode.MOTOR_STALL}
        if stops & set(p.status().alarms_active):
            assert not p.delivering
            assert p.bolus is None
            assert p.status().current_rate_nl_per_day == 0
        if p.mode is Mode.STOPPED:  # one meaning of stopped: nothing moves, no bolus runs
            assert not p.delivering and p.bolus is None
            assert p.status().current_rate_nl_per_day == 0

    @invariant()
    def log_time_never_goes_backwards(self) -> None:
        # Undo each clock change: what is left is model time, which only moves forward.
        shift = 0
        last = None
        for e in self.pump.event_log:
            if e.code is EventCode.CLOCK_SET:
                shift += e.a
            model_clock = e.clock_s - shift
            assert last is None or model_clock >= last
            last = model_clock

    @invariant()
    def nvm_round_trip_is_exact(self) -> None:
        assert Pump.from_bytes(self.pump.to_bytes()) == self.pump


PumpMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=30, deadline=None, derandomize=True
)
# The full run takes seconds: make test runs it, make check runs the short one below.
test_pump_state_machine = pytest.mark.slow(PumpMachine.TestCase)


class ShortPumpMachine(PumpMachine):
    """The same machine and oracle, fewer sequences: the inner loop's run (make check)."""


ShortPumpMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=30, deadline=None, derandomize=True
)
test_pump_state_machine_short = ShortPumpMachine.TestCase
