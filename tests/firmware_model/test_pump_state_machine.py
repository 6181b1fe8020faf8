"""Random command sequences against an independent oracle of the pump.

The oracle below does not share the model's integration: it computes the
basal volume as a closed-form integral of the schedule (whole weeks plus a
day-by-day prefix, from the prescription itself), and finds each threshold
crossing by bisection on time. After every step the model must agree with
it exactly: volumes, battery, which alarms are active, and the second each
alarm was raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

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
from firmware_model.prescription import (
    Bolus,
    Flex,
    MinimumRate,
    PatientDoseSettings,
    Prescription,
    Simple,
    Stopped,
)
from firmware_model.profile import PumpProfile
from firmware_model.pump import Pump
from protocol.enums import AlarmCode, BolusKind, EventCode, StopReason

from .strategies import CLOCK_2024_01_01_S, prescriptions, profiles

DAY = 86_400
WEEK = 7 * DAY
HOUR = 3_600

# --------------------------------------------------------------------------- the oracle


class BasalIntegral:
    """Closed-form integral of a prescription's basal rate over RTC time (nL*s/day)."""

    def __init__(self, prescription: Prescription, profile: PumpProfile) -> None:
        self.constant: int | None = None
        match prescription:
            case Simple(rate_nl_per_day=r):
                self.constant = r
            case MinimumRate():
                self.constant = profile.minimum_rate_mode_nl_per_day
            case Stopped():
                self.constant = 0
            case Flex():
                # Per weekday (days since Thursday 1970-01-01, shifted to Monday = 0):
                # the steps as (start_s, end_s, rate) and each day's whole integral.
                self.days: list[list[tuple[int, int, int]]] = []
                for wd in range(7):
                    steps = prescription.day(wd).steps
                    spans = []
                    for i, s in enumerate(steps):
                        end_min = steps[i + 1].start_min if i + 1 < len(steps) else 1_440
                        spans.append((s.start_min * 60, end_min * 60, s.rate_nl_per_day))
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

    def delivered(self, t: int) -> int:
        return (
            self.volume_nl
            * (min(t, self.start_t + self.duration_s) - self.start_t)
            // (self.duration_s)
        )


