"""The worked examples of docs/protocol.md: one request and one response per opcode, built by
the real encoders and MAC'd with the documented example key (never a real key)."""

from __future__ import annotations

import zlib

from protocol import messages, session
from protocol.enums import (
    PROTOCOL_VERSION,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Op,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.messages import (
    AlarmRecord,
    FlexStep,
    LogEntry,
    Message,
    PrescriptionSpec,
)

EXAMPLE_ROLE_KEY = bytes(range(0x40, 0x60))
"""The role key of the worked examples (never a real key)."""
EXAMPLE_CLIENT_NONCE = bytes(range(0x10, 0x20))
EXAMPLE_PUMP_NONCE = bytes(range(0x20, 0x30))
EXAMPLE_SESSION_KEY = session.session_key(
    EXAMPLE_ROLE_KEY, Role.CLINICIAN, EXAMPLE_CLIENT_NONCE, EXAMPLE_PUMP_NONCE
)
EXAMPLE_CLOCK_S = 1_767_225_600  # 2026-01-01 00:00:00 UTC


_SIMPLE = PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000)


def _status_example() -> messages.StatusResponse:
    return messages.StatusResponse(
        clock_s=EXAMPLE_CLOCK_S,
        mode=Mode.SIMPLE,
        stop_reason=StopReason.NONE,
        delivering=True,
        halted_by=frozenset(),
        bolus_kind=BolusKind.NONE,
        bolus_dose_ng=0,
        bolus_volume_nl=0,
        bolus_duration_s=0,
        bolus_started_at_s=None,
        bolus_remaining_nl=0,
        bolus_ends_at_s=None,
        basal_rate_nl_per_day=200_000,
        current_rate_nl_per_day=200_000,
        daily_dose_ng=400_000,
        daily_volume_nl=200_000,
        concentration_ug_per_ml=2000,
        bridge_remaining_nl=0,
        bridge_concentration_ug_per_ml=0,
        bridge_ends_at_s=None,
        basal_remainder=43_200,
        reservoir_nl=18_500_000,
        capacity_nl=20_000_000,
        alarm_volume_nl=2_000_000,
        alarms_active=frozenset({AlarmCode.ERI}),
        alarms_silenced=frozenset({AlarmCode.ERI}),
        low_reservoir_alarm_at_s=EXAMPLE_CLOCK_S + 82 * 86_400,
        empty_at_s=EXAMPLE_CLOCK_S + 90 * 86_400,
        battery_permille=120,
        battery_uc=1_498_170_240,
        eri_at_s=EXAMPLE_CLOCK_S - 86_400,
        prescription_checksum=messages.prescription_checksum(_SIMPLE),
        recent_doses=(),
    )


FLEX_EXAMPLE = PrescriptionSpec.flex(
    [
        FlexStep(start_min=0, dose_ng_per_day=120_000),
        FlexStep(start_min=8 * 60, dose_ng_per_day=200_000),
        FlexStep(start_min=20 * 60, dose_ng_per_day=120_000),
    ],
    concentration_ug_per_ml=2000,
)

_IMPLANT = messages.ImplantFields(
    catheter_model="ITB-1",
    catheter_volume_nl_per_cm=2_600,
    catheter_length_mm=1_100,
    catheter_length_uncertainty_mm=20,
    implanted_at_s=EXAMPLE_CLOCK_S - 400 * 86_400,
    patient_id="P-000123",
    origin=Origin.SPINAL,
    physician="Dr A. Example",
)

_REFILL = messages.StageRefillRequest(
    removed_nl=1_400_000,
    added_nl=18_000_000,
    concentration_ug_per_ml=2000,
    allow_nonstandard=False,
    bridge=True,
    drug_lot="LOT-2026-11",
    prescription=_SIMPLE,
)


def _settings(cls: type[messages.PatientSettingsFields]) -> messages.Message:
    message = cls(enabled=True, dose_ng=20_000, duration_s=300, lockout_s=3600, max_per_24h=4)
    assert isinstance(message, messages.Message)
    return message


