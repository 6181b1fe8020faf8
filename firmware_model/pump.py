"""The pump: the aggregate of reservoir, schedule, battery, alarms and event log.

Time is the model second ``t`` (an int the caller passes in; the model never
reads a clock). ``pump.clock(t)`` is the pump's RTC (Unix seconds, UTC) and
everything the pump reports - log entries, alarm raise times, forecasts -
is in RTC seconds.

:meth:`Pump.advance_to` jumps from event to event (flex rate changes, bolus
ends, the end of a bridge, the end of an MRI recovery delay, alarm threshold
crossings, empty reservoir, battery ERI and EOS),
integrating delivery exactly in between; it never ticks.

Every command first advances to its ``t``; then it either succeeds or raises
a :class:`~firmware_model.errors.RequestError` having changed nothing (the
one deliberate exception: a refused patient-dose request is logged as
PATIENT_DOSE_REFUSED, because the log is where clinicians see refusals).

State rules:

- The prescription is a dose of the drug in the reservoir
  (:class:`~protocol.messages.PrescriptionSpec`); one naming another
  concentration is refused (ConcentrationMismatchError). The pump runs it as
  the volume rates :mod:`protocol.schedule` computes at the concentration in
  force: the drug in the reservoir, or during a bridge the old drug.
- A refill is one transaction (:meth:`Pump.refill`): reservoir, drug, the
  prescription for the new drug and the bridge change together or not at all.
  The bridge ends at the first second the volume commanded since the refill
  reaches its dead volume; then the rates (and the rest of a running dose
  bolus) switch to the new concentration.
- A bolus (therapeutic, priming or a patient dose) replaces the basal rate
  while it runs; the basal schedule (whatever is programmed by then) resumes
  when it ends. Its remainder accumulator is untouched meanwhile.
- Mode STOPPED means the clinician stopped therapy: :meth:`Pump.stop` (until
  :meth:`Pump.resume`) or a committed STOPPED prescription (until another is
  programmed). Delivery is *halted* while a halting alarm is active (empty
  reservoir, EOS, motor stall, critical memory error; see
  :mod:`firmware_model.alarms`), and restarts by itself when the condition ends
  (a refill, a motor that turns again, a clinician clearing a memory error),
  without any change of mode. Halting or stopping cancels a running bolus.
- An MRI exposure (:meth:`Pump.mri_enter`, :meth:`Pump.mri_leave`) stalls the
  motor; see :mod:`firmware_model.mri`. A session opened is an interrogation
  (:meth:`Pump.note_interrogation`).
- A low battery reset (:meth:`Pump.low_battery_reset`) drops to the
  minimum-rate prescription until one is programmed.
- Boluses and patient doses are refused while the pump is stopped, halted,
  programmed to Stopped, or already running a bolus, and when their volume
  exceeds what the reservoir can deliver before its empty threshold.
- Patient-dose lockouts count in model time, so setting the RTC cannot
  shorten them.

Forecasts are cached (:mod:`firmware_model.forecast`): the pump tells the
cache whenever what it will do from now on changes (a command, a fault, a halt
or its end); refills, battery drains and alarm volumes change only the
thresholds, which the cache accounts for exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from firmware_model import nvm
from firmware_model.alarms import ALARM_RULES, AlarmTable, AlarmView
from firmware_model.delivery import BridgeState, DeliveryState
from firmware_model.errors import (
    ConcentrationMismatchError,
    CorruptImageError,
    FirmwareError,
    InvalidStateError,
    OutOfRangeError,
    PumpHaltedError,
    RequestError,
    RtcCeilingError,
    TimeWentBackwardsError,
    WrongTypeError,
)
from firmware_model.event_log import EventLog, EventLogReader
from firmware_model.forecast import ForecastCache
from firmware_model.mri import MriState
from firmware_model.prescription import (
    Bolus,
    PatientDoseSettings,
    check_patient_dose,
    compile_for,
    validate,
    validate_bolus,
    validate_patient_settings,
)
from firmware_model.profile import PumpProfile, ToneSpec
from firmware_model.valve import field_discharge_nl
from protocol.enums import AlarmCode, BolusKind, EventCode, Mode, StopReason, ValveModel
from protocol.forecast import (
    BridgePlan,
    Plan,
    bridge_end,
    first_reach_t,
)
from protocol.messages import ImplantFields, PrescriptionSpec
from protocol.schedule import (
    RunningBolus,
    Schedule,
    bridge_volume_nl,
    daily_dose_ng,
    doses_in_24h,
    first_reach,
    next_patient_dose_t,
    rescale_bolus,
)
from protocol.timebase import (
    DAYS_PER_WEEK,
    INT32_MAX,
    INT32_MIN,
    RTC_MAX_CLOCK_S,
    SECONDS_PER_DAY,
    weekday,
)

_SERIAL_MAX_CHARS = 32


_AUTO_CLEARING: tuple[AlarmCode, ...] = tuple(
    code for code in AlarmCode if ALARM_RULES[code].auto_clears
)
"""The self-clearing alarms, in code order (:meth:`Pump._evaluate` checks their conditions)."""
_new_status = object.__new__


def _require_int(name: str, value: object, *, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise WrongTypeError(field=name, value=value, expected="an int")
    if minimum is not None and value < minimum:
        raise OutOfRangeError(field=name, value=value, limit=minimum, rule="at least")
    return value


@dataclass(frozen=True, kw_only=True)
class RefillResult:
    """What a refill found and did (all volumes as the pump knows them)."""

    expected_nl: int
    """The pump's estimate of the reservoir before the refill."""
    removed_nl: int
    """What the clinician reported removing."""
    discrepancy_nl: int
    """removed - expected: negative when less came out than expected."""
    discrepancy_flagged: bool
    """|discrepancy| above the profile's threshold: drug may have gone outside the pump."""
    added_nl: int
    reservoir_nl: int
    """The estimate after the refill."""
    previous_concentration_ug_per_ml: int
    concentration_ug_per_ml: int
    bridge_volume_nl: int
    """Dead volume the bridge runs for (0: no bridge)."""

    @property
    def concentration_changed(self) -> bool:
        """True when the new drug differs."""
        return self.concentration_ug_per_ml != self.previous_concentration_ug_per_ml


@dataclass(frozen=True, kw_only=True)
class RefillOrder:
    """A refill transaction as the clinician orders it (validated whole before it applies)."""

    removed_nl: int
    added_nl: int
    concentration_ug_per_ml: int
    prescription: PrescriptionSpec
    """The prescription to run on the new drug (it must name the new concentration)."""
    bridge: bool
    """Run the bridge (only when the concentration changes)."""
    drug_lot: str = ""
    allow_nonstandard_concentration: bool = False


@dataclass(frozen=True, kw_only=True)
class PatientDoseGrant:
    """A granted patient dose."""

    dose_ng: int
    volume_nl: int
    duration_s: int
    ends_at_clock_s: int
    doses_in_24h: int
    """Granted doses in the trailing 24 h, this one included."""
    next_allowed_at_clock_s: int
    """Earliest RTC second the next request can be granted."""


