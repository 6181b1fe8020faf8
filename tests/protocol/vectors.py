"""Golden vectors: ONE table of (wire hex, frame, message) that drives both the
parse tests and the build tests of frames and messages.

Each wire string is written as header | payload | MAC | CRC, with the payload
spelled field by field from the layouts in the brief (not produced by the
encoder). The CRCs were computed with the hand-rolled CRC in ``test_frames``
and the MACs with plain ``hmac`` under :data:`VECTOR_SESSION_KEY`; the tests
recompute both independently of the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.enums import (
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Flags,
    Mode,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.frames import Frame
from protocol.messages import (
    AlarmRecord,
    CancelBolusRequest,
    CancelBolusResponse,
    CancelBridgeRequest,
    CancelBridgeResponse,
    ClearAlarmRequest,
    ClearAlarmResponse,
    CommitPrescriptionRequest,
    CommitPrescriptionResponse,
    CommitRefillRequest,
    CommitRefillResponse,
    DeviceInfoRequest,
    DeviceInfoResponse,
    DoseGrant,
    FlexStep,
    ImplantFields,
    LimitsRequest,
    LimitsResponse,
    LogEntry,
    Message,
    Nak,
    PatientDoseRequest,
    PatientDoseResponse,
    PrescriptionSpec,
    ReadAlarmsRequest,
    ReadAlarmsResponse,
    ReadClockRequest,
    ReadClockResponse,
    ReadDeliveryRequest,
    ReadDeliveryResponse,
    ReadEventLogRequest,
    ReadEventLogResponse,
    ReadImplantRequest,
    ReadImplantResponse,
    ReadPatientSettingsRequest,
    ReadPatientSettingsResponse,
    ReadPrescriptionRequest,
    ReadPrescriptionResponse,
    ReadValveRequest,
    ReadValveResponse,
    ResetValveRequest,
    ResetValveResponse,
    ResumePumpRequest,
    ResumePumpResponse,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionCloseResponse,
    SessionOpenRequest,
    SessionOpenResponse,
    SetAlarmVolumeRequest,
    SetAlarmVolumeResponse,
    SetClockRequest,
    SetClockResponse,
    SetImplantRequest,
    SetImplantResponse,
    SetPatientSettingsRequest,
    SetPatientSettingsResponse,
    SilenceAlarmRequest,
    SilenceAlarmResponse,
    StagePrescriptionRequest,
    StagePrescriptionResponse,
    StageRefillRequest,
    StageRefillResponse,
    StartBolusRequest,
    StartBolusResponse,
    StatusRequest,
    StatusResponse,
    StopPumpRequest,
    StopPumpResponse,
)

VECTOR_SESSION_KEY = bytes(range(0x80, 0xA0))
"""The session key the MAC'd vectors were MAC'd with."""

T0 = 1_700_000_000
"""2023-11-14 22:13:20 UTC, the pump clock in most vectors."""


@dataclass(frozen=True)
class Vector:
    """One golden vector: the wire bytes, the frame they are, and (when the
    opcode is known) the message of the payload."""

    name: str
    wire_hex: str
    frame: Frame
    message: Message | None

    @property
    def wire(self) -> bytes:
        return bytes.fromhex(self.wire_hex)


def _v(name: str, pieces: tuple[str, str, str, str], message: Message | None) -> Vector:
    """A vector from its hex pieces (header, payload, MAC, CRC); the Frame's
    fields are read from them."""
    header, payload, mac, crc = pieces
    head = bytes.fromhex(header)
    frame = Frame(
        flags=Flags(head[3]),
        seq=int.from_bytes(head[4:6], "big"),
        op=head[6],
        payload=bytes.fromhex(payload),
        mac=bytes.fromhex(mac) if mac else None,
    )
    return Vector(name, f"{header} {payload} {mac} {crc}", frame, message)


_PATIENT_SETTINGS = {
    "dose_ng": 25_000,
    "duration_s": 600,
    "lockout_s": 7200,
    "max_per_24h": 6,
}

_IMPLANT = ImplantFields(
    catheter_model="ITB-1",
    catheter_volume_nl_per_cm=2600,
    catheter_length_mm=1100,
    catheter_length_uncertainty_mm=20,
    implanted_at_s=T0 - 400 * 86_400,
    patient_id="P-42",
    origin=Origin.SPINAL,
    physician="Dr Who",
)

_STAGE_REFILL = StageRefillRequest(
    removed_nl=1_500_000,
    added_nl=18_000_000,
    concentration_ug_per_ml=2000,
    allow_nonstandard=False,
    bridge=True,
    drug_lot="LOT-7",
    prescription=PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000),
)

VECTORS: tuple[Vector, ...] = (
    _v(
        "DEVICE_INFO request",
        ("a55a 01 00 0001 01 0000", "", "", "082b"),
        DeviceInfoRequest(),
    ),
    _v(
        "DEVICE_INFO response",
        (
            "a55a 01 01 0001 01 004f",
            "28 06 534e30303031 03 322e31 02625a00 01 0000bb80 016e3600 00001770 000f4240"
            " 00030d40 00000a28 00000002e8263280 00000038 00000001 000007d0 0001 0076a700"
            " 12cc0300 000003e8 00015180",
            "",
            "5186",
        ),
        DeviceInfoResponse(
            model=40,
            serial="SN0001",
            firmware_version="2.1",
            capacity_nl=40_000_000,
            protocol_version=1,
            min_rate_nl_per_day=48_000,
            max_rate_nl_per_day=24_000_000,
            minimum_mode_rate_nl_per_day=6_000,
            empty_threshold_nl=1_000_000,
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
    _v(
        "SESSION_OPEN request",
        ("a55a 01 00 0002 02 0011", "02 00112233445566778899aabbccddeeff", "", "3960"),
        SessionOpenRequest(
            role=Role.PATIENT, client_nonce=bytes.fromhex("00112233445566778899aabbccddeeff")
        ),
    ),
    _v(
        "SESSION_OPEN response",
        (
            "a55a 01 01 0002 02 0030",
            "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
            " a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
            "",
            "e3a2",
        ),
        SessionOpenResponse(
            pump_nonce=bytes(range(0xF0, 0x100)), pump_proof=bytes(range(0xA0, 0xC0))
        ),
    ),
    _v(
        "SESSION_AUTH request",
        (
            "a55a 01 00 0003 03 0020",
            "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
            "",
            "8932",
        ),
        SessionAuthRequest(client_proof=bytes(range(0xC0, 0xE0))),
    ),
    _v(
        "SESSION_AUTH response (MAC'd)",
        ("a55a 01 03 0003 03 0003", "01 012c", "e6ed8db97e64bee53839799a84318a1c", "24e0"),
        SessionAuthResponse(role=Role.CLINICIAN, idle_timeout_s=300),
    ),
    _v(
        "SESSION_CLOSE request (MAC'd)",
        ("a55a 01 02 0020 04 0000", "", "82bacd78c2c5dcd4bf59e2e13d280836", "1077"),
        SessionCloseRequest(),
    ),
    _v(
        "SESSION_CLOSE response (MAC'd)",
        ("a55a 01 03 0020 04 0000", "", "21dd1ccaad9378bdad24b4ffc081c22d", "eef7"),
        SessionCloseResponse(),
    ),
    _v(
        "LIMITS request",
        ("a55a 01 00 0030 08 0000", "", "", "cce7"),
        LimitsRequest(),
    ),
    _v(
        "LIMITS response",
        (
            "a55a 01 01 0030 08 003c",
            "0016e360 004c4b40 000003e8 01312d00 00015180 0007a120 00000384 00015180 0c"
            " 0000000a 00000fa0 04 000001f4 000003e8 000007d0 00000032 0d 0f",
            "",
            "93e9",
        ),
        LimitsResponse(
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
            standard_concentrations_ug_per_ml=(500, 1000, 2000, 50),
            max_flex_steps=13,
            flex_step_granularity_min=15,
        ),
    ),
    _v(
        "STATUS request (MAC'd)",
        ("a55a 01 02 0004 10 0000", "", "83145b0beeeadc2fbf229ae15be9e0df", "9853"),
        StatusRequest(),
    ),
    _v(
        "STATUS response (MAC'd)",
        (
            "a55a 01 03 0004 10 009d",
            "000000006553f100 02 00 01 0000 01 0000c350 000061a8 00000708 000000006553eea8"
            " 0000411b 000000006553f5b0 000f4240 00124f80 0007a120 000f4240 000007d0 000186a0"
            " 000001f4 0000000065543750 00003039 00bc614e 01312d00 001e8480 0009 0001"
            " 0000000000000000 0000000065633340 03e7 00000002e767b1f0 0000000000000000"
            " cafebabe 02 000000006553d4e0 000000006553f09c",
            "a0135923b35ab8b0976ea0efeab23d4f",
            "6eda",
        ),
        StatusResponse(
            clock_s=T0,
            mode=Mode.FLEX,
            stop_reason=StopReason.NONE,
            delivering=True,
            halted_by=frozenset(),
            bolus_kind=BolusKind.THERAPEUTIC,
            bolus_dose_ng=50_000,
            bolus_volume_nl=25_000,
            bolus_duration_s=1800,
            bolus_started_at_s=T0 - 600,
            bolus_remaining_nl=16_667,
            bolus_ends_at_s=T0 + 1200,
            basal_rate_nl_per_day=1_000_000,
            current_rate_nl_per_day=1_200_000,
            daily_dose_ng=500_000,
            daily_volume_nl=1_000_000,
            concentration_ug_per_ml=2000,
            bridge_remaining_nl=100_000,
            bridge_concentration_ug_per_ml=500,
            bridge_ends_at_s=T0 + 18_000,
            basal_remainder=12_345,
            reservoir_nl=12_345_678,
            capacity_nl=20_000_000,
            alarm_volume_nl=2_000_000,
            alarms_active=frozenset({AlarmCode.LOW_RESERVOIR, AlarmCode.EMPTY_RESERVOIR}),
            alarms_silenced=frozenset({AlarmCode.LOW_RESERVOIR}),
            low_reservoir_alarm_at_s=None,
            empty_at_s=1_701_000_000,
            battery_permille=999,
            battery_uc=12_472_267_248,
            eri_at_s=None,
            prescription_checksum=0xCAFEBABE,
            recent_doses=(DoseGrant(at_s=T0 - 7200), DoseGrant(at_s=T0 - 100)),
        ),
    ),
    _v(
        "READ_PRESCRIPTION request",
        ("a55a 01 00 0005 11 0000", "", "", "81b9"),
        ReadPrescriptionRequest(),
    ),
    _v(
        "READ_PRESCRIPTION response (simple)",
        (
            "a55a 01 01 0005 11 000d",
            "01 000001f4 00030d40 46aea451",
            "",
            "f900",
        ),
        ReadPrescriptionResponse(
            prescription=PrescriptionSpec.simple(200_000, concentration_ug_per_ml=500),
            checksum=0x46AEA451,
        ),
    ),
    _v(
        "STAGE_PRESCRIPTION request (flex, one profile)",
        (
            "a55a 01 00 0006 12 0014",
            "02 000007d0 00 01 02 0000 0001d4c0 01e0 00030d40",
            "",
            "3ecf",
        ),
        StagePrescriptionRequest(
            prescription=PrescriptionSpec.flex(
                [
                    FlexStep(start_min=0, dose_ng_per_day=120_000),
                    FlexStep(start_min=480, dose_ng_per_day=200_000),
                ],
                concentration_ug_per_ml=2000,
            )
        ),
    ),
    _v(
        "STAGE_PRESCRIPTION request (flex, weekly)",
        ("a55a 01 00 0007 12 0038", "02 000003e8 01 07" + " 01 0000 000186a0" * 7, "", "a92c"),
        StagePrescriptionRequest(
            prescription=PrescriptionSpec.flex_weekly(
                [[FlexStep(start_min=0, dose_ng_per_day=100_000)]] * 7,
                concentration_ug_per_ml=1000,
            )
        ),
    ),
    _v(
        "STAGE_PRESCRIPTION request (minimum rate)",
        ("a55a 01 00 0008 12 0005", "03 000001f4", "", "2d18"),
        StagePrescriptionRequest(
            prescription=PrescriptionSpec.minimum_rate(concentration_ug_per_ml=500)
        ),
    ),
    _v(
        "STAGE_PRESCRIPTION request (stopped)",
        ("a55a 01 00 0009 12 0005", "00 000001f4", "", "28e9"),
        StagePrescriptionRequest(
            prescription=PrescriptionSpec.stopped(concentration_ug_per_ml=500)
        ),
    ),
    _v(
        "STAGE_PRESCRIPTION response",
        ("a55a 01 01 0009 12 0004", "12345678", "", "50b8"),
        StagePrescriptionResponse(checksum=0x12345678),
    ),
    _v(
        "COMMIT_PRESCRIPTION request",
        ("a55a 01 00 000a 13 0004", "12345678", "", "4fe9"),
        CommitPrescriptionRequest(checksum=0x12345678),
    ),
    _v(
        "COMMIT_PRESCRIPTION response",
        ("a55a 01 01 000a 13 0004", "12345678", "", "20ac"),
        CommitPrescriptionResponse(checksum=0x12345678),
    ),
    _v(
        "READ_DELIVERY request",
        ("a55a 01 00 0035 14 0000", "", "", "46a0"),
        ReadDeliveryRequest(),
    ),
    _v(
        "READ_DELIVERY response (not delivering for 5 h)",
        ("a55a 01 01 0035 14 0011", "00 000000006553aab0 00000000651f3500", "", "9556"),
        ReadDeliveryResponse(
            delivering=False, since_s=T0 - 5 * 3600, last_refill_at_s=T0 - 40 * 86_400
        ),
    ),
    _v(
        "START_BOLUS request",
        ("a55a 01 00 000b 20 000d", "01 0000c350 00000000 00000384", "", "b47c"),
        StartBolusRequest(kind=BolusKind.THERAPEUTIC, dose_ng=50_000, volume_nl=0, duration_s=900),
    ),
    _v(
        "START_BOLUS request (priming)",
        ("a55a 01 00 0030 20 000d", "03 00000000 0007a120 00000000", "", "b06e"),
        StartBolusRequest(kind=BolusKind.PRIMING, dose_ng=0, volume_nl=500_000, duration_s=0),
    ),
    _v(
        "START_BOLUS response",
        ("a55a 01 01 000b 20 0014", "0000c350 000061a8 00000384 000000006553f484", "", "e314"),
        StartBolusResponse(dose_ng=50_000, volume_nl=25_000, duration_s=900, ends_at_s=T0 + 900),
    ),
    _v(
        "CANCEL_BOLUS request",
        ("a55a 01 00 000c 21 0000", "", "", "b76b"),
        CancelBolusRequest(),
    ),
    _v(
        "CANCEL_BOLUS response",
        ("a55a 01 01 000c 21 0004", "00003039", "", "8fca"),
        CancelBolusResponse(delivered_nl=12_345),
    ),
    _v(
        "STOP_PUMP request",
        ("a55a 01 00 000d 22 0001", "02", "", "9ec2"),
        StopPumpRequest(reason=StopReason.MRI),
    ),
    _v(
        "STOP_PUMP response",
        ("a55a 01 01 000d 22 0000", "", "", "dd2f"),
        StopPumpResponse(),
    ),
    _v(
        "RESUME_PUMP request",
        ("a55a 01 00 000e 23 0000", "", "", "3463"),
        ResumePumpRequest(),
    ),
    _v(
        "RESUME_PUMP response",
        ("a55a 01 01 000e 23 0001", "01", "", "8ea6"),
        ResumePumpResponse(mode=Mode.SIMPLE),
    ),
    _v(
        "CANCEL_BRIDGE request",
        ("a55a 01 00 0031 24 0000", "", "", "49f4"),
        CancelBridgeRequest(),
    ),
    _v(
        "CANCEL_BRIDGE response",
        ("a55a 01 01 0031 24 0008", "000493e0 0002d690", "", "bbcf"),
        CancelBridgeResponse(delivered_nl=300_000, remaining_nl=186_000),
    ),
    _v(
        "READ_VALVE request",
        ("a55a 01 00 0036 15 0000", "", "", "ea4c"),
        ReadValveRequest(),
    ),
    _v(
        "READ_VALVE response (a flow-activated valve closed 2 h ago)",
        ("a55a 01 01 0036 15 000a", "02 01 000000006553d4e0", "", "885f"),
        ReadValveResponse(
            valve_model=ValveModel.VALVE_FLOW_ACTIVATED, closed=True, closed_since_s=T0 - 7200
        ),
    ),
    _v(
        "RESET_VALVE request",
        ("a55a 01 00 0037 25 0000", "", "", "595d"),
        ResetValveRequest(),
    ),
    _v(
        "RESET_VALVE response (closed 2 h)",
        ("a55a 01 01 0037 25 0004", "00001c20", "", "1eec"),
        ResetValveResponse(closed_for_s=7200),
    ),
    _v(
        "STAGE_REFILL request",
        (
            "a55a 01 00 000f 30 001d",
            "0016e360 0112a880 000007d0 00 01 05 4c4f542d37 01 000007d0 00061a80",
            "",
            "3e26",
        ),
        _STAGE_REFILL,
    ),
    _v(
        "STAGE_REFILL response (negative discrepancy)",
        ("a55a 01 01 000f 30 0011", "16427af3 001e8480 fff85ee0 00 00076a70", "", "c5a6"),
        StageRefillResponse(
            checksum=0x16427AF3,
            expected_nl=2_000_000,
            discrepancy_nl=-500_000,
            discrepancy_flagged=False,
            bridge_volume_nl=486_000,
        ),
    ),
    _v(
        "COMMIT_REFILL request",
        ("a55a 01 00 0032 32 0004", "16427af3", "", "0249"),
        CommitRefillRequest(checksum=0x16427AF3),
    ),
    _v(
        "COMMIT_REFILL response",
        (
            "a55a 01 01 0032 32 0025",
            "001e8480 fff85ee0 00 0112a880 3c9a4a45 00076a70 0000000065572520 0000000065ec8780",
            "",
            "5482",
        ),
        CommitRefillResponse(
            expected_nl=2_000_000,
            discrepancy_nl=-500_000,
            discrepancy_flagged=False,
            reservoir_nl=18_000_000,
            prescription_checksum=0x3C9A4A45,
            bridge_volume_nl=486_000,
            bridge_ends_at_s=T0 + 209_952,
            low_reservoir_alarm_at_s=1_710_000_000,
        ),
    ),
    _v(
        "READ_IMPLANT request",
        ("a55a 01 00 0033 33 0000", "", "", "626f"),
        ReadImplantRequest(),
    ),
    _v(
        "READ_IMPLANT response",
        (
            "a55a 01 01 0033 33 0036",
            "01 05 4954422d31 00000a28 044c 0014 0000000063449900 04 502d3432 01"
            " 06 44722057686f 000007d0 05 4c4f542d37 000000006553efd4",
            "",
            "f6dd",
        ),
        ReadImplantResponse(
            recorded=True,
            implant=_IMPLANT,
            concentration_ug_per_ml=2000,
            drug_lot="LOT-7",
            last_refill_at_s=T0 - 300,
        ),
    ),
    _v(
        "SET_IMPLANT request",
        (
            "a55a 01 00 0034 34 0023",
            "05 4954422d31 00000a28 044c 0014 0000000063449900 04 502d3432 01 06 44722057686f",
            "",
            "1ebb",
        ),
        SetImplantRequest(implant=_IMPLANT),
    ),
    _v(
        "SET_IMPLANT response",
        (
            "a55a 01 01 0034 34 0023",
            "05 4954422d31 00000a28 044c 0014 0000000063449900 04 502d3432 01 06 44722057686f",
            "",
            "a65b",
        ),
        SetImplantResponse(implant=_IMPLANT),
    ),
    _v(
        "SET_ALARM_VOLUME request",
        ("a55a 01 00 0010 31 0004", "002dc6c0", "", "f831"),
        SetAlarmVolumeRequest(volume_nl=3_000_000),
    ),
    _v(
        "SET_ALARM_VOLUME response",
        ("a55a 01 01 0010 31 0004", "002dc6c0", "", "9774"),
        SetAlarmVolumeResponse(volume_nl=3_000_000),
    ),
    _v(
        "READ_ALARMS request",
        ("a55a 01 00 0011 40 0000", "", "", "3911"),
        ReadAlarmsRequest(),
    ),
    _v(
        "READ_ALARMS response",
        (
            "a55a 01 01 0011 40 0019",
            "02 04 02 000000006553f100 00 01 01 01 000000005f5e1000 01 01",
            "",
            "21f4",
        ),
        ReadAlarmsResponse(
            alarms=(
                AlarmRecord(
                    code=AlarmCode.EOS,
                    alarm_class=AlarmClass.CRITICAL,
                    raised_at_s=T0,
                    silenced=False,
                    condition_present=True,
                ),
                AlarmRecord(
                    code=AlarmCode.ERI,
                    alarm_class=AlarmClass.NON_CRITICAL,
                    raised_at_s=1_600_000_000,
                    silenced=True,
                    condition_present=True,
                ),
            )
        ),
    ),
    _v(
        "READ_ALARMS response (none)",
        ("a55a 01 01 0012 40 0001", "00", "", "d3f8"),
        ReadAlarmsResponse(alarms=()),
    ),
    _v(
        "SILENCE_ALARM request",
        ("a55a 01 00 0013 41 0001", "04", "", "f7f8"),
        SilenceAlarmRequest(code=AlarmCode.EOS),
    ),
    _v(
        "SILENCE_ALARM response",
        ("a55a 01 01 0013 41 0000", "", "", "a6e9"),
        SilenceAlarmResponse(),
    ),
    _v(
        "CLEAR_ALARM request",
        ("a55a 01 00 0014 42 0001", "00", "", "4b74"),
        ClearAlarmRequest(code=AlarmCode.LOW_RESERVOIR),
    ),
    _v(
        "CLEAR_ALARM response",
        ("a55a 01 01 0014 42 0000", "", "", "ae94"),
        ClearAlarmResponse(),
    ),
    _v(
        "READ_EVENT_LOG request",
        ("a55a 01 00 0015 50 0005", "00000064 20", "", "c857"),
        ReadEventLogRequest(first_index=100, max_count=32),
    ),
    _v(
        "READ_EVENT_LOG response",
        (
            "a55a 01 01 0015 50 001f",
            "000003e8 00000384 01 000003b6 000000006553f100 000c fffff1f0 00000000",
            "",
            "ef7a",
        ),
        ReadEventLogResponse(
            total_written=1000,
            overwritten=900,
            entries=(LogEntry(index=950, clock_s=T0, code=EventCode.CLOCK_SET, a=-3600, b=0),),
        ),
    ),
    _v(
        "READ_CLOCK request",
        ("a55a 01 00 0016 60 0000", "", "", "eefa"),
        ReadClockRequest(),
    ),
    _v(
        "READ_CLOCK response",
        ("a55a 01 01 0016 60 0008", "000000006553f100", "", "a299"),
        ReadClockResponse(clock_s=T0),
    ),
    _v(
        "SET_CLOCK request",
        ("a55a 01 00 0017 61 0008", "000000006b49d200", "", "7789"),
        SetClockRequest(clock_s=1_800_000_000),
    ),
    _v(
        "SET_CLOCK response",
        ("a55a 01 01 0017 61 0008", "000000006b49d200", "", "0ce8"),
        SetClockResponse(clock_s=1_800_000_000),
    ),
    _v(
        "READ_PATIENT_SETTINGS request",
        ("a55a 01 00 0018 70 0000", "", "", "0fc3"),
        ReadPatientSettingsRequest(),
    ),
    _v(
        "READ_PATIENT_SETTINGS response",
        ("a55a 01 01 0018 70 000e", "01 000061a8 00000258 00001c20 06", "", "e8c7"),
        ReadPatientSettingsResponse(enabled=True, **_PATIENT_SETTINGS),
    ),
    _v(
        "SET_PATIENT_SETTINGS request",
        ("a55a 01 00 0019 71 000e", "00 000061a8 00000258 00001c20 06", "", "46c6"),
        SetPatientSettingsRequest(enabled=False, **_PATIENT_SETTINGS),
    ),
    _v(
        "SET_PATIENT_SETTINGS response",
        ("a55a 01 01 0019 71 000e", "00 000061a8 00000258 00001c20 06", "", "7375"),
        SetPatientSettingsResponse(enabled=False, **_PATIENT_SETTINGS),
    ),
    _v(
        "PATIENT_DOSE request",
        ("a55a 01 00 001a 72 0000", "", "", "8ccb"),
        PatientDoseRequest(),
    ),
    _v(
        "PATIENT_DOSE response",
        (
            "a55a 01 01 001a 72 0019",
            "0000c350 000061a8 000000006553f358 03 0000000065540d20",
            "",
            "4e2e",
        ),
        PatientDoseResponse(
            dose_ng=50_000,
            volume_nl=25_000,
            ends_at_s=T0 + 600,
            doses_in_24h=3,
            next_allowed_at_s=T0 + 7200,
        ),
    ),
    _v(
        "NAK",
        ("a55a 01 01 001b 7f 0007", "07 7265706c6179", "", "c0c0"),
        Nak(code=ErrorCode.REPLAY, reason="replay"),
    ),
    _v(
        "NAK (empty reason)",
        ("a55a 01 01 001c 7f 0001", "08", "", "655f"),
        Nak(code=ErrorCode.FORBIDDEN, reason=""),
    ),
    _v(
        "NAK (MAC'd)",
        (
            "a55a 01 03 001d 7f 0008",
            "06 626164206d6163",
            "62b9ff5ce9bf00735caefb61d69e703f",
            "de2d",
        ),
        Nak(code=ErrorCode.BAD_MAC, reason="bad mac"),
    ),
    _v(
        "framing: RESPONSE|NOTIFY, unknown opcode 0x7E",
        ("a55a 01 05 1234 7e 0004", "deadbeef", "", "e9a6"),
        None,
    ),
    _v(
        "framing: SEQ 0xFFFF, opcode 0xFF",
        ("a55a 01 00 ffff ff 0000", "", "", "97c0"),
        None,
    ),
    _v(
        "framing: LEN 1024, the maximum",
        ("a55a 01 00 0000 55 0400", "5a" * 1024, "", "7f40"),
        None,
    ),
)
"""Every opcode's request and response, and the framing edge cases."""
