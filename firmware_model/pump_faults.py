"""The pump's MRI exposures, valves and injected faults (motor stall, memory error, low
battery reset, battery level).

Methods of :class:`~firmware_model.pump.Pump`, written here as functions of the pump
(``self``) and bound in its class body (``Pump.mri_enter = pump_faults.mri_enter``), so a
call costs what a method defined in the class costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_model.errors import InvalidStateError, OutOfRangeError, WrongTypeError
from firmware_model.mri import MriState
from firmware_model.pump_checks import _require_int
from firmware_model.valve import field_discharge_nl
from protocol.enums import AlarmCode, EventCode, ValveModel
from protocol.messages import PrescriptionSpec
from protocol.timebase import INT32_MAX

if TYPE_CHECKING:
    from firmware_model.pump import Pump


def set_motor_stall(self: Pump, t: int, stalled: bool) -> None:
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


def mri_enter(self: Pump, t: int) -> None:
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
    self: Pump,
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


def note_interrogation(self: Pump, t: int) -> None:
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


def _valve_field(self: Pump, t: int) -> None:
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


def reset_valve(self: Pump, t: int) -> int:
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


def inject_memory_error(self: Pump, t: int, critical: bool) -> None:
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


def low_battery_reset(self: Pump, t: int) -> None:
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


def set_battery(self: Pump, t: int, permille: int) -> None:
    """Injected fault or scenario step: set the remaining charge in permille."""
    self.advance_to(t)
    if type(permille) is not int or not 0 <= permille <= 1000:
        raise OutOfRangeError(
            field="battery_permille", value=permille, limit=(0, 1000), rule="within"
        )
    self._battery_uc = self._battery.charge_for_permille(permille)
    self._log_event(EventCode.BATTERY_SET, permille, 0)
    self._evaluate()