EXAMPLES: dict[Op, tuple[Message | None, Message]] = {
    Op.DEVICE_INFO: (
        messages.DeviceInfoRequest(),
        messages.DeviceInfoResponse(
            model=20,
            serial="VP20-000123",
            firmware_version="1.0.0",
            capacity_nl=20_000_000,
            protocol_version=PROTOCOL_VERSION,
            min_rate_nl_per_day=48_000,
            max_rate_nl_per_day=24_000_000,
            minimum_mode_rate_nl_per_day=6_000,
            empty_threshold_nl=500_000,
            tubing_volume_nl=200_000,
            catheter_volume_nl_per_cm=2_600,
            battery_capacity_uc=12_484_752_000,
            battery_quiescent_drain_uc_per_s=56,
            battery_drain_uc_per_nl=1,
            battery_telemetry_drain_uc_per_s=2_000,
            telemetry_s_per_frame=1,
            eri_lead_s=90 * 86_400,
            forecast_horizon_s=3_650 * 86_400,
            min_bolus_volume_nl=1_000,
            max_bolus_duration_s=86_400,
        ),
    ),
    Op.SESSION_OPEN: (
        messages.SessionOpenRequest(role=Role.CLINICIAN, client_nonce=EXAMPLE_CLIENT_NONCE),
        messages.SessionOpenResponse(
            pump_nonce=EXAMPLE_PUMP_NONCE,
            pump_proof=session.pump_proof(
                EXAMPLE_ROLE_KEY, Role.CLINICIAN, EXAMPLE_CLIENT_NONCE, EXAMPLE_PUMP_NONCE
            ),
        ),
    ),
    Op.SESSION_AUTH: (
        messages.SessionAuthRequest(
            client_proof=session.programmer_proof(
                EXAMPLE_ROLE_KEY, Role.CLINICIAN, EXAMPLE_PUMP_NONCE, EXAMPLE_CLIENT_NONCE
            )
        ),
        messages.SessionAuthResponse(role=Role.CLINICIAN, idle_timeout_s=300),
    ),
    Op.SESSION_CLOSE: (messages.SessionCloseRequest(), messages.SessionCloseResponse()),
    Op.LIMITS: (
        messages.LimitsRequest(),
        messages.LimitsResponse(
            min_alarm_volume_nl=1_500_000,
            max_alarm_volume_nl=5_000_000,
            min_bolus_volume_nl=1_000,
            max_bolus_volume_nl=20_000_000,
            max_bolus_duration_s=86_400,
            max_patient_dose_volume_nl=500_000,
            min_patient_lockout_s=900,
            max_patient_lockout_s=86_400,
            max_patient_doses_per_24h=12,
            min_concentration_ug_per_ml=10,
            max_concentration_ug_per_ml=4_000,
            standard_concentrations_ug_per_ml=(500, 1000, 2000),
            max_flex_steps=13,
            flex_step_granularity_min=15,
        ),
    ),
    Op.STATUS: (messages.StatusRequest(), _status_example()),
    Op.READ_PRESCRIPTION: (
        messages.ReadPrescriptionRequest(),
        messages.ReadPrescriptionResponse(
            prescription=FLEX_EXAMPLE, checksum=messages.prescription_checksum(FLEX_EXAMPLE)
        ),
    ),
    Op.STAGE_PRESCRIPTION: (
        messages.StagePrescriptionRequest(prescription=FLEX_EXAMPLE),
        messages.StagePrescriptionResponse(checksum=messages.prescription_checksum(FLEX_EXAMPLE)),
    ),
    Op.COMMIT_PRESCRIPTION: (
        messages.CommitPrescriptionRequest(checksum=messages.prescription_checksum(FLEX_EXAMPLE)),
        messages.CommitPrescriptionResponse(checksum=messages.prescription_checksum(FLEX_EXAMPLE)),
    ),
    Op.READ_DELIVERY: (
        messages.ReadDeliveryRequest(),
        messages.ReadDeliveryResponse(
            delivering=False,
            since_s=EXAMPLE_CLOCK_S - 5 * 3600,
            last_refill_at_s=EXAMPLE_CLOCK_S - 40 * 86_400,
        ),
    ),
    Op.START_BOLUS: (
        messages.StartBolusRequest(
            kind=BolusKind.THERAPEUTIC, dose_ng=50_000, volume_nl=0, duration_s=1800
        ),
        messages.StartBolusResponse(
            dose_ng=50_000, volume_nl=25_000, duration_s=1800, ends_at_s=EXAMPLE_CLOCK_S + 1800
        ),
    ),
    Op.CANCEL_BOLUS: (
        messages.CancelBolusRequest(),
        messages.CancelBolusResponse(delivered_nl=12_500),
    ),
    Op.STOP_PUMP: (
        messages.StopPumpRequest(reason=StopReason.MRI),
        messages.StopPumpResponse(),
    ),
    Op.RESUME_PUMP: (messages.ResumePumpRequest(), messages.ResumePumpResponse(mode=Mode.SIMPLE)),
    Op.CANCEL_BRIDGE: (
        messages.CancelBridgeRequest(),
        messages.CancelBridgeResponse(delivered_nl=300_000, remaining_nl=186_000),
    ),
    Op.READ_VALVE: (
        messages.ReadValveRequest(),
        messages.ReadValveResponse(
            valve_model=ValveModel.VALVE_FLOW_ACTIVATED,
            closed=True,
            closed_since_s=EXAMPLE_CLOCK_S - 2 * 3600,
        ),
    ),
    Op.RESET_VALVE: (messages.ResetValveRequest(), messages.ResetValveResponse(closed_for_s=7200)),
    Op.STAGE_REFILL: (
        _REFILL,
        messages.StageRefillResponse(
            checksum=zlib.crc32(messages.encode_payload(_REFILL)),
            expected_nl=1_500_000,
            discrepancy_nl=-100_000,
            discrepancy_flagged=False,
            bridge_volume_nl=480_800,
        ),
    ),
    Op.COMMIT_REFILL: (
        messages.CommitRefillRequest(checksum=zlib.crc32(messages.encode_payload(_REFILL))),
        messages.CommitRefillResponse(
            expected_nl=1_500_000,
            discrepancy_nl=-100_000,
            discrepancy_flagged=False,
            reservoir_nl=18_000_000,
            prescription_checksum=messages.prescription_checksum(_SIMPLE),
            bridge_volume_nl=480_800,
            bridge_ends_at_s=EXAMPLE_CLOCK_S + 103_853,
            low_reservoir_alarm_at_s=EXAMPLE_CLOCK_S + 80 * 86_400,
        ),
    ),
    Op.READ_IMPLANT: (
        messages.ReadImplantRequest(),
        messages.ReadImplantResponse(
            recorded=True,
            implant=_IMPLANT,
            concentration_ug_per_ml=2000,
            drug_lot="LOT-2026-11",
            last_refill_at_s=EXAMPLE_CLOCK_S - 300,
        ),
    ),
    Op.SET_IMPLANT: (
        messages.SetImplantRequest(implant=_IMPLANT),
        messages.SetImplantResponse(implant=_IMPLANT),
    ),
    Op.SET_ALARM_VOLUME: (
        messages.SetAlarmVolumeRequest(volume_nl=3_000_000),
        messages.SetAlarmVolumeResponse(volume_nl=3_000_000),
    ),
    Op.READ_ALARMS: (
        messages.ReadAlarmsRequest(),
        messages.ReadAlarmsResponse(
            alarms=(
                AlarmRecord(
                    code=AlarmCode.LOW_RESERVOIR,
                    alarm_class=AlarmClass.NON_CRITICAL,
                    raised_at_s=EXAMPLE_CLOCK_S - 3600,
                    silenced=True,
                    condition_present=True,
                ),
            )
        ),
    ),
    Op.SILENCE_ALARM: (
        messages.SilenceAlarmRequest(code=AlarmCode.LOW_RESERVOIR),
        messages.SilenceAlarmResponse(),
    ),
    Op.CLEAR_ALARM: (
        messages.ClearAlarmRequest(code=AlarmCode.LOW_RESERVOIR),
        messages.ClearAlarmResponse(),
    ),
    Op.READ_EVENT_LOG: (
        messages.ReadEventLogRequest(first_index=40, max_count=2),
        messages.ReadEventLogResponse(
            total_written=42,
            overwritten=0,
            entries=(
                LogEntry(
                    index=40,
                    clock_s=EXAMPLE_CLOCK_S - 600,
                    code=EventCode.SESSION_OPENED,
                    a=int(Role.CLINICIAN),
                    b=0,
                ),
                LogEntry(
                    index=41,
                    clock_s=EXAMPLE_CLOCK_S - 300,
                    code=EventCode.REFILLED,
                    a=18_000_000,
                    b=2000,
                ),
            ),
        ),
    ),
    Op.READ_CLOCK: (
        messages.ReadClockRequest(),
        messages.ReadClockResponse(clock_s=EXAMPLE_CLOCK_S),
    ),
    Op.SET_CLOCK: (
        messages.SetClockRequest(clock_s=EXAMPLE_CLOCK_S),
        messages.SetClockResponse(clock_s=EXAMPLE_CLOCK_S),
    ),
    Op.READ_PATIENT_SETTINGS: (
        messages.ReadPatientSettingsRequest(),
        _settings(messages.ReadPatientSettingsResponse),
    ),
    Op.SET_PATIENT_SETTINGS: (
        _settings(messages.SetPatientSettingsRequest),
        _settings(messages.SetPatientSettingsResponse),
    ),
    Op.PATIENT_DOSE: (
        messages.PatientDoseRequest(),
        messages.PatientDoseResponse(
            dose_ng=20_000,
            volume_nl=10_000,
            ends_at_s=EXAMPLE_CLOCK_S + 300,
            doses_in_24h=1,
            next_allowed_at_s=EXAMPLE_CLOCK_S + 3600,
        ),
    ),
    Op.NAK: (
        None,
        messages.Nak(code=ErrorCode.FORBIDDEN, reason="the PATIENT role may not use STAGE_REFILL"),
    ),
}
