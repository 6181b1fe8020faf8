"""The records the pump takes and returns: refill orders and results, patient dose grants,
and the status an interrogation reports (:class:`~firmware_model.pump.Pump` builds them)."""

from __future__ import annotations

from firmware_model.profile import ToneSpec
from protocol.enums import AlarmCode, BolusKind, Mode, StopReason
from protocol.frozen import frozen
from protocol.messages import PrescriptionSpec


@frozen
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


@frozen
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


@frozen
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


@frozen
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