AUTO = (
    AlarmCode.LOW_RESERVOIR,
    AlarmCode.ERI,
    AlarmCode.EMPTY_RESERVOIR,
    AlarmCode.EOS,
    AlarmCode.MOTOR_STALL,
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
        prescription: Prescription,
        battery_uc: int,
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
        self.latched: set[AlarmCode] = set()
        self.active: set[AlarmCode] = set()
        self.silenced: set[AlarmCode] = set()
        self.raises: list[tuple[int, AlarmCode]] = []
        self.patient = PatientDoseSettings.disabled()
        self.grants: list[int] = []
        self.set_prescription(prescription)
        self.evaluate()

    # -- derived
    def set_prescription(self, prescription: Prescription) -> None:
        self.prescription = prescription
        self.basal = BasalIntegral(prescription, self.p)
        mean_drain_per_s = (
            self.p.battery_quiescent_drain_uc_per_s
            + Fraction(self.p.battery_drain_uc_per_nl) * self.basal.weekly_volume_nl / WEEK
        )
        self.eri_charge = self.p.eri_lead_s * mean_drain_per_s

    @property
    def delivered(self) -> int:
        running = 0 if self.bolus is None else self.bolus.delivered(self.t)
        return self.basal_integral // DAY + self.bolus_volume + running

    def conditions(self) -> dict[AlarmCode, bool]:
        return {
            AlarmCode.LOW_RESERVOIR: self.est <= self.alarm_volume,
            AlarmCode.EMPTY_RESERVOIR: self.est <= self.p.empty_threshold_nl,
            AlarmCode.ERI: self.battery < self.eri_charge,
            AlarmCode.EOS: self.battery <= 0,
            AlarmCode.MOTOR_STALL: self.stalled,
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
        return not self.suspended and not self.halted()

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

    # -- time
    def advance(self, b: int) -> None:
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


# --------------------------------------------------------------------------- the machine


BOLUS_KINDS = st.sampled_from([BolusKind.THERAPEUTIC, BolusKind.BRIDGE, BolusKind.PRIMING])
BOLUS_VOLUMES = st.one_of(st.integers(1_000, 300_000), st.integers(1_000, 3_000_000))
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
    )
    def start(
        self, profile: PumpProfile, data: st.DataObject, battery_permille: int, offset: int
    ) -> None:
        prescription = data.draw(prescriptions(profile))
        capacity = profile.reservoir_capacity_nl
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
            concentration_ug_per_ml=500,
            prescription=prescription,
            battery_permille=battery_permille,
            clock_offset_s=CLOCK_2024_01_01_S + offset,
        )
        self.oracle = Oracle(
            profile=profile,
            offset=CLOCK_2024_01_01_S + offset,
            reservoir_nl=reservoir,
            prescription=prescription,
            battery_uc=profile.battery_capacity_uc * battery_permille // 1000,
        )
        if data.draw(st.booleans()):
            self.set_patient_settings(
                enabled=True, volume=20_000, lockout_quarters=8, max_per_24h=6
            )

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
            self.refill(removed="all", added_fraction=100, concentration=500)

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
    @rule(data=st.data(), invalid=st.booleans())
    def program(self, data: st.DataObject, invalid: bool) -> None:
        o = self.oracle
        prescription = (
            Simple(rate_nl_per_day=o.p.min_rate_nl_per_day - 1)
            if invalid and data.draw(st.integers(0, 4)) == 0
            else data.draw(prescriptions(o.p, stopped=data.draw(st.integers(0, 5)) == 0))
        )
        t = self.at(data.draw(st.integers(0, 600)))
        errors: list[type[FirmwareError]] = (
            [OutOfRangeError]
            if isinstance(prescription, Simple)
            and prescription.rate_nl_per_day < o.p.min_rate_nl_per_day
            else []
        )
        if self.expect(errors, lambda: self.pump.program(t, prescription)):
            o.set_prescription(prescription)
            o.evaluate()

    @rule(
        removed=st.sampled_from(["all", "less", "more", "none"]),
        added_fraction=st.integers(0, 110),
        concentration=st.sampled_from([500, 500, 1000, 2000, 750]),
    )
    def refill(self, removed: str, added_fraction: int, concentration: int) -> None:
        t = self.at(0)
        o = self.oracle
        removed_nl = {
            "all": o.est,
            "less": o.est // 2,
            "more": o.est + 1_500_000,
            "none": 0,
        }[removed]
        added_nl = o.p.reservoir_capacity_nl * added_fraction // 100
        after = max(o.est - removed_nl, 0) + added_nl
        errors: list[type[FirmwareError]] = []
        if concentration not in o.p.commercial_concentrations_ug_per_ml:
            errors.append(OutOfRangeError)
        if after > o.p.reservoir_capacity_nl:
            errors.append(OverfillError)
        ok = self.expect(
            errors,
            lambda: self.pump.refill(
                t, removed_nl=removed_nl, added_nl=added_nl, concentration_ug_per_ml=concentration
            ),
        )
        if ok:
            o.removed += min(removed_nl, o.est)
            o.filled += added_nl
            o.est = after
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
        if o.suspended or isinstance(o.prescription, Stopped) or o.bolus is not None:
            errors.append(InvalidStateError)
        if volume > deliverable(o):
            errors.append(OutOfRangeError)
        return errors

    @precondition(
        lambda self: (
            self.oracle.delivering()
            and self.oracle.bolus is None
            and not isinstance(self.oracle.prescription, Stopped)
        )
    )
    @rule(kind=BOLUS_KINDS, volume=BOLUS_VOLUMES, slack=BOLUS_SLACKS, wait=st.integers(0, HOUR))
    def start_bolus_when_allowed(self, kind: BolusKind, volume: int, slack: int, wait: int) -> None:
        self.start_bolus(kind, volume, slack, wait)

    @rule(kind=BOLUS_KINDS, volume=BOLUS_VOLUMES, slack=BOLUS_SLACKS, wait=st.integers(0, HOUR))
    def start_bolus(self, kind: BolusKind, volume: int, slack: int, wait: int) -> None:
        t = self.at(wait)
        o = self.oracle
        fastest = o.p.bolus_duration_at_max_rate_s(volume)
        if kind is BolusKind.THERAPEUTIC:
            bolus = Bolus(kind=kind, volume_nl=volume, duration_s=max(fastest + slack, 1))
        else:
            bolus = Bolus.at_max_rate(kind=kind, volume_nl=volume, profile=o.p)
        errors: list[type[FirmwareError]] = (
            [OutOfRangeError] if bolus.duration_s < fastest else self.bolus_errors(volume)
        )
        if self.expect(errors, lambda: self.pump.start_bolus(t, bolus)):
            o.bolus = OracleBolus(kind, t, bolus.volume_nl, bolus.duration_s)

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
        reason=st.sampled_from(StopReason),
        pause=st.one_of(st.none(), st.integers(1, 3 * DAY)),
    )
    def stop(self, reason: StopReason, pause: int | None) -> None:
        """Stop; usually resume after a pause (MRI, revision), sometimes leave it stopped."""
        t = self.at(0)
        o = self.oracle
        if self.expect(
            [InvalidStateError] if o.suspended else [], lambda: self.pump.stop(t, reason)
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
        volume=st.integers(10_000, 200_000),
        lockout_quarters=st.integers(4, 48),
        max_per_24h=st.integers(1, 12),
    )
    def set_patient_settings(
        self, enabled: bool, volume: int, lockout_quarters: int, max_per_24h: int
    ) -> None:
        t = self.at(0)
        o = self.oracle
        settings_ = PatientDoseSettings(
            enabled=enabled,
            volume_nl=volume,
            duration_s=max(o.p.bolus_duration_at_max_rate_s(volume), 300),
            lockout_s=lockout_quarters * 900,
            max_per_24h=max_per_24h,
        )
        self.pump.set_patient_settings(t, settings_)
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
        if s.volume_nl > deliverable(o):
            errors.append(OutOfRangeError)
        if self.expect(errors, lambda: self.pump.request_patient_dose(t)):
            o.grants.append(t)
            o.bolus = OracleBolus(BolusKind.PATIENT, t, s.volume_nl, s.duration_s)
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
        assert set(p.status().active_alarms) == o.active
        assert set(p.status().silenced_alarms) == o.silenced
        bolus = p.bolus
        if o.bolus is None:
            assert bolus is None
        else:
            assert bolus is not None
            assert (bolus.kind, bolus.start_t, bolus.volume_nl, bolus.duration_s) == (
                o.bolus.kind,
                o.bolus.start_t,
                o.bolus.volume_nl,
                o.bolus.duration_s,
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
        if stops & set(p.status().active_alarms):
            assert not p.delivering
            assert p.bolus is None
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
    max_examples=50, stateful_step_count=30, deadline=None, derandomize=True
)
test_pump_state_machine = PumpMachine.TestCase
