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

from dataclasses import replace

from firmware_model import nvm, pump_commands, pump_faults, pump_forecasts
from firmware_model.alarms import ALARM_RULES, AlarmTable, AlarmView
from firmware_model.delivery import BridgeState, DeliveryState
from firmware_model.errors import (
    CorruptImageError,
    FirmwareError,
    InvalidStateError,
    OutOfRangeError,
    PumpHaltedError,
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
    compile_for,
    validate,
)
from firmware_model.profile import PumpProfile
from firmware_model.pump_checks import (
    _alarm_code,
    _check_clock,
    _check_concentration,
    _check_image,
    _check_named,
    _require_int,
)
from firmware_model.pump_records import PatientDoseGrant, PumpStatus, RefillOrder, RefillResult
from protocol.enums import AlarmCode, EventCode, Mode, StopReason
from protocol.messages import ImplantFields, PrescriptionSpec
from protocol.schedule import (
    RunningBolus,
    Schedule,
    first_reach,
    rescale_bolus,
)
from protocol.timebase import (
    INT32_MAX,
    RTC_MAX_CLOCK_S,
    SECONDS_PER_DAY,
)

_SERIAL_MAX_CHARS = 32


_AUTO_CLEARING: tuple[AlarmCode, ...] = tuple(
    code for code in AlarmCode if ALARM_RULES[code].auto_clears
)
"""The self-clearing alarms, in code order (:meth:`Pump._evaluate` checks their conditions,
worked out together by :meth:`Pump._conditions` in this order)."""

