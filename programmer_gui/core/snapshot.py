"""PumpSnapshot: one interrogation of the pump, and the figures derived from it.

``PumpSnapshot.read(client, wall_s=...)`` does the reads (the link calls it
on its worker thread); everything else here is pure and derived from the
messages, with the unit in every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from programmer_gui.core import PumpDataError
from programmer_gui.core.dates import daily_dose_ug, daily_volume_nl, weekday_of
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmClass, AlarmCode, Mode, Role, StopReason
from protocol.units import NL_PER_ML

READ_ATTEMPTS = 3
"""Times the prescription and status are read again when another programmer changed the
prescription between the two reads (their checksums disagree)."""


@dataclass(frozen=True, kw_only=True)
class PumpSnapshot:
    """What one interrogation read, at ``read_at_wall_s`` on the programmer's clock.

    ``prescription`` is None in a patient-role session (READ_PRESCRIPTION is
    for clinicians); ``patient_settings`` is None when the session may not
    read them. In a clinician session the prescription is the one the status
    names (their checksums agree).
    """

    device: m.DeviceInfoResponse
    status: m.StatusResponse
    prescription: m.PrescriptionSpec | None
    alarms: tuple[m.AlarmRecord, ...]
    patient_settings: m.ReadPatientSettingsResponse | None
    read_at_wall_s: float
    """The programmer's clock (Unix seconds) when the status was read."""
    role: Role = Role.CLINICIAN
    """The role of the session that read it."""
    implant: m.ReadImplantResponse | None = None
    """The implant record and the drug in the pump (None: this session cannot read it)."""
    simulated: bool = False
    """Read from a simulated pump (demo mode): its clock is the only "now", and the
    programmer never offers to set it to its own."""

    def __post_init__(self) -> None:
        if self.prescription is not None and (
            m.prescription_checksum(self.prescription) != self.status.prescription_checksum
        ):
            raise PumpDataError(
                "the prescription read does not match the checksum the pump's status names"
            )

    @classmethod
    def read(cls, client: PumpClient, *, wall_s: float, simulated: bool = False) -> PumpSnapshot:
        """Interrogate through ``client`` (an open session): device, status, prescription,
        alarms and patient settings.

        ``wall_s`` is the programmer's clock when the reads start. Protocol
        errors (a NAK, a timeout, a lost link) propagate as they are; a
        prescription that keeps changing between reads is a :class:`PumpDataError`.
        """
        role = client.role
        device = client.device_info()
        prescription: m.PrescriptionSpec | None = None
        if role is Role.CLINICIAN:
            for _ in range(READ_ATTEMPTS):
                active = client.read_prescription()
                status = client.status()
                if active.checksum == status.prescription_checksum:
                    prescription = active.prescription
                    break
            else:
                raise PumpDataError(
                    "the pump's prescription kept changing while it was read; "
                    "is another programmer connected?"
                )
        else:
            status = client.status()
        alarms = client.alarms().alarms
        patient_settings = client.patient_settings()
        implant = client.implant() if role is Role.CLINICIAN else None
        return cls(
            device=device,
            status=status,
            prescription=prescription,
            alarms=alarms,
            patient_settings=patient_settings,
            read_at_wall_s=wall_s,
            role=role,
            implant=implant,
            simulated=simulated,
        )

    # --- the clock ---------------------------------------------------------------------------

    @property
    def pump_clock_s(self) -> int:
        """The pump's clock at the read (Unix seconds, UTC)."""
        return self.status.clock_s

    @property
    def clock_offset_s(self) -> float:
        """Pump clock minus programmer clock, in seconds (positive: the pump is ahead)."""
        return self.status.clock_s - self.read_at_wall_s

    @property
    def weekday(self) -> int:
        """The pump's weekday at the read (Monday = 0), the day flex profiles follow."""
        return weekday_of(self.status.clock_s)

    # --- therapy -----------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """The basal mode the pump runs."""
        return self.status.mode

    @property
    def concentration_ug_per_ml(self) -> int:
        """The drug concentration in the reservoir, mcg/mL."""
        return self.status.concentration_ug_per_ml

    def _concentration(self) -> int:
        if self.status.concentration_ug_per_ml <= 0:
            raise PumpDataError("the pump reports a concentration of 0 mcg/mL")
        return self.status.concentration_ug_per_ml

    @property
    def bridging(self) -> bool:
        """A bridge runs: rates are computed at the old drug still in the catheter."""
        return (
            self.status.bridge_remaining_nl > 0 and self.status.bridge_concentration_ug_per_ml > 0
        )

    @property
    def rate_concentration_ug_per_ml(self) -> int:
        """The concentration rates are computed at now (the old drug during a bridge)."""
        if self.bridging:
            return self.status.bridge_concentration_ug_per_ml
        return self._concentration()

    @property
    def daily_volume_nl(self) -> Fraction:
        """Today's 24-h basal volume in nL at the rates in force (during a bridge, at the old
        drug): exact from the prescription; from the status without one."""
        if self.prescription is None:
            return Fraction(self.status.daily_volume_nl)
        return daily_volume_nl(
            self.prescription,
            self.weekday,
            minimum_mode_rate_nl_per_day=self.device.minimum_mode_rate_nl_per_day,
            concentration_ug_per_ml=self.rate_concentration_ug_per_ml,
        )

    @property
    def dose_ug_per_day(self) -> Fraction:
        """Today's 24-h basal dose in mcg/day (exact; the same during a bridge)."""
        if self.prescription is None:
            return Fraction(self.status.daily_dose_ng, 1000)
        return daily_dose_ug(
            self.prescription,
            self.weekday,
            minimum_mode_rate_nl_per_day=self.device.minimum_mode_rate_nl_per_day,
        )

    # --- reservoir ---------------------------------------------------------------------------

    @property
    def reservoir_ml(self) -> Fraction:
        """The pump's estimate of the reservoir volume, mL."""
        return Fraction(self.status.reservoir_nl, NL_PER_ML)

    @property
    def capacity_ml(self) -> Fraction:
        """The reservoir's capacity, mL."""
        return Fraction(self.device.capacity_nl, NL_PER_ML)

    @property
    def alarm_volume_ml(self) -> Fraction:
        """The low-reservoir alarm volume, mL."""
        return Fraction(self.status.alarm_volume_nl, NL_PER_ML)

    # --- alarms ------------------------------------------------------------------------------

    @property
    def critical_alarms(self) -> tuple[m.AlarmRecord, ...]:
        """The critical alarms the pump holds, in code order."""
        return tuple(a for a in self.alarms if a.alarm_class is AlarmClass.CRITICAL)

    @property
    def noncritical_alarms(self) -> tuple[m.AlarmRecord, ...]:
        """The non-critical alarms the pump holds, in code order."""
        return tuple(a for a in self.alarms if a.alarm_class is AlarmClass.NON_CRITICAL)

    @property
    def alarm_codes(self) -> frozenset[AlarmCode]:
        """Codes of every alarm the pump holds (read-alarms and status combined)."""
        return frozenset(a.code for a in self.alarms) | self.status.alarms_active

    @property
    def halted(self) -> bool:
        """A fault halts delivery now (STATUS's halted_by: empty reservoir, EOS, motor stall,
        critical memory error)."""
        return bool(self.status.halted_by)

    @property
    def stopped(self) -> bool:
        """Therapy is stopped by the clinician (mode STOPPED: STOP_PUMP or a STOPPED
        prescription)."""
        return self.status.mode is Mode.STOPPED

    @property
    def stopped_by_stop_pump(self) -> bool:
        """Stopped by STOP_PUMP (RESUME restores it); a STOPPED prescription is not."""
        return self.stopped and self.status.stop_reason is not StopReason.NONE

    @property
    def implant_record(self) -> m.ImplantFields | None:
        """The implant record, when the pump holds one."""
        if self.implant is None or not self.implant.recorded:
            return None
        return self.implant.implant

    @property
    def bolus_running(self) -> bool:
        """A bolus (or patient dose) runs now."""
        return self.status.bolus_ends_at_s is not None and self.status.bolus_remaining_nl > 0

    def require_prescription(self) -> m.PrescriptionSpec:
        """The active prescription, or :class:`PumpDataError` in a session that cannot read it."""
        if self.prescription is None:
            raise PumpDataError(
                "this session cannot read the prescription: connect in the clinician role"
            )
        return self.prescription