@dataclass(frozen=True, kw_only=True)
class PumpStatus:
    """Everything an interrogation reports, at one instant. Times are RTC seconds."""

    model: int
    model_name: str
    serial: str
    firmware_version: str
    t_s: int
    """Model time the status was taken at."""
    clock_s: int
    mode: Mode
    """STOPPED while therapy is stopped (STOP_PUMP or a STOPPED prescription), else the
    prescription's mode."""
    stop_reason: StopReason
    """Why STOP_PUMP stopped it (NONE otherwise)."""
    halted_by: tuple[AlarmCode, ...]
    """Active alarms halting delivery (faults)."""
    delivering: bool
    """Drug is moving now: not STOPPED and not halted."""
    bolus_kind: BolusKind
    bolus_dose_ng: int
    bolus_volume_nl: int
    bolus_duration_s: int
    bolus_start_clock_s: int | None
    bolus_remaining_nl: int
    bolus_ends_at_s: int | None
    basal_rate_nl_per_day: int
    """The programmed basal rate at this instant (at the concentration in force)."""
    current_rate_nl_per_day: int
    """What is being delivered now (a bolus's mean rate rounded down; 0 when not delivering)."""
    daily_dose_ng: int
    """Today's basal dose over 24 h, rounded down to whole ng."""
    daily_volume_nl: int
    """Volume of today's basal profile over 24 h at the rates in force, rounded down."""
    concentration_ug_per_ml: int
    """The drug in the reservoir."""
    bridge_remaining_nl: int
    bridge_concentration_ug_per_ml: int
    """The old concentration a running bridge computes at (0: no bridge)."""
    bridge_end_clock_s: int | None
    basal_remainder: int
    reservoir_nl: int
    """The pump's estimate of the reservoir volume."""
    capacity_nl: int
    alarm_volume_nl: int
    alarms_active: tuple[AlarmCode, ...]
    silenced_alarms: tuple[AlarmCode, ...]
    tone: ToneSpec | None
    """The pattern sounding now (most severe unsilenced alarm)."""
    low_reservoir_at_clock_s: int | None
    empty_at_clock_s: int | None
    battery_permille: int
    battery_uc: int
    projected_battery_life_s: int
    eri_at_clock_s: int | None
    patient_doses_in_24h: int
    recent_doses_clock_s: tuple[int, ...]
    """Clock seconds of the patient doses granted in the trailing 24 h."""