_AUTO_INDEX: dict[AlarmCode, int] = {code: i for i, code in enumerate(_AUTO_CLEARING)}
"""Where each self-clearing alarm's condition is in :meth:`Pump._conditions`."""


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
        filled_at_start: bool = False,
    ) -> Pump:
        """A freshly implanted pump at model second ``t`` (logs POWER_ON).

        ``prescription`` must be for the drug filled (``concentration_ug_per_ml``). With
        ``filled_at_start`` the reservoir was filled at ``t`` (the fill at implant), which
        is recorded as the last refill (READ_DELIVERY, READ_IMPLANT, the emergency summary).
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
            last_refill_t=t if filled_at_start else None,
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

    def _check_advance_to(self, t: int) -> None:
        """Refuse a target ``t`` the model cannot advance to, changing nothing: not an int,
        before :attr:`t` (TimeWentBackwardsError) or after :attr:`max_t` (RtcCeilingError)."""
        if type(t) is not int:
            _require_int("t", t)
        if t < self._t:
            raise TimeWentBackwardsError(now_t=self._t, requested_t=t)
        if t > RTC_MAX_CLOCK_S - self._clock_offset_s:  # self.max_t
            raise RtcCeilingError(requested_t=t, max_t=self.max_t, max_clock_s=RTC_MAX_CLOCK_S)

    def advance_to(self, t: int) -> None:
        """Simulate up to model second ``t``, event to event.

        Raises TimeWentBackwardsError if ``t`` is before :attr:`t`, and RtcCeilingError
        (changing nothing) if it is after :attr:`max_t`: a pump past its RTC's range could
        not be stored, so the model never runs there.
        """
        self._check_advance_to(t)
        while self._t < t:
            self._advance_segment(t)

    def advance_in_stretches(self, t: int) -> list[tuple[int, int, int, int]]:
        """As :meth:`advance_to`, and return the constant-rate stretches integrated on the
        way, in order: (start, end, nL that truly left the reservoir, nL commanded), model
        seconds. Inside a stretch the rate is constant (the commanded whole nanolitres fall
        due along it as the floor of a linear function of time) until the reservoir runs
        dry; the world beyond the pump pushes each stretch as one."""
        self._check_advance_to(t)
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
        # Each threshold below asks first_reach only when it is reached by ``end``: the
        # test first_reach itself begins with (``q*dt + p*volume(dt) < need`` at the
        # longest ``dt``: None), written out, so a segment that meets none of them (most)
        # makes no call. tests/firmware_model/test_advance_segment_reference.py holds the
        # pump to the former segment, which always called it.
        k0 = a // c
        if b:
            # Volume thresholds: low reservoir, then empty (whichever is still ahead).
            est = d.estimate_nl
            need = 0
            if est > self._alarm_volume_nl:
                need = est - self._alarm_volume_nl
            elif est > self._profile.empty_threshold_nl:
                need = est - self._profile.empty_threshold_nl
            if need and (a + b * (end - now)) // c - k0 >= need:
                dt = first_reach(q=0, p=1, a=a, b=b, c=c, need=need, max_dt=end - now)
                if dt is not None:
                    end, event = now + dt, True
        # Battery thresholds: ERI, then EOS.
        remaining = self._battery_uc
        if remaining >= self._eri_threshold_uc:
            need_uc = remaining - self._eri_threshold_uc + 1
        else:
            need_uc = remaining
        bat = self._battery
        q_uc = bat.quiescent_drain_uc_per_s
        p_uc = bat.drain_uc_per_nl
        if need_uc > 0:
            span = end - now
            if q_uc * span + p_uc * ((a + b * span) // c - k0) >= need_uc:
                dt = first_reach(q=q_uc, p=p_uc, a=a, b=b, c=c, need=need_uc, max_dt=span)
                if dt is not None:
                    end, event = now + dt, True
        dt = end - now
        volume = 0
        if b:
            total = a + b * dt
            volume = total // c - k0
            if bolus is None:
                d.basal_remainder = total % c
            d.command(volume, self._profile.delivery_bias_ppm)
            if self._bridge is not None:
                self._bridge.remaining_nl -= volume
        # The battery's drain_uc(dt, volume), written out.
        self._battery_uc = max(remaining - (q_uc * dt + p_uc * volume), 0)
        self._t = end
        if event:
            self._evaluate()

    # ------------------------------------------------------------------ conditions

    def _conditions(self) -> tuple[bool, bool, bool, bool, bool, bool]:
        """Whether each self-clearing alarm's condition holds now, in the order of
        :data:`_AUTO_CLEARING` (LOW_RESERVOIR, ERI, EMPTY_RESERVOIR, EOS, MOTOR_STALL,
        LOW_BATTERY_RESET)."""
        est = self._delivery.estimate_nl
        remaining = self._battery_uc
        mri = self._mri
        return (
            est <= self._alarm_volume_nl,
            remaining < self._eri_threshold_uc,
            est <= self._profile.empty_threshold_nl,
            remaining == 0,
            self._stalled_since_t is not None or (mri is not None and mri.stalled(self._t)),
            self._reset_pending,
        )

    def _condition(self, code: AlarmCode) -> bool:
        """Whether a self-clearing alarm's condition holds now (a latched alarm: whether it
        is active, the alarm being its own condition)."""
        index = _AUTO_INDEX.get(code)
        if index is None:
            return self._alarms.is_active(code)
        return self._conditions()[index]

    def _evaluate(self) -> None:
        """Bring alarms, halts and the running bolus in line with the state at ``t``."""
        d = self._delivery
        if self._bridge is not None and self._bridge.remaining_nl <= 0:
            self._end_bridge(EventCode.BRIDGE_ENDED)
        bolus = d.bolus
        if bolus is not None and self._t >= bolus.end_t:
            d.bolus = None
            self._log_event(EventCode.BOLUS_ENDED, bolus.kind, bolus.volume_nl)
        alarms = self._alarms
        active = alarms.active
        holds = self._conditions()
        if active or True in holds:
            clock = self._t + self._clock_offset_s
            for code, condition in zip(_AUTO_CLEARING, holds, strict=True):
                if condition:
                    if code not in active:
                        alarms.raise_alarm(code, clock)
                        self._log_event(EventCode.ALARM_RAISED, code, code.alarm_class)
                elif code in active:
                    alarms.clear(code)
                    self._log_event(EventCode.ALARM_CLEARED, code, 0)
        halting = alarms.halting_codes() if active else ()
        if halting != self._halt_codes:
            for code in halting:
                if code not in self._halt_codes:
                    self._log_event(EventCode.DELIVERY_HALTED, code, 0)
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
        delivering = self.delivering
        if delivering != self._was_delivering:
            self._was_delivering = delivering
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
    # Therapy, refill and settings commands: firmware_model.pump_commands

    check_prescription = pump_commands.check_prescription
    program = pump_commands.program
    start_bolus = pump_commands.start_bolus
    cancel_bolus = pump_commands.cancel_bolus
    therapeutic_bolus = pump_commands.therapeutic_bolus
    stop = pump_commands.stop
    resume = pump_commands.resume
    plan_refill = pump_commands.plan_refill
    bridge_volume_for = pump_commands.bridge_volume_for
    refill = pump_commands.refill
    cancel_bridge = pump_commands.cancel_bridge
    set_implant = pump_commands.set_implant
    set_alarm_volume = pump_commands.set_alarm_volume
    silence_alarm = pump_commands.silence_alarm
    clear_alarm = pump_commands.clear_alarm
    set_clock = pump_commands.set_clock
    set_patient_settings = pump_commands.set_patient_settings
    request_patient_dose = pump_commands.request_patient_dose
    note_telemetry = pump_commands.note_telemetry
    log_event = pump_commands.log_event

    # ------------------------------------------------------------------ faults
    # MRI exposures, valves and injected faults: firmware_model.pump_faults

    set_motor_stall = pump_faults.set_motor_stall
    mri_enter = pump_faults.mri_enter
    mri_leave = pump_faults.mri_leave
    note_interrogation = pump_faults.note_interrogation
    _valve_field = pump_faults._valve_field
    reset_valve = pump_faults.reset_valve
    inject_memory_error = pump_faults.inject_memory_error
    low_battery_reset = pump_faults.low_battery_reset
    set_battery = pump_faults.set_battery

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

    # ------------------------------------------------------------------ forecasts, status
    # Forecasts and the status record: firmware_model.pump_forecasts

    _plan = pump_forecasts._plan
    _daily = pump_forecasts._daily
    _daily_dose_ng = pump_forecasts._daily_dose_ng
    _forecast_needs = pump_forecasts._forecast_needs
    _forecast_ts = pump_forecasts._forecast_ts
    _forecasts_uncached = pump_forecasts._forecasts_uncached
    _forecast_clock = pump_forecasts._forecast_clock
    low_reservoir_at = pump_forecasts.low_reservoir_at
    empty_at = pump_forecasts.empty_at
    eri_at = pump_forecasts.eri_at
    bridge_end_at = pump_forecasts.bridge_end_at
    status = pump_forecasts.status
    status_response = pump_forecasts.status_response


__all__ = ["PatientDoseGrant", "Pump", "PumpStatus", "RefillOrder", "RefillResult"]