class Pump:
    """One pump. Build it with :meth:`new` or :meth:`from_bytes`."""

    def __init__(self, image: nvm.PumpImage) -> None:
        """Assemble a pump from a complete image (use :meth:`new` or :meth:`from_bytes`)."""
        _check_image(image)
        profile = image.profile
        self._profile = profile
        self._serial = image.serial
        self._t = image.t
        self._clock_offset_s = image.clock_offset_s
        self._prescription = image.prescription
        self._concentration_ug_per_ml = image.concentration_ug_per_ml
        self._bridge = None if image.bridge is None else replace(image.bridge)
        self._implant = image.implant
        self._drug_lot = image.drug_lot
        self._last_refill_t = image.last_refill_t
        self._reset_pending = image.reset_pending
        self._mri = None if image.mri is None else replace(image.mri)
        self._delivering_since_t = image.delivering_since_t
        self._valve_closed_since_t = image.valve_closed_since_t
        self._steady = compile_for(image.prescription, profile, image.concentration_ug_per_ml)
        self._schedule = self._compile()
        self._alarm_volume_nl = image.alarm_volume_nl
        self._delivery = replace(image.delivery)
        self._battery = profile.battery()
        self._battery_uc = image.battery_uc
        self._alarms = AlarmTable(active={a.code: a for a in image.alarms})
        self._log = EventLog.restore(
            image.log_capacity, list(image.log_entries), image.log_total_written
        )
        self._suspended = image.suspended
        self._stalled_since_t = image.stalled_since_t
        self._patient = image.patient
        self._grants_t = list(image.grants_t)
        # Derived, never stored:
        self._eri_threshold_uc = self._battery.eri_threshold_uc(self._steady.weekly_integral)
        self._halt_codes = self._alarms.halting_codes()
        self.segments_processed = 0
        """Diagnostic: constant-rate segments integrated so far (not part of the state)."""
        # Forecast cache (derived, never stored). The plan version changes whenever what
        # the pump will do from now on changes other than by time running along it.
        self._forecasts = ForecastCache()
        self._was_delivering = self.delivering
        self._daily_for: Schedule | None = None
        self._daily_volumes_nl: tuple[int, ...] = ()
        self._daily_doses_ng: tuple[int, ...] = ()

    # ------------------------------------------------------------------ construction

    @classmethod
    def new(
        cls,
        *,
        profile: PumpProfile,
        serial: str,
        t: int,
        reservoir_nl: int,
        concentration_ug_per_ml: int,
        prescription: PrescriptionSpec,
        battery_permille: int = 1000,
        clock_offset_s: int = 0,
        allow_nonstandard_concentration: bool = False,
        implant: ImplantFields | None = None,
    ) -> Pump:
        """A freshly implanted pump at model second ``t`` (logs POWER_ON).

        ``prescription`` must be for the drug filled (``concentration_ug_per_ml``).
        """
        if type(serial) is not str:
            raise WrongTypeError(field="serial", value=serial, expected="a str")
        if not (0 < len(serial) <= _SERIAL_MAX_CHARS and serial.isascii() and serial.isprintable()):
            raise OutOfRangeError(
                field="len(serial)",
                value=len(serial),
                limit=(1, _SERIAL_MAX_CHARS),
                rule="printable ASCII, length within",
            )
        _require_int("t", t)
        _require_int("clock_offset_s", clock_offset_s)
        _check_clock(t + clock_offset_s)
        _require_int("reservoir_nl", reservoir_nl, minimum=0)
        if reservoir_nl > profile.capacity_nl:
            raise OutOfRangeError(
                field="reservoir_nl",
                value=reservoir_nl,
                limit=profile.capacity_nl,
                rule="at most",
            )
        _check_concentration(profile, concentration_ug_per_ml, allow_nonstandard_concentration)
        _require_int("battery_permille", battery_permille)
        if not 0 <= battery_permille <= 1000:
            raise OutOfRangeError(
                field="battery_permille", value=battery_permille, limit=(0, 1000), rule="within"
            )
        _check_named(prescription, concentration_ug_per_ml)
        validate(prescription, profile, concentration_ug_per_ml)
        battery = profile.battery()
        image = nvm.PumpImage(
            profile=profile,
            serial=serial,
            t=t,
            clock_offset_s=clock_offset_s,
            prescription=prescription,
            concentration_ug_per_ml=concentration_ug_per_ml,
            alarm_volume_nl=profile.default_alarm_volume_nl,
            delivery=DeliveryState(
                estimate_nl=reservoir_nl, reservoir_nl=reservoir_nl, total_filled_nl=reservoir_nl
            ),
            battery_uc=battery.charge_for_permille(battery_permille),
            alarms=(),
            suspended=None,
            stalled_since_t=None,
            patient=PatientDoseSettings.disabled(),
            grants_t=(),
            log_capacity=profile.event_log_capacity,
            log_total_written=0,
            log_entries=(),
            bridge=None,
            implant=implant,
            drug_lot="",
            last_refill_t=None,
            reset_pending=False,
            mri=None,
            delivering_since_t=t,
        )
        pump = cls(image)
        pump._log_event(EventCode.POWER_ON, reservoir_nl, concentration_ug_per_ml)
        pump._evaluate()
        return pump

    def to_image(self) -> nvm.PumpImage:
        """The complete state as plain values."""
        return nvm.PumpImage(
            profile=self._profile,
            serial=self._serial,
            t=self._t,
            clock_offset_s=self._clock_offset_s,
            prescription=self._prescription,
            concentration_ug_per_ml=self._concentration_ug_per_ml,
            alarm_volume_nl=self._alarm_volume_nl,
            delivery=replace(self._delivery),
            battery_uc=self._battery_uc,
            alarms=tuple(self._alarms.active[c] for c in self._alarms.active_codes()),
            suspended=self._suspended,
            stalled_since_t=self._stalled_since_t,
            patient=self._patient,
            grants_t=tuple(self._grants_t),
            log_capacity=self._log.capacity,
            log_total_written=self._log.total_written,
            log_entries=tuple(self._log),
            bridge=None if self._bridge is None else replace(self._bridge),
            implant=self._implant,
            drug_lot=self._drug_lot,
            last_refill_t=self._last_refill_t,
            reset_pending=self._reset_pending,
            mri=None if self._mri is None else replace(self._mri),
            delivering_since_t=self._delivering_since_t,
            valve_closed_since_t=self._valve_closed_since_t,
        )

    def to_bytes(self) -> bytes:
        """The whole state as an NVM image (see :mod:`firmware_model.nvm`)."""
        return nvm.encode(self.to_image())

    @classmethod
    def from_bytes(cls, data: bytes) -> Pump:
        """A pump from an NVM image; CorruptImageError if the image is not a valid one."""
        image = nvm.decode(data)
        try:
            return cls(image)
        except (FirmwareError, ValueError, TypeError) as exc:
            raise CorruptImageError(f"inconsistent state in image: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pump):
            return NotImplemented
        return self.to_image() == other.to_image()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"Pump(serial={self._serial!r}, t={self._t}, mode={self._schedule.mode.name}, "
            f"reservoir_nl={self._delivery.estimate_nl})"
        )

    # ------------------------------------------------------------------ time

    @property
    def t(self) -> int:
        """Model time reached, in seconds."""
        return self._t

    def clock(self, t: int) -> int:
        """The RTC (Unix seconds) at model second ``t``."""
        return t + self._clock_offset_s

    @property
    def max_t(self) -> int:
        """The last model second the pump can reach: its RTC is then at its 32-bit maximum
        (moves with :meth:`set_clock`)."""
        return RTC_MAX_CLOCK_S - self._clock_offset_s

    def advance_to(self, t: int) -> None:
        """Simulate up to model second ``t``, event to event.

        Raises TimeWentBackwardsError if ``t`` is before :attr:`t`, and RtcCeilingError
        (changing nothing) if it is after :attr:`max_t`: a pump past its RTC's range could
        not be stored, so the model never runs there.
        """
        _require_int("t", t)
        if t < self._t:
            raise TimeWentBackwardsError(now_t=self._t, requested_t=t)
        if t > self.max_t:
            raise RtcCeilingError(requested_t=t, max_t=self.max_t, max_clock_s=RTC_MAX_CLOCK_S)
        while self._t < t:
            self._advance_segment(t)

    def advance_in_stretches(self, t: int) -> list[tuple[int, int, int, int]]:
        """As :meth:`advance_to`, and return the constant-rate stretches integrated on the
        way, in order: (start, end, nL that truly left the reservoir, nL commanded), model
        seconds. Inside a stretch the rate is constant (the commanded whole nanolitres fall
        due along it as the floor of a linear function of time) until the reservoir runs
        dry; the world beyond the pump pushes each stretch as one."""
        _require_int("t", t)
        if t < self._t:
            raise TimeWentBackwardsError(now_t=self._t, requested_t=t)
        if t > self.max_t:
            raise RtcCeilingError(requested_t=t, max_t=self.max_t, max_clock_s=RTC_MAX_CLOCK_S)
        stretches: list[tuple[int, int, int, int]] = []
        while self._t < t:
            start, d = self._t, self._delivery
            delivered, commanded = d.total_delivered_nl, d.total_commanded_nl
            self._advance_segment(t)
            d = self._delivery
            stretches.append(
                (start, self._t, d.total_delivered_nl - delivered, d.total_commanded_nl - commanded)
            )
        return stretches

    def _advance_segment(self, target: int) -> None:
        """Integrate one constant-rate stretch, stopping at the first event before ``target``."""
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

    # ------------------------------------------------------------------ conditions

    def _condition(self, code: AlarmCode) -> bool:
        """Whether a self-clearing alarm's condition holds now."""
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
                return self._alarms.is_active(code)  # latched: the alarm is its own condition

    def _evaluate(self) -> None:
        """Bring alarms, halts and the running bolus in line with the state at ``t``."""
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
        self._track_delivery()

    def _log_mri_recovery(self) -> None:
        mri = self._mri
        if mri is None or mri.recovered_t is None or not mri.recovery_loggable():
            return
        duration = mri.recovered_t - mri.since_t
        self._log_event(EventCode.STALL_RECOVERY, min(duration, INT32_MAX), 0)
        self._mri = None

    def _track_delivery(self) -> None:
        """Remember the second delivery last started or stopped (the emergency summary's
        "since when")."""
        if self.delivering != self._was_delivering:
            self._was_delivering = self.delivering
            self._delivering_since_t = self._t

    # ------------------------------------------------------------------ concentration

    @property
    def rate_concentration_ug_per_ml(self) -> int:
        """The concentration rates and doses are computed at now: the old drug during a
        bridge, else the drug in the reservoir."""
        bridge = self._bridge
        return (
            self._concentration_ug_per_ml if bridge is None else bridge.old_concentration_ug_per_ml
        )

    def _compile(self) -> Schedule:
        """The rates in force: the prescription at the concentration in force."""
        if self._bridge is None:
            return self._steady
        return compile_for(self._prescription, self._profile, self.rate_concentration_ug_per_ml)

    def _set_prescription(self, spec: PrescriptionSpec) -> None:
        self._prescription = spec
        self._steady = compile_for(spec, self._profile, self._concentration_ug_per_ml)
        self._schedule = self._compile()
        self._eri_threshold_uc = self._battery.eri_threshold_uc(self._steady.weekly_integral)
        self._forecasts.plan_changed()

    def _end_bridge(self, code: EventCode) -> tuple[int, int]:
        """End the bridge (BRIDGE_ENDED or BRIDGE_CANCELLED): the new drug's rates from now.

        A dose bolus still running is rescaled so the rest of its dose comes as the new
        drug. Returns the volume the bridge delivered and the volume it had left.
        """
        bridge = self._bridge
        assert bridge is not None
        delivered = bridge.volume_nl - bridge.remaining_nl
        left = max(bridge.remaining_nl, 0)
        self._bridge = None
        bolus = self._delivery.bolus
        if bolus is not None:
            self._delivery.bolus = rescale_bolus(
                bolus,
                self._t,
                old_concentration=bridge.old_concentration_ug_per_ml,
                new_concentration=self._concentration_ug_per_ml,
            )
        self._schedule = self._compile()
        self._forecasts.plan_changed()
        self._log_event(code, min(delivered, INT32_MAX), self._concentration_ug_per_ml)
        return delivered, left

    def _cancel_running_bolus(self) -> int:
        bolus = self._delivery.bolus
        if bolus is None:
            return 0
        delivered = bolus.delivered_nl(self._t)
        self._delivery.bolus = None
        self._forecasts.plan_changed()
        self._log_event(EventCode.BOLUS_CANCELLED, bolus.kind, delivered)
        return delivered

    def _log_event(self, code: EventCode, a: int = 0, b: int = 0) -> None:
        self._log.append(self.clock(self._t), code, int(a), int(b))

    def _check_can_bolus(self) -> None:
        if self._halt_codes:
            raise PumpHaltedError(self._halt_codes)
        if self._valve_closed_since_t is not None:
            raise InvalidStateError("the flow-activated valve is closed; reset it first")
        if self._suspended is not None:
            raise InvalidStateError(f"pump is stopped ({self._suspended.name}); resume it first")
        if self._prescription.mode is Mode.STOPPED:
            raise InvalidStateError("the programmed mode is STOPPED")
        if self._delivery.bolus is not None:
            raise InvalidStateError(f"a {self._delivery.bolus.kind.name} bolus is running")

    def _check_deliverable(self, volume_nl: int) -> None:
        deliverable = max(self._delivery.estimate_nl - self._profile.empty_threshold_nl, 0)
        if volume_nl > deliverable:
            raise OutOfRangeError(
                field="volume_nl",
                value=volume_nl,
                limit=deliverable,
                rule="(what the reservoir can deliver) at most",
            )

    def _start_bolus(self, bolus: Bolus) -> None:
        self._delivery.bolus = RunningBolus(
            kind=bolus.kind,
            volume_nl=bolus.volume_nl,
            duration_s=bolus.duration_s,
            start_t=self._t,
            dose_ng=bolus.dose_ng,
        )
        self._forecasts.plan_changed()
        self._log_event(EventCode.BOLUS_STARTED, bolus.kind, bolus.volume_nl)

    # ------------------------------------------------------------------ commands

    def check_prescription(self, prescription: PrescriptionSpec) -> None:
        """Refuse what :meth:`program` would refuse now (changes nothing)."""
        _check_named(prescription, self._concentration_ug_per_ml)
        validate(prescription, self._profile, self._concentration_ug_per_ml)
        if self._bridge is not None:
            validate(prescription, self._profile, self.rate_concentration_ug_per_ml)

    def program(self, t: int, prescription: PrescriptionSpec) -> None:
        """Commit a prescription of the drug in the pump.

        Refused with ConcentrationMismatchError when it names another concentration,
        OutOfRangeError when its rates break the model's limits (at the drug in the
        pump, and during a bridge at the old drug too). A STOPPED prescription stops
        therapy; programming leaves a STOP_PUMP in force (RESUME ends it) and ends a low
        battery reset.
        """
        self.advance_to(t)
        self.check_prescription(prescription)
        if prescription.mode is Mode.STOPPED:
            self._cancel_running_bolus()  # STOPPED means nothing moves, a bolus included
        self._set_prescription(prescription)
        self._reset_pending = False
        today = self._daily_dose_ng(weekday(self.clock(t)))
        self._log_event(EventCode.PROGRAMMED, prescription.mode, min(today, INT32_MAX))
        self._evaluate()

    def start_bolus(self, t: int, bolus: Bolus) -> None:
        """Start a clinician bolus (THERAPEUTIC or PRIMING) built at the concentration in
        force (see :meth:`therapeutic_bolus`)."""
        self.advance_to(t)
        if not isinstance(bolus, Bolus):
            raise WrongTypeError(field="bolus", value=bolus, expected="a Bolus")
        validate_bolus(bolus, self._profile)
        if bolus.kind is BolusKind.PATIENT:
            raise OutOfRangeError(
                field="kind",
                value=bolus.kind.name,
                limit=("THERAPEUTIC", "PRIMING"),
                rule="(patient doses go through request_patient_dose) one of",
            )
        self._check_can_bolus()
        self._check_deliverable(bolus.volume_nl)
        self._start_bolus(bolus)

    def cancel_bolus(self, t: int) -> int:
        """Cancel the running bolus; returns the volume it delivered (nL)."""
        self.advance_to(t)
        if self._delivery.bolus is None:
            raise InvalidStateError("no bolus is running")
        return self._cancel_running_bolus()

    def therapeutic_bolus(self, *, dose_ng: int, duration_s: int) -> Bolus:
        """A therapeutic bolus of ``dose_ng`` over ``duration_s`` at the concentration in
        force (the old drug during a bridge)."""
        return Bolus.of_dose(
            kind=BolusKind.THERAPEUTIC,
            dose_ng=dose_ng,
            duration_s=duration_s,
            concentration_ug_per_ml=self.rate_concentration_ug_per_ml,
        )

    def stop(self, t: int, reason: StopReason) -> None:
        """Stop therapy (cancelling any bolus) until :meth:`resume`: mode becomes STOPPED."""
        self.advance_to(t)
        if not isinstance(reason, StopReason) or reason is StopReason.NONE:
            raise WrongTypeError(field="reason", value=reason, expected="a StopReason but NONE")
        if self._suspended is not None:
            raise InvalidStateError(f"pump is already stopped ({self._suspended.name})")
        if self._prescription.mode is Mode.STOPPED:
            raise InvalidStateError("therapy is already stopped: the prescription is STOPPED")
        self._cancel_running_bolus()
        self._suspended = reason
        self._forecasts.plan_changed()
        self._log_event(EventCode.STOPPED, reason, 0)
        self._evaluate()

    def resume(self, t: int) -> None:
        """Resume the therapy that :meth:`stop` interrupted (a STOPPED prescription is
        changed by programming, not resumed)."""
        self.advance_to(t)
        if self._suspended is None:
            if self._prescription.mode is Mode.STOPPED:
                raise InvalidStateError(
                    "the prescription is STOPPED: program a prescription to restart therapy"
                )
            raise InvalidStateError("pump is not stopped")
        self._suspended = None
        self._forecasts.plan_changed()
        self._log_event(EventCode.RESUMED, self._prescription.mode, 0)
        self._evaluate()

    def plan_refill(self, t: int, order: RefillOrder) -> RefillResult:
        """Check a refill transaction whole and say what it would do; changes nothing.

        Refusals: a removed volume beyond int32, a concentration outside the model's
        (OutOfRangeError), a prescription for another drug than the one added
        (ConcentrationMismatchError), a bridge asked for without a concentration
        change, without an implant record, or while another bridge runs
        (InvalidStateError), rates or patient doses out of range at the new drug (or
        during the bridge at the old one), and an overfill (OverfillError).
        """
        self.advance_to(t)
        if not isinstance(order, RefillOrder):
            raise WrongTypeError(field="order", value=order, expected="a RefillOrder")
        _require_int("removed_nl", order.removed_nl, minimum=0)
        if order.removed_nl > INT32_MAX:
            # Found by fuzzing: the refill was recorded, then its answer could not be built.
            raise OutOfRangeError(
                field="removed_nl", value=order.removed_nl, limit=INT32_MAX, rule="at most"
            )
        _require_int("added_nl", order.added_nl, minimum=0)
        new = order.concentration_ug_per_ml
        _check_concentration(self._profile, new, order.allow_nonstandard_concentration)
        _check_named(order.prescription, new)
        old = self._concentration_ug_per_ml
        bridge_nl = 0
        if order.bridge:
            if new == old:
                raise InvalidStateError(
                    f"no bridge: the concentration stays {old} mcg/mL (send bridge false)"
                )
            if self._implant is None:
                raise InvalidStateError(
                    "no implant record: write it (SET_IMPLANT) so the bridge knows the "
                    "catheter's dead volume"
                )
            bridge_nl = self.bridge_volume_for(old, new)
        if new != old and self._bridge is not None:
            raise InvalidStateError(
                "a bridge is running: let it end or cancel it before changing the drug again"
            )
        validate(order.prescription, self._profile, new)
        validate_patient_settings(self._patient, self._profile, new)
        if order.bridge:
            validate(order.prescription, self._profile, old)
        plan = self._delivery.plan_refill(
            removed_nl=order.removed_nl,
            added_nl=order.added_nl,
            capacity_nl=self._profile.capacity_nl,
        )
        expected = self._delivery.estimate_nl
        discrepancy = order.removed_nl - expected
        return RefillResult(
            expected_nl=expected,
            removed_nl=order.removed_nl,
            discrepancy_nl=discrepancy,
            discrepancy_flagged=abs(discrepancy) > self._profile.refill_discrepancy_threshold_nl,
            added_nl=order.added_nl,
            reservoir_nl=plan.estimate_after_nl,
            previous_concentration_ug_per_ml=old,
            concentration_ug_per_ml=new,
            bridge_volume_nl=bridge_nl,
        )

    def bridge_volume_for(self, old_ug_per_ml: int, new_ug_per_ml: int) -> int:
        """The dead volume a bridge from ``old`` to ``new`` runs for, from the implant record
        (the lower bound of the catheter length when the concentration rises, the upper
        when it falls) and the pump's internal tubing."""
        implant = self._implant
        if implant is None:
            raise InvalidStateError("no implant record")
        return bridge_volume_nl(
            old_concentration_ug_per_ml=old_ug_per_ml,
            new_concentration_ug_per_ml=new_ug_per_ml,
            tubing_volume_nl=self._profile.internal_tubing_volume_nl,
            catheter_volume_nl_per_cm=implant.catheter_volume_nl_per_cm,
            catheter_length_mm=implant.catheter_length_mm,
            catheter_length_uncertainty_mm=implant.catheter_length_uncertainty_mm,
        )

    def refill(self, t: int, order: RefillOrder) -> RefillResult:
        """Apply a refill transaction at once: the reservoir emptied and refilled, the new
        drug recorded, the prescription for it running and, if asked, the bridge started.

        Never a state where the old rates run on the new drug. Refusals as
        :meth:`plan_refill`, which is checked first, so a refusal changes nothing.
        """
        result = self.plan_refill(t, order)
        d = self._delivery
        plan = d.plan_refill(
            removed_nl=order.removed_nl,
            added_nl=order.added_nl,
            capacity_nl=self._profile.capacity_nl,
        )
        d.apply_refill(plan, added_nl=order.added_nl)
        old = self._concentration_ug_per_ml
        changed = order.prescription != self._prescription
        self._concentration_ug_per_ml = order.concentration_ug_per_ml
        bolus = d.bolus
        if bolus is not None and old != order.concentration_ug_per_ml and not order.bridge:
            # No bridge: the new drug's concentration applies now, to the rest of a dose
            # bolus too (as when a bridge ends), so it still delivers the mcg it owes.
            d.bolus = rescale_bolus(
                bolus, t, old_concentration=old, new_concentration=order.concentration_ug_per_ml
            )
            self._forecasts.plan_changed()
        if order.prescription.mode is Mode.STOPPED:
            self._cancel_running_bolus()
        self._drug_lot = order.drug_lot
        self._last_refill_t = t
        self._log_event(EventCode.REFILLED, order.added_nl, order.concentration_ug_per_ml)
        if order.bridge:
            self._bridge = BridgeState(
                volume_nl=result.bridge_volume_nl,
                remaining_nl=result.bridge_volume_nl,
                old_concentration_ug_per_ml=old,
                started_t=t,
            )
            self._log_event(EventCode.BRIDGE_STARTED, result.bridge_volume_nl, old)
        self._set_prescription(order.prescription)
        if changed:
            self._reset_pending = False
            today = self._daily_dose_ng(weekday(self.clock(t)))
            self._log_event(EventCode.PROGRAMMED, order.prescription.mode, min(today, INT32_MAX))
        self._evaluate()
        return result

    def cancel_bridge(self, t: int) -> tuple[int, int]:
        """End the running bridge now (logged); returns (delivered, remaining) nL."""
        self.advance_to(t)
        if self._bridge is None:
            raise InvalidStateError("no bridge is running")
        result = self._end_bridge(EventCode.BRIDGE_CANCELLED)
        self._evaluate()
        return result

    def set_implant(self, t: int, implant: ImplantFields) -> None:
        """Write the implant record (the clinician's record of the catheter and patient)."""
        self.advance_to(t)
        if not isinstance(implant, ImplantFields):
            raise WrongTypeError(field="implant", value=implant, expected="ImplantFields")
        self._implant = implant
        self._log_event(EventCode.IMPLANT_RECORDED, implant.catheter_length_mm, implant.origin)

    def set_alarm_volume(self, t: int, volume_nl: int) -> None:
        """Set the low-reservoir alarm volume (within the profile's range)."""
        self.advance_to(t)
        _require_int("volume_nl", volume_nl)
        low, high = self._profile.min_alarm_volume_nl, self._profile.max_alarm_volume_nl
        if not low <= volume_nl <= high:
            raise OutOfRangeError(
                field="alarm_volume_nl",
                value=volume_nl,
                limit=low if volume_nl < low else high,
                rule="at least" if volume_nl < low else "at most",
            )
        self._alarm_volume_nl = volume_nl
        self._log_event(EventCode.ALARM_VOLUME_SET, volume_nl, 0)
        self._evaluate()

    def silence_alarm(self, t: int, code: AlarmCode) -> None:
        """Stop an active alarm's tone; the alarm stays active."""
        self.advance_to(t)
        code = _alarm_code(code)
        self._alarms.silence(code)
        self._log_event(EventCode.ALARM_SILENCED, code, 0)

    def clear_alarm(self, t: int, code: AlarmCode) -> None:
        """Clear a latched alarm (memory errors); others clear themselves when their
        condition ends, so clearing them is refused with ConditionPersistsError."""
        self.advance_to(t)
        code = _alarm_code(code)
        self._alarms.check_clear(code)
        self._alarms.clear(code)
        self._log_event(EventCode.ALARM_CLEARED, code, 0)
        self._evaluate()

    def set_clock(self, t: int, clock_s: int) -> None:
        """Set the RTC; logs CLOCK_SET with the change (delta must fit a signed 32-bit int)."""
        self.advance_to(t)
        _require_int("clock_s", clock_s)
        _check_clock(clock_s)
        delta = clock_s - self.clock(t)
        if not INT32_MIN <= delta <= INT32_MAX:
            raise OutOfRangeError(
                field="delta_s", value=delta, limit=(INT32_MIN, INT32_MAX), rule="within"
            )
        self._clock_offset_s = clock_s - t
        self._forecasts.plan_changed()
        self._log_event(EventCode.CLOCK_SET, delta, 0)

    def set_patient_settings(self, t: int, settings: PatientDoseSettings) -> None:
        """Set the patient-activated dose settings (validated against the profile)."""
        self.advance_to(t)
        if not isinstance(settings, PatientDoseSettings):
            raise WrongTypeError(field="settings", value=settings, expected="PatientDoseSettings")
        validate_patient_settings(settings, self._profile, self._concentration_ug_per_ml)
        if self._bridge is not None:
            validate_patient_settings(settings, self._profile, self.rate_concentration_ug_per_ml)
        # Logged first: the entry refuses parameters outside int32 (disabled settings are not
        # range-checked), and a refusal must change nothing (found by fuzzing).
        self._log_event(EventCode.PATIENT_SETTINGS_SET, settings.dose_ng, settings.max_per_24h)
        self._patient = settings
        self._forecasts.plan_changed()

    def request_patient_dose(self, t: int) -> PatientDoseGrant:
        """Grant a patient dose, or refuse it (logged as PATIENT_DOSE_REFUSED).

        Refusals, checked in this order: NotEnabledError, PumpHaltedError,
        InvalidStateError (stopped or a bolus running), PatientDoseLockoutError,
        PatientDoseLimitError, OutOfRangeError (reservoir too low).
        """
        self.advance_to(t)
        settings = self._patient
        # Only the trailing 24 h matters to the rule (lockouts are at most 24 h).
        grants = [g for g in self._grants_t if g > t - SECONDS_PER_DAY]
        try:
            if settings.enabled:
                self._check_can_bolus()
            check_patient_dose(settings, grants, t)
            bolus = settings.bolus(self.rate_concentration_ug_per_ml)
            self._check_deliverable(bolus.volume_nl)
        except RequestError as refusal:
            self._log_event(EventCode.PATIENT_DOSE_REFUSED, refusal.code, 0)
            raise
        grants.append(t)
        self._grants_t = grants
        self._forecasts.plan_changed()
        count = doses_in_24h(grants, t)
        self._log_event(EventCode.PATIENT_DOSE_GRANTED, min(settings.dose_ng, INT32_MAX), count)
        self._start_bolus(bolus)
        return PatientDoseGrant(
            dose_ng=settings.dose_ng,
            volume_nl=bolus.volume_nl,
            duration_s=settings.duration_s,
            ends_at_clock_s=self.clock(t + settings.duration_s),
            doses_in_24h=count,
            next_allowed_at_clock_s=self.clock(
                next_patient_dose_t(
                    settings.rule(self.rate_concentration_ug_per_ml), self._grants_t, t
                )
            ),
        )

    def note_telemetry(self, t: int, seconds: int) -> None:
        """Charge the battery for ``seconds`` of telemetry (called by the telemetry layer)."""
        self.advance_to(t)
        _require_int("seconds", seconds, minimum=0)
        drain = self._battery.telemetry_drain_uc(seconds)
        self._battery_uc = max(self._battery_uc - drain, 0)
        self._evaluate()

    def log_event(self, t: int, code: EventCode, a: int = 0, b: int = 0) -> None:
        """Write an event (session and security events from the telemetry layer)."""
        self.advance_to(t)
        if not isinstance(code, EventCode):
            raise WrongTypeError(field="code", value=code, expected="an EventCode")
        self._log.append(self.clock(t), code, a, b)

    # ------------------------------------------------------------------ faults

    def set_motor_stall(self, t: int, stalled: bool) -> None:
        """Injected fault: the motor stalls (delivery halts) or turns again (STALL_RECOVERY).

        Setting the state it is already in does nothing.
        """
        self.advance_to(t)
        if type(stalled) is not bool:
            raise WrongTypeError(field="stalled", value=stalled, expected="a bool")
        if stalled and self._stalled_since_t is None:
            self._stalled_since_t = t
            self._log_event(EventCode.MOTOR_STALL, 0, 0)
        elif not stalled and self._stalled_since_t is not None:
            duration = t - self._stalled_since_t
            self._stalled_since_t = None
            self._log_event(EventCode.STALL_RECOVERY, min(duration, INT32_MAX), 0)
        else:
            return
        self._evaluate()

    def mri_enter(self, t: int) -> None:
        """World event: the pump enters an MRI scanner's field; the rotor stops (a motor
        stall, logged, with its critical alarm) for the whole exposure. A valve pump has no
        rotor: see :meth:`_valve_field` for what the field does to it."""
        self.advance_to(t)
        if self._mri is not None and self._mri.valve:
            raise InvalidStateError("the pump is already in an MRI field")
        if self._mri is not None and self._mri.recovered_t is None:
            raise InvalidStateError("the pump is already stalled by an MRI exposure")
        if self._profile.valve_model is not ValveModel.MOTOR:
            self._valve_field(t)
            return
        if self._mri is not None:  # a recovery still waiting to be logged: log it now
            self._mri.log_at_second_interrogation = False
            self._log_mri_recovery()
        self._mri = MriState(since_t=t)
        self._log_event(EventCode.MOTOR_STALL, 0, 0)
        self._evaluate()

    def mri_leave(
        self,
        t: int,
        *,
        recovery_delay_s: int = 0,
        telemetry_trap: bool = False,
        recovery_logged_at_second_interrogation: bool = False,
    ) -> None:
        """World event: the pump leaves the field. The motor turns again after
        ``recovery_delay_s`` (pump time); with ``telemetry_trap`` infusion also waits for
        an interrogation (a clinician or patient session); with
        ``recovery_logged_at_second_interrogation`` STALL_RECOVERY is logged only at the
        second interrogation after the scan (or, if the motor turns later, when it does)."""
        self.advance_to(t)
        mri = self._mri
        if mri is None or not mri.in_field:
            raise InvalidStateError("the pump is not in an MRI field")
        if mri.valve:  # no rotor to recover: the exposure is over
            self._mri = None
            return
        _require_int("recovery_delay_s", recovery_delay_s, minimum=0)
        if (
            type(telemetry_trap) is not bool
            or type(recovery_logged_at_second_interrogation) is not bool
        ):
            raise WrongTypeError(field="telemetry_trap", value=telemetry_trap, expected="a bool")
        mri.in_field = False
        mri.resume_at_t = t + recovery_delay_s
        mri.trapped = telemetry_trap
        mri.log_at_second_interrogation = recovery_logged_at_second_interrogation
        self._evaluate()

    def note_interrogation(self, t: int) -> None:
        """A clinician or patient session was opened (the telemetry layer calls this). It
        ends the telemetry-mode trap of an MRI exposure, and counts towards logging a
        stall recovery that waits for the second interrogation."""
        self.advance_to(t)
        mri = self._mri
        if mri is None or mri.in_field:
            return
        mri.interrogations += 1
        if mri.trapped:
            mri.trapped = False
            self._evaluate()  # the motor may turn now (logged unless it waits)
        self._log_mri_recovery()

    def _valve_field(self, t: int) -> None:
        """A valve pump enters the field (domain.md, :mod:`firmware_model.valve`): the
        original model discharges its whole reservoir through the catheter at once (the
        pump cannot tell); the flow-activated valve lets up to its limit through, then
        closes and stops all delivery until it is reset (logged VALVE_CLOSED)."""
        profile = self._profile
        d = self._delivery
        self._mri = MriState(since_t=t, valve=True)
        if self._valve_closed_since_t is not None:
            return  # a closed flow-activated valve lets nothing through
        volume = field_discharge_nl(
            profile.valve_model,
            reservoir_nl=d.reservoir_nl,
            flow_limit_nl=profile.valve_flow_limit_nl,
        )
        d.discharge(volume)
        if profile.valve_model is ValveModel.VALVE_FLOW_ACTIVATED:
            self._cancel_running_bolus()
            self._valve_closed_since_t = t
            self._forecasts.plan_changed()
            self._log_event(EventCode.VALVE_CLOSED, volume, 0)
        self._evaluate()

    def reset_valve(self, t: int) -> int:
        """Reopen a closed flow-activated valve (RESET_VALVE, or the emulator's control):
        delivery resumes from ``t``; logged VALVE_RESET with the seconds it was closed,
        which are returned. Refused unless the valve is closed."""
        self.advance_to(t)
        if self._profile.valve_model is not ValveModel.VALVE_FLOW_ACTIVATED:
            raise InvalidStateError("this pump has no flow-activated valve")
        closed = self._valve_closed_since_t
        if closed is None:
            raise InvalidStateError("the flow-activated valve is open")
        duration = min(t - closed, INT32_MAX)
        self._valve_closed_since_t = None
        self._forecasts.plan_changed()
        self._log_event(EventCode.VALVE_RESET, duration, 0)
        self._evaluate()
        return duration

    @property
    def valve_closed_since_clock_s(self) -> int | None:
        """RTC second a flow-activated valve closed (None: open, or no such valve)."""
        closed = self._valve_closed_since_t
        return None if closed is None else self.clock(closed)

    @property
    def mri(self) -> MriState | None:
        """The MRI exposure in progress or whose recovery is not yet logged (a copy)."""
        return None if self._mri is None else replace(self._mri)

    @property
    def delivering_since_clock_s(self) -> int:
        """RTC second delivery last started (while delivering) or stopped (while not)."""
        return self.clock(self._delivering_since_t)

    def inject_memory_error(self, t: int, critical: bool) -> None:
        """Injected fault: a memory error (a critical one halts delivery until cleared)."""
        self.advance_to(t)
        if type(critical) is not bool:
            raise WrongTypeError(field="critical", value=critical, expected="a bool")
        code = AlarmCode.MEMORY_CRITICAL if critical else AlarmCode.MEMORY_NON_CRITICAL
        self._log_event(EventCode.MEMORY_ERROR, code, 0)
        if not self._alarms.is_active(code):
            self._alarms.raise_alarm(code, self.clock(t))
            self._log_event(EventCode.ALARM_RAISED, code, code.alarm_class)
        self._evaluate()

    def low_battery_reset(self, t: int) -> None:
        """Injected fault: the pump resets on a low battery (a documented SynchroMed II
        failure). It drops to the keep-open minimum rate (whatever ran, a stop included;
        a bolus or bridge is cancelled), raises LOW_BATTERY_RESET (critical) and needs
        reprogramming, which clears the alarm."""
        self.advance_to(t)
        self._cancel_running_bolus()
        if self._bridge is not None:
            self._end_bridge(EventCode.BRIDGE_CANCELLED)
        self._log_event(EventCode.LOW_BATTERY_RESET, self.battery_permille, 0)
        self._suspended = None
        self._set_prescription(
            PrescriptionSpec.minimum_rate(concentration_ug_per_ml=self._concentration_ug_per_ml)
        )
        self._reset_pending = True
        self._evaluate()

    def set_battery(self, t: int, permille: int) -> None:
        """Injected fault or scenario step: set the remaining charge in permille."""
        self.advance_to(t)
        if type(permille) is not int or not 0 <= permille <= 1000:
            raise OutOfRangeError(
                field="battery_permille", value=permille, limit=(0, 1000), rule="within"
            )
        self._battery_uc = self._battery.charge_for_permille(permille)
        self._log_event(EventCode.BATTERY_SET, permille, 0)
        self._evaluate()

    # ------------------------------------------------------------------ views

    @property
    def profile(self) -> PumpProfile:
        """The model's constants."""
        return self._profile

    @property
    def serial(self) -> str:
        """Serial number."""
        return self._serial

    @property
    def prescription(self) -> PrescriptionSpec:
        """The committed prescription (doses of the drug in the pump)."""
        return self._prescription

    @property
    def schedule(self) -> Schedule:
        """The rates in force (at the old concentration during a bridge)."""
        return self._schedule

    @property
    def steady_schedule(self) -> Schedule:
        """The prescription's rates at the drug in the reservoir (what runs after a bridge)."""
        return self._steady

    @property
    def bridge(self) -> BridgeState | None:
        """The running bridge, if any (a copy)."""
        return None if self._bridge is None else replace(self._bridge)

    @property
    def implant(self) -> ImplantFields | None:
        """The implant record, if written."""
        return self._implant

    @property
    def drug_lot(self) -> str:
        """Lot of the drug added at the last refill."""
        return self._drug_lot

    @property
    def last_refill_clock_s(self) -> int | None:
        """RTC second of the last refill."""
        return None if self._last_refill_t is None else self.clock(self._last_refill_t)

    @property
    def concentration_ug_per_ml(self) -> int:
        """Concentration of the drug in the reservoir."""
        return self._concentration_ug_per_ml

    @property
    def alarm_volume_nl(self) -> int:
        """Low-reservoir alarm volume."""
        return self._alarm_volume_nl

    @property
    def patient_settings(self) -> PatientDoseSettings:
        """Patient-activated dose settings."""
        return self._patient

    @property
    def stop_reason(self) -> StopReason | None:
        """Why a clinician stopped the pump, while stopped."""
        return self._suspended

    @property
    def halted_by(self) -> tuple[AlarmCode, ...]:
        """Active alarms halting delivery."""
        return self._halt_codes

    @property
    def mode(self) -> Mode:
        """STOPPED while therapy is stopped (STOP_PUMP or a STOPPED prescription)."""
        return Mode.STOPPED if self._suspended is not None else self._prescription.mode

    @property
    def delivering(self) -> bool:
        """Drug moves now: therapy not stopped and no fault halting it."""
        return (
            self._suspended is None
            and self._prescription.mode is not Mode.STOPPED
            and not self._halt_codes
            and self._valve_closed_since_t is None
        )

    @property
    def bolus(self) -> RunningBolus | None:
        """The running bolus, if any."""
        return self._delivery.bolus

    @property
    def battery_uc(self) -> int:
        """Remaining battery charge (microcoulombs)."""
        return self._battery_uc

    @property
    def battery_permille(self) -> int:
        """Remaining battery charge in permille (rounded up; 0 only at EOS)."""
        return self._battery.permille(self._battery_uc)

    @property
    def event_log(self) -> EventLogReader:
        """The event log (read-only; write through :meth:`log_event`)."""
        return self._log

    @property
    def estimated_reservoir_nl(self) -> int:
        """What the pump believes is in the reservoir (what it reports)."""
        return self._delivery.estimate_nl

    @property
    def reservoir_nl(self) -> int:
        """Truth for the emulator: the volume really in the reservoir."""
        return self._delivery.reservoir_nl

    @property
    def total_filled_nl(self) -> int:
        """Truth: everything ever put in the reservoir (initial fill and refills)."""
        return self._delivery.total_filled_nl

    @property
    def total_delivered_nl(self) -> int:
        """Truth: everything that left the pump towards the catheter."""
        return self._delivery.total_delivered_nl

    @property
    def total_removed_nl(self) -> int:
        """Truth: everything taken out of the reservoir at refills."""
        return self._delivery.total_removed_nl

    @property
    def total_commanded_nl(self) -> int:
        """Volume the pump commanded (delivered volume before the accuracy bias)."""
        return self._delivery.total_commanded_nl

    def alarms(self) -> tuple[AlarmView, ...]:
        """The active alarms, in code order."""
        return self._alarms.views(self._profile, self.clock(self._t))

    def alarm_condition_present(self, code: AlarmCode) -> bool:
        """Whether an alarm's condition holds now, so that clearing it would be refused.

        Self-clearing alarms: their condition (an active one always has it).
        Latched memory errors: False, since a clinician's clear is their reset.
        """
        code = _alarm_code(code)
        if not ALARM_RULES[code].auto_clears:
            return False
        return self._condition(code)

    def _plan(self) -> Plan:
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

    def _daily(self, weekday_: int) -> tuple[int, int]:
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

    def _daily_dose_ng(self, weekday_: int) -> int:
        return self._daily(weekday_)[1]

    def _forecast_needs(self) -> tuple[tuple[int, int, int], ...]:
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

    def _forecast_ts(self) -> list[int | None]:
        """Model seconds of the low-reservoir, empty and ERI forecasts (None: beyond the
        horizon), from the forecast cache (:class:`~firmware_model.forecast.ForecastCache`)."""
        return self._forecasts.forecast_ts(
            t=self._t,
            horizon_s=self._profile.forecast_horizon_s,
            commanded_nl=self._delivery.total_commanded_nl,
            needs=self._forecast_needs(),
            plan=self._plan,
        )

    def _forecasts_uncached(self) -> list[int | None]:
        """The three forecasts in RTC seconds, integrated afresh (the reference for the cache)."""
        plan = self._plan()
        horizon = self._profile.forecast_horizon_s
        out: list[int | None] = []
        for q, p, need in self._forecast_needs():
            x = first_reach_t(plan, q=q, p=p, need=need, horizon_s=horizon)
            out.append(None if x is None else self.clock(x))
        return out

    def _forecast_clock(self, index: int) -> int | None:
        x = self._forecast_ts()[index]
        return None if x is None else self.clock(x)

    def low_reservoir_at(self) -> int | None:
        """RTC second the estimate reaches the alarm volume (now if it has), or None.

        Integrated over the real plan (running bolus, flex steps, patient doses
        at their maximum); None when not within the profile's forecast horizon.
        """
        return self._forecast_clock(0)

    def empty_at(self) -> int | None:
        """RTC second the estimate reaches the empty threshold (now if it has), or None."""
        return self._forecast_clock(1)

    def eri_at(self) -> int | None:
        """RTC second the projected battery life drops under the ERI lead (now if it has)."""
        return self._forecast_clock(2)

    def bridge_end_at(self) -> int | None:
        """RTC second the running bridge is forecast to end (None: no bridge, or not
        within the horizon); recomputed from the plan, so extra delivery moves it."""
        if self._bridge is None:
            return None
        end = bridge_end(self._plan(), horizon_s=self._profile.forecast_horizon_s)
        return None if end is None else self.clock(end[1])

    def status(self) -> PumpStatus:
        """Everything an interrogation reports, at :attr:`t` (advance first)."""
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
        fields = dict(
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
        # Every value above is the pump's own, of its field's type, so the record is
        # filled without its generated __init__ (a frozen dataclass sets each of 42 fields
        # through object.__setattr__): the same record, proven equal to PumpStatus(**fields)
        # in tests/firmware_model/test_status_response_fastpath.py.
        status = _new_status(PumpStatus)
        status.__dict__.update(fields)
        return status


def _check_named(prescription: object, concentration_ug_per_ml: int) -> None:
    """A prescription must be a PrescriptionSpec for the drug in the pump."""
    if not isinstance(prescription, PrescriptionSpec):
        raise WrongTypeError(
            field="prescription", value=prescription, expected="a PrescriptionSpec"
        )
    if prescription.concentration_ug_per_ml != concentration_ug_per_ml:
        raise ConcentrationMismatchError(
            named_ug_per_ml=prescription.concentration_ug_per_ml,
            held_ug_per_ml=concentration_ug_per_ml,
        )


def _check_image(image: nvm.PumpImage) -> None:
    """Invariants a stored image must meet beyond what its parts check themselves."""
    profile = image.profile
    t = image.t

    def fail(field: str, value: object, limit: object, rule: str) -> None:
        raise OutOfRangeError(field=field, value=value, limit=limit, rule=rule)

    if not 0 <= image.battery_uc <= profile.battery_capacity_uc:
        fail("battery_uc", image.battery_uc, profile.battery_capacity_uc, "within 0 and")
    if not profile.min_alarm_volume_nl <= image.alarm_volume_nl <= profile.max_alarm_volume_nl:
        fail("alarm_volume_nl", image.alarm_volume_nl, profile.max_alarm_volume_nl, "at most")
    if max(image.delivery.estimate_nl, image.delivery.reservoir_nl) > profile.capacity_nl:
        fail("reservoir_nl", image.delivery.reservoir_nl, profile.capacity_nl, "at most")
    if image.concentration_ug_per_ml <= 0:
        fail("concentration_ug_per_ml", image.concentration_ug_per_ml, 1, "at least")
    _check_clock(t + image.clock_offset_s)
    bolus = image.delivery.bolus
    if bolus is not None and not bolus.start_t <= t < bolus.end_t:
        fail("bolus.start_t", bolus.start_t, t, "running at t; start at most")
    if image.stalled_since_t is not None and image.stalled_since_t > t:
        fail("stalled_since_t", image.stalled_since_t, t, "at most")
    if list(image.grants_t) != sorted(image.grants_t) or any(g > t for g in image.grants_t):
        fail("grants_t", image.grants_t, t, "ascending and at most")
    validate_patient_settings(image.patient, profile, image.concentration_ug_per_ml)
    _check_named(image.prescription, image.concentration_ug_per_ml)
    # A stored prescription must run within the model's limits, like a programmed one.
    validate(image.prescription, profile, image.concentration_ug_per_ml)
    bridge = image.bridge
    if bridge is not None:
        if bridge.old_concentration_ug_per_ml == image.concentration_ug_per_ml:
            fail(
                "bridge.old_concentration_ug_per_ml",
                bridge.old_concentration_ug_per_ml,
                image.concentration_ug_per_ml,
                "(a bridge changes the drug) other than",
            )
        if image.implant is None:
            fail("bridge", "running", "an implant record", "needs")
        if not 0 < bridge.remaining_nl <= bridge.volume_nl:
            fail("bridge.remaining_nl", bridge.remaining_nl, bridge.volume_nl, "within 1 and")
        _check_concentration(profile, bridge.old_concentration_ug_per_ml, True)
        validate(image.prescription, profile, bridge.old_concentration_ug_per_ml)
    if len({a.code for a in image.alarms}) != len(image.alarms):
        fail("alarms", len(image.alarms), "one per code", "")


def _check_clock(clock_s: int) -> None:
    if not 0 <= clock_s <= RTC_MAX_CLOCK_S:
        raise OutOfRangeError(
            field="clock_s", value=clock_s, limit=(0, RTC_MAX_CLOCK_S), rule="within"
        )


def _check_concentration(profile: PumpProfile, value: object, allow_nonstandard: bool) -> None:
    value = _require_int("concentration_ug_per_ml", value)
    if type(allow_nonstandard) is not bool:
        raise WrongTypeError(
            field="allow_nonstandard_concentration", value=allow_nonstandard, expected="a bool"
        )
    if value in profile.commercial_concentrations_ug_per_ml:
        return
    if not allow_nonstandard:
        raise OutOfRangeError(
            field="concentration_ug_per_ml",
            value=value,
            limit=profile.commercial_concentrations_ug_per_ml,
            rule="(without the non-standard override) one of",
        )
    low = profile.nonstandard_concentration_min_ug_per_ml
    high = profile.nonstandard_concentration_max_ug_per_ml
    if not low <= value <= high:
        raise OutOfRangeError(
            field="concentration_ug_per_ml",
            value=value,
            limit=low if value < low else high,
            rule="(even with the override) at least"
            if value < low
            else "(even with the override) at most",
        )


def _alarm_code(code: object) -> AlarmCode:
    if not isinstance(code, AlarmCode):
        raise WrongTypeError(field="code", value=code, expected="an AlarmCode")
    return code
