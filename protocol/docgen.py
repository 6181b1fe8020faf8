"""Generate docs/protocol.md from the schemas, the enums and the session rules.

``python -m protocol.docgen`` prints the document (``make docs`` writes it).
Every byte table comes from the construct schemas and the wire types of the
message dataclasses; every example frame is built by the real encoder and
MAC'd by the real session code, so the document cannot drift from the code
(a test fails when docs/protocol.md differs from this output).
"""

from __future__ import annotations

import enum
import inspect
import itertools
import zlib
from collections.abc import Iterable, Sequence

from construct import Construct, SizeofError

from protocol import frames, messages, session
from protocol.enums import (
    ALARM_CLASS,
    EVENT_PARAMS,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    AlarmClass,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Flags,
    Mode,
    Op,
    Origin,
    Role,
    StopReason,
    ValveModel,
)
from protocol.frames import encode_frame
from protocol.messages import (
    REGISTRY,
    AlarmRecord,
    ArrayOf,
    FlexStep,
    LogEntry,
    Message,
    PrescriptionSpec,
    Record,
    RecordWire,
    WireField,
    encode_payload,
    wire_fields,
)
from protocol.session import build_frame

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


_FLEX = PrescriptionSpec.flex(
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
            standard_concentrations_ug_per_ml=(500, 1000, 2000, 50),
            max_flex_steps=13,
            flex_step_granularity_min=15,
        ),
    ),
    Op.STATUS: (messages.StatusRequest(), _status_example()),
    Op.READ_PRESCRIPTION: (
        messages.ReadPrescriptionRequest(),
        messages.ReadPrescriptionResponse(
            prescription=_FLEX, checksum=messages.prescription_checksum(_FLEX)
        ),
    ),
    Op.STAGE_PRESCRIPTION: (
        messages.StagePrescriptionRequest(prescription=_FLEX),
        messages.StagePrescriptionResponse(checksum=messages.prescription_checksum(_FLEX)),
    ),
    Op.COMMIT_PRESCRIPTION: (
        messages.CommitPrescriptionRequest(checksum=messages.prescription_checksum(_FLEX)),
        messages.CommitPrescriptionResponse(checksum=messages.prescription_checksum(_FLEX)),
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
"""One example request and response per opcode, used for the example frames."""


# --- small formatting helpers ----------------------------------------------


def _join(parts: Sequence[str]) -> str:
    """Paragraphs apart by a blank line; consecutive bullets as one list."""
    out = parts[0] if parts else ""
    for before, part in itertools.pairwise(parts):
        bullets = before.startswith("* ") and part.startswith("* ")
        out += ("\n" if bullets else "\n\n") + part
    return out


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _hex(data: bytes, per_line: int = 32) -> str:
    lines = [data[i : i + per_line].hex(" ") for i in range(0, len(data), per_line)] or ["(none)"]
    return "```\n" + "\n".join(lines) + "\n```"


def _doc(obj: object) -> str:
    text = inspect.getdoc(obj) or ""
    return " ".join(text.split()).replace("``", "`")


def _member_doc(member: enum.Enum) -> str:
    """The docstring written under an enum member in enums.py (if any)."""
    source = inspect.getsource(type(member))
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{member.name} = ") and i + 1 < len(lines):
            following = lines[i + 1].strip()
            if not following.startswith('"""'):
                return ""
            text = [following]
            j = i + 1
            while not (text[-1].endswith('"""') and (len(text) > 1 or len(text[0]) > 3)):
                j += 1
                if j >= len(lines):
                    break
                text.append(lines[j].strip())
            return " ".join(text).strip('"').strip()  # a docstring over several lines, whole
    return ""


def _unit(spec: WireField) -> str:
    """The unit the field declares (none shown for enums, flags, text, bytes and records)."""
    if spec.unit is None or not spec.unit.numeric:
        return ""
    return spec.unit.wire


def _size(subcon: Construct) -> int | None:
    try:
        size: int = subcon.sizeof()
    except SizeofError:
        return None
    return size


def _record_table(record: type[Record]) -> str:
    rows = []
    offset: int | None = 0
    for spec in wire_fields(record):
        size = _size(spec.wire.subcon)
        notes = spec.doc
        wire = spec.wire
        if isinstance(wire, ArrayOf) and isinstance(wire.element, RecordWire):
            notes = f"{notes}; each is a {wire.element.record.__name__} (below)".lstrip("; ")
        rows.append(
            [
                "-" if offset is None else str(offset),
                "var" if size is None else str(size),
                f"`{spec.name}`",
                wire.doc_type,
                _unit(spec),
                notes,
            ]
        )
        offset = None if offset is None or size is None else offset + size
    if not rows:
        return "Empty payload (LEN = 0)."
    return _table(["offset", "size", "field", "type", "unit", "notes"], rows)


def _frame_for(message: Message, *, seq: int, key: bytes | None) -> bytes:
    frame = build_frame(
        response=message.response, seq=seq, op=message.op, payload=encode_payload(message), key=key
    )
    return encode_frame(frame)


# --- sections ----------------------------------------------------------------


def _framing() -> str:
    descriptions = {
        "sync": ("2", "SYNC", "`A5 5A`"),
        "ver": ("1", "VER", f"protocol version, `{PROTOCOL_VERSION:02X}`"),
        "flags": ("1", "FLAGS", "bit 0 RESPONSE, bit 1 MAC, bit 2 NOTIFY (reserved); others 0"),
        "seq": ("2", "SEQ", "u16; chosen by the programmer, a response carries its request's"),
        "op": ("1", "OP", "opcode"),
        "len": ("2", "LEN", f"u16 payload length, at most {MAX_PAYLOAD}"),
        "payload": ("LEN", "PAYLOAD", "the message (tables below)"),
        "mac": ("16", "MAC", "only when FLAGS has MAC: first 16 bytes of HMAC-SHA256"),
        "crc": ("2", "CRC", "CRC-16/CCITT-FALSE over VER .. end of MAC, u16"),
    }
    names = [frames.FRAME.subcons[0].name]
    names += [sc.name for sc in frames.FRAME_BODY.subcons] + [frames.FRAME.subcons[2].name]
    if set(names) != set(descriptions):  # the schema changed: the doc must follow
        raise RuntimeError(f"framing fields changed: {names}")
    rows = []
    offset: str = "0"
    for name in names:
        size, field, text = descriptions[name]
        rows.append([offset, size, field, text])
        offset = str(int(offset) + int(size)) if offset.isdigit() and size.isdigit() else ".."
    flag_rows = [
        [f"0x{int(flag):02X}", str(flag.name), _member_doc(flag)] for flag in Flags if flag
    ]
    example = build_frame(response=False, seq=0x0102, op=Op.STATUS, payload=b"", key=None)
    wire = encode_frame(example)
    parts = [
        "## Framing",
        "All integers on the wire are big-endian. A frame:",
        _table(["offset", "size", "field", "meaning"], rows),
        _table(["FLAGS bit", "name", "meaning"], flag_rows),
        "* The CRC is CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, "
        "no reflection, no final XOR (Python: `binascii.crc_hqx(data, 0xFFFF)`); "
        'the check value of `b"123456789"` is 0x29B1.',
        f"* A frame is at most {frames.MAX_FRAME_SIZE} bytes; "
        f"the shortest is {frames.MIN_FRAME_SIZE}.",
        "* A receiver hunts for SYNC. A bad VER, undefined FLAGS bits, LEN over "
        f"{MAX_PAYLOAD} or a CRC mismatch drops only the first SYNC byte and hunting "
        "resumes, so a corrupt frame never swallows the good frame behind it. "
        "A frame that fails its CRC gets no reply.",
        "* The pump's receiver abandons a partial frame after 0.5 s of silence on the "
        "link, and a partial frame that has not arrived whole within 1 s of its first "
        "byte (a sender trickling bytes): it drops that frame's first SYNC byte and "
        "hunts again through the bytes behind it, so a frame sent meanwhile is found.",
        "* A frame that passes its CRC but cannot be executed gets a NAK (OP 0x7F, "
        "the request's SEQ).",
        "Example: a STATUS request, SEQ 0x0102, no MAC:",
        _hex(wire),
        _table(
            ["bytes", "field"],
            [
                [wire[0:2].hex(" "), "SYNC"],
                [wire[2:3].hex(), "VER"],
                [wire[3:4].hex(), "FLAGS (none)"],
                [wire[4:6].hex(" "), "SEQ 0x0102"],
                [wire[6:7].hex(), "OP STATUS"],
                [wire[7:9].hex(" "), "LEN 0"],
                [wire[9:11].hex(" "), "CRC of `01 00 01 02 10 00 00`"],
            ],
        ),
    ]
    return _join(parts)


def _conventions() -> str:
    return _join(
        [
            "## Payload conventions",
            "* Integers are unsigned big-endian unless the type says `i32` (two's complement).",
            "* `u8 bool` is 0 or 1; any other value is malformed.",
            "* `uN Enum` carries the enum's value (tables at the end); an unknown value "
            "is malformed.",
            "* Times are the pump's clock, Unix seconds, u64. In fields typed "
            "`u64 (0 = none)` (forecasts) 0 means there is none.",
            "* `u16 AlarmCode bits`: bit n set means alarm code n.",
            "* `u8 length + utf8`: one length byte, then that many bytes of UTF-8.",
            "* `u8 count + X[count]`: one count byte, then that many X.",
            "* An offset `-` follows a field of variable size: the field starts right "
            "after the previous one.",
            "* Each field declares its unit (the `unit` column, from `protocol.units.Unit` "
            "in the field's metadata; the names follow it: `_nl` nanolitres, `_ng` nanograms "
            "(doses: 1 mcg = 1000 ng), `_ug_per_ml` micrograms (mcg) per mL, `_mm` "
            "millimetres, `_uc` microcoulombs, `_s` seconds, `_permille` thousandths). "
            "`s (Unix time)` is a pump-clock date, `min after midnight` a time of day, "
            "`count`, `index` and `crc32` are dimensionless.",
            "* Any payload that is short, has trailing bytes, or holds a value outside "
            "its type is refused with NAK MALFORMED.",
        ]
    )


def _roles_for(op: Op) -> str:
    return ", ".join(role.name.lower() for role in Role if op in session.ROLE_OPS[role])


def _opcode_summary() -> str:
    rows = []
    for op, command in REGISTRY.items():
        rows.append(
            [
                f"0x{int(op):02X}",
                f"[{op.name}](#{op.name.lower()})",
                "no" if op in (Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH, Op.NAK) else "yes",
                _roles_for(op) if op is not Op.NAK else "(pump only)",
                command.summary.replace("``", "`"),
            ]
        )
    return _join(
        [
            "## Opcodes",
            _table(["OP", "name", "needs a session", "roles", "what it does"], rows),
        ]
    )


def _commands() -> str:
    parts = ["## Commands"]
    seq = 0x0010
    for op, command in REGISTRY.items():
        request, response = EXAMPLES[op]
        parts.append(f"### {op.name}")
        parts.append(f"OP `0x{int(op):02X}`.")
        in_session = op not in (Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH)
        key = EXAMPLE_SESSION_KEY if in_session else None
        if op is Op.SESSION_AUTH:
            key = None  # the request is plain; its response is the first MAC'd frame
        if command.request is not None and request is not None:
            parts.append(f"**Request** (`{command.request.__name__}`): {_doc(command.request)}")
            parts.append(_record_table(command.request))
            parts.append("Example request frame:")
            parts.append(_hex(_frame_for(request, seq=seq, key=key)))
        parts.append(f"**Response** (`{command.response.__name__}`): {_doc(command.response)}")
        parts.append(_record_table(command.response))
        response_key = EXAMPLE_SESSION_KEY if op is Op.SESSION_AUTH else key
        parts.append("Example response frame:")
        parts.append(_hex(_frame_for(response, seq=seq, key=response_key)))
        seq += 1
    parts.append(
        "Example frames inside a session carry the MAC computed with the example "
        "session key of the [handshake example](#handshake); those outside it carry none."
    )
    return _join(parts)


def _records() -> str:
    parts = ["## Nested structures"]
    parts.append("### Prescription")
    parts.append(_doc(PrescriptionSpec))
    parts.append(
        _table(
            ["mode (u8), then `concentration_ug_per_ml` (u32)", "followed by"],
            [
                [f"{int(Mode.SIMPLE)} SIMPLE", "`dose_ng_per_day` u32 (ng/day)"],
                [
                    f"{int(Mode.FLEX)} FLEX",
                    "`weekly` u8 bool (0: one profile for every day, 1: seven, Monday "
                    "first); `profiles`: u8 count, then per profile a u8 count of "
                    "FlexStep (1..13)",
                ],
                [f"{int(Mode.MINIMUM_RATE)} MINIMUM_RATE", "nothing"],
                [f"{int(Mode.STOPPED)} STOPPED", "nothing"],
            ],
        )
    )
    parts.append(
        "The prescription checksum (STAGE, COMMIT, READ_PRESCRIPTION, STATUS) is "
        "`zlib.crc32` (CRC-32/ISO-HDLC) of these prescription bytes."
    )
    example = messages.encode_prescription(_FLEX)
    parts.append(
        "Example: FLEX of 2000 mcg/mL, one profile, steps 00:00 120 mcg/day, 08:00 "
        "200 mcg/day, 20:00 120 mcg/day (160 mcg/day in all); checksum "
        f"0x{messages.prescription_checksum(_FLEX):08X}:"
    )
    parts.append(_hex(example))
    for record in (FlexStep, messages.DoseGrant, messages.ImplantFields, AlarmRecord, LogEntry):
        parts.append(f"### {record.__name__}")
        parts.append(_doc(record))
        parts.append(_record_table(record))
    return _join(parts)


_SESSION_NAKS = (
    "MALFORMED, NO_SESSION, SESSION_EXPIRED, SESSION_DISPLACED, BAD_MAC, REPLAY, FORBIDDEN, "
    "LOCKED_OUT; a request that changes the pump also STORAGE_FAILED (the change could not be "
    "made durable, so it was not made)"
)

COMMAND_NAKS: dict[Op, tuple[ErrorCode, ...]] = {
    Op.STAGE_PRESCRIPTION: (ErrorCode.CONCENTRATION_MISMATCH, ErrorCode.OUT_OF_RANGE),
    Op.COMMIT_PRESCRIPTION: (
        ErrorCode.INVALID_STATE,
        ErrorCode.CHECKSUM_MISMATCH,
        ErrorCode.CONCENTRATION_MISMATCH,
        ErrorCode.OUT_OF_RANGE,
    ),
    Op.START_BOLUS: (ErrorCode.PUMP_HALTED, ErrorCode.INVALID_STATE, ErrorCode.OUT_OF_RANGE),
    Op.CANCEL_BOLUS: (ErrorCode.INVALID_STATE,),
    Op.STOP_PUMP: (ErrorCode.INVALID_STATE,),
    Op.RESUME_PUMP: (ErrorCode.INVALID_STATE,),
    Op.CANCEL_BRIDGE: (ErrorCode.INVALID_STATE,),
    Op.RESET_VALVE: (ErrorCode.INVALID_STATE,),
    Op.STAGE_REFILL: (
        ErrorCode.OUT_OF_RANGE,
        ErrorCode.CONCENTRATION_MISMATCH,
        ErrorCode.INVALID_STATE,
        ErrorCode.OVERFILL,
    ),
    Op.COMMIT_REFILL: (
        ErrorCode.INVALID_STATE,
        ErrorCode.CHECKSUM_MISMATCH,
        ErrorCode.OUT_OF_RANGE,
    ),
    Op.SET_ALARM_VOLUME: (ErrorCode.OUT_OF_RANGE,),
    Op.SILENCE_ALARM: (ErrorCode.INVALID_STATE,),
    Op.CLEAR_ALARM: (ErrorCode.INVALID_STATE, ErrorCode.CONDITION_PERSISTS),
    Op.SET_CLOCK: (ErrorCode.OUT_OF_RANGE,),
    Op.SET_PATIENT_SETTINGS: (ErrorCode.OUT_OF_RANGE,),
    Op.PATIENT_DOSE: (
        ErrorCode.NOT_ENABLED,
        ErrorCode.PUMP_HALTED,
        ErrorCode.INVALID_STATE,
        ErrorCode.PATIENT_DOSE_LOCKOUT,
        ErrorCode.PATIENT_DOSE_LIMIT,
        ErrorCode.OUT_OF_RANGE,
    ),
}
"""The refusals each command can get from the pump itself, beyond the session's (tested
against the pump in tests/protocol/test_documented_refusals.py)."""


def _nak_table() -> str:
    rows = []
    for op in REGISTRY:
        if op in (Op.NAK, Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH):
            continue
        own = ", ".join(code.name for code in COMMAND_NAKS.get(op, ())) or "none"
        rows.append([op.name, own])
    return _table(["request", "refusals from the pump (besides the session's)"], rows)


def _therapy() -> str:
    transitions = [
        ["running (SIMPLE, FLEX, MINIMUM_RATE)", "STOP_PUMP", "STOPPED (stop_reason set)"],
        ["STOPPED by STOP_PUMP", "RESUME_PUMP", "the mode that was running"],
        [
            "STOPPED by STOP_PUMP",
            "COMMIT_PRESCRIPTION",
            "still STOPPED (the new one runs on RESUME_PUMP)",
        ],
        ["running", "COMMIT_PRESCRIPTION of STOPPED", "STOPPED (stop_reason NONE)"],
        ["STOPPED prescription", "COMMIT_PRESCRIPTION of another mode", "that mode"],
        ["STOPPED prescription", "RESUME_PUMP", "refused: INVALID_STATE"],
        ["any", "STOP_PUMP while STOPPED", "refused: INVALID_STATE"],
        [
            "any (a STOP_PUMP included)",
            "low battery reset (a fault)",
            "MINIMUM_RATE, LOW_BATTERY_RESET raised until a prescription is committed",
        ],
    ]
    return _join(
        [
            "## Therapy rules",
            "### Doses, drug and rates",
            "* A prescription is a **dose of the drug in the pump**: doses in ng/day "
            "(shown as mcg/day), and the concentration it is for. STAGE_PRESCRIPTION and "
            "COMMIT_PRESCRIPTION refuse a prescription naming another concentration than "
            "the drug in the reservoir with CONCENTRATION_MISMATCH; so a dose is never run "
            "at the wrong strength.",
            "* The pump runs a dose as the volume rate `round(dose_ng_per_day * 1000 / "
            "concentration_ug_per_ml)` nL/day (to the nearest nL/day, halves up); a bolus "
            "or patient dose of `dose_ng` is `round(dose_ng * 1000 / concentration)` nL. "
            "Every rate must lie within DEVICE_INFO's `min_rate_nl_per_day` .. "
            "`max_rate_nl_per_day` (OUT_OF_RANGE names the step and the rate). "
            "MINIMUM_RATE runs `minimum_mode_rate_nl_per_day` whatever the drug.",
            "* Flex steps follow the pump clock's UTC time of day; weekday 0 is Monday. "
            "Steps start on multiples of 15 min, at most 13 a day.",
            "* Basal volume is integrated exactly: at `r` nL/day the volume commanded "
            "from `t0` is `floor((basal_remainder + r * (t - t0)) / 86400)` nL, the "
            "remainder carrying over rate changes (STATUS reports it). A bolus of `V` nL "
            "over `D` s has delivered `floor(V * e / D)` nL after `e` s and replaces the "
            "basal rate while it runs.",
            "### Stopped, delivering, halted",
            "* STATUS `mode` is STOPPED while the clinician has stopped therapy: "
            "STOP_PUMP (then `stop_reason` says why) or a committed STOPPED prescription "
            "(`stop_reason` NONE). `delivering` is 1 only while drug moves: never while "
            "STOPPED, and 0 while a fault halts delivery, each fault in `halted_by` "
            "(EMPTY_RESERVOIR, EOS, MOTOR_STALL, MEMORY_CRITICAL). A fault ends by itself "
            "(a refill, a motor that turns again) or by CLEAR_ALARM (memory errors) and "
            "delivery resumes without any change of mode. Stopping or a halt cancels a "
            "running bolus.",
            _table(["from", "event", "to"], transitions),
            "### Boluses",
            "* THERAPEUTIC: a dose over a duration between the time the maximum rate "
            "needs and `max_bolus_duration_s`; PRIMING: a volume at the maximum rate, the "
            "only bolus that runs there (drug and catheter fluid mix at that rate). "
            "Refused while stopped, halted (PUMP_HALTED), with a bolus running, or when "
            "the reservoir cannot deliver the volume before its empty threshold. The "
            "basal schedule resumes when a bolus ends.",
            "* Patient doses (PATIENT_DOSE): at least `lockout_s` after the last grant "
            "and at most `max_per_24h` in any trailing 24 h. The lockout and the 24 h run "
            "on the pump's model time (setting its clock cannot shorten them); boluses "
            "too run on pump time.",
            "### Refill: one transaction",
            "* STAGE_REFILL carries everything: what was drawn out (the reservoir is "
            "emptied completely), what was added and its concentration and lot, the "
            "prescription to run on the new drug (it must name the new concentration: "
            "else CONCENTRATION_MISMATCH) and `bridge`. It checks all of it and changes "
            "nothing; its response gives the checksum, `zlib.crc32` of the request's "
            "payload. COMMIT_REFILL with that checksum applies all of it in one step: "
            "there is never a moment where the old rate runs on the new drug. To keep the "
            "dose, send the current prescription with the new concentration. A refill "
            "that changes the concentration while a bridge runs is refused "
            "(INVALID_STATE), and so is `bridge` 1 without a change or without an "
            "implant record. A staged refill or prescription dies with its session.",
            "* The refill empties the reservoir completely (the needle draws out all that is "
            "left): afterwards it holds exactly `added_nl`, and OVERFILL refuses `added_nl` "
            "over the capacity. `discrepancy_nl` = removed - expected; it is flagged over "
            "1 mL (20 mL model) or 2 mL (40 mL model): less than expected may mean "
            "over-delivery or a pocket fill, more a stall or under-delivery. The refill clears "
            "LOW_RESERVOIR and EMPTY_RESERVOIR by itself when the new volume is above "
            "their thresholds.",
            "### The bridge",
            "* After a refill that changes the concentration, the tubing and catheter "
            "still hold the old drug. With `bridge` 1 the pump runs the NEW prescription "
            "(its doses, boluses and patient doses in mcg) computed at the OLD "
            "concentration (STATUS `bridge_concentration_ug_per_ml`) until the volume "
            "commanded since the refill reaches the dead volume; from that second on, "
            "rates use the new concentration, just as the new drug reaches the catheter "
            "tip. A dose bolus running at that second delivers the rest of its dose as "
            "new drug over the time it had left. The patient receives the prescribed "
            "mcg throughout. It is never a push at the maximum rate.",
            "* Dead volume = `tubing_volume_nl` (DEVICE_INFO) + catheter length x "
            "`catheter_volume_nl_per_cm` of the implant record, using length - "
            "uncertainty when the concentration rises and length + uncertainty when it "
            "falls (both err towards underdose), rounded up to whole nL.",
            "* STATUS `bridge_remaining_nl` is the volume still to go and "
            "`bridge_ends_at_s` its forecast end, recomputed after any extra delivery "
            "(a bolus, a patient dose) and, like every forecast, assuming patient doses "
            "taken at their maximum (so with patient doses enabled it is the earliest "
            "end). The bridge ends on the first whole second the dead volume is reached. "
            "CANCEL_BRIDGE ends it at once. BRIDGE_STARTED, "
            "BRIDGE_ENDED and BRIDGE_CANCELLED are logged. For a simple dose the bridge "
            "lasts dead volume x old concentration / new dose: 0.33 mL of 500 mcg/mL at "
            "100 mcg/day is 142,560 s (1.65 days).",
            "### Implant record",
            "* SET_IMPLANT stores the clinician's record of the implant (catheter model, "
            "its volume per cm, length and uncertainty, implant date, patient identifier, "
            "origin of the spasticity, physician); READ_IMPLANT returns it with the drug "
            "in the pump (concentration, lot, last refill). Bridge volumes come from it. "
            "It is the clinician's record: an emulator may model a different true "
            "catheter.",
            "### Forecasts",
            "* Every `*_at_s` in STATUS is pump clock. `low_reservoir_alarm_at_s` is the "
            "first second the reservoir estimate reaches `alarm_volume_nl`, `empty_at_s` "
            "the empty threshold, integrated over the real plan: the running bolus, the "
            "flex steps, the bridge and its switch, and patient doses assumed taken at "
            "their maximum (each as soon as the lockout and the 24 h maximum allow, from "
            "now, counting `recent_doses`). `eri_at_s` is the first second the battery "
            "charge falls below `ceil(eri_lead_s x mean drain)`, the mean drain being "
            "the quiescent drain plus the prescription's weekly mean volume (at the drug "
            "in the reservoir) x `battery_drain_uc_per_nl`; the charge drops by "
            "`battery_quiescent_drain_uc_per_s` every second and `battery_drain_uc_per_nl` "
            "per nL commanded, and by `battery_telemetry_drain_uc_per_s` x "
            "`telemetry_s_per_frame` for each frame the pump answers (charged before the "
            "answer, so a STATUS includes its own cost). A forecast beyond "
            "`forecast_horizon_s` is 0 (none); one already reached is the STATUS's "
            "`clock_s`. While delivery is stopped or halted nothing moves, so the "
            "low-reservoir, empty and bridge-end forecasts are 0 (none) until it resumes, "
            "and the ERI date counts the quiescent drain alone.",
            "* A programmer that runs this arithmetic on one STATUS (with READ_PRESCRIPTION "
            "for the checksum it reports, READ_PATIENT_SETTINGS and DEVICE_INFO) gets the "
            "same seconds; the reference implementation is `protocol.forecast."
            "dates_from_status`.",
            "### MRI and interrogations",
            "* In an MRI scanner's field the rotor of the default pump stops: STATUS shows "
            "MOTOR_STALL in `halted_by` and the alarm, `delivering` 0, and MOTOR_STALL is "
            "logged. Out of the field the motor may turn at once or after a recovery delay "
            "(pump time). If the pump went into telemetry mode, infusion waits for an "
            "interrogation: **every successful SESSION_AUTH (either role) is an "
            "interrogation** and ends that wait. STALL_RECOVERY (its `a` the stall's "
            "seconds) may be logged only at the second interrogation after the scan.",
            "* A valve pump (READ_VALVE, either role, names the model) has no rotor: the "
            "original valve model discharges its whole reservoir through the catheter at once"
            " on entering the field (it cannot tell: its reservoir estimate does not move), "
            "so it is emptied before an MRI; the flow-activated model lets about 10 uL "
            "through, closes (VALVE_CLOSED logged, `delivering` 0, no alarm) and delivers "
            "nothing until RESET_VALVE (VALVE_RESET logged with the seconds it was closed); "
            "while it is closed START_BOLUS and PATIENT_DOSE are refused with INVALID_STATE "
            "(a refused patient dose is logged PATIENT_DOSE_REFUSED), and RESET_VALVE on an "
            "open valve or a pump without one is refused with INVALID_STATE.",
            "* READ_DELIVERY (either role) says whether drug moves, since which pump-clock "
            "second, and the last refill: with STATUS, what an emergency department needs "
            "from one interrogation.",
            "### Alarms that clear themselves",
            "* LOW_RESERVOIR, EMPTY_RESERVOIR, ERI, EOS, MOTOR_STALL (a stall recovery) "
            "and LOW_BATTERY_RESET (a committed prescription) clear themselves when their "
            "condition ends (logged ALARM_CLEARED); CLEAR_ALARM on them while the "
            "condition persists is refused with CONDITION_PERSISTS. Memory errors are "
            "latched until CLEAR_ALARM.",
            "### Refusals per request",
            f"Every request in a session can also get the session's refusals ({_SESSION_NAKS})"
            " and INTERNAL (a defect). A refusal changes nothing.",
            _nak_table(),
        ]
    )


def _enum_table(cls: type[enum.IntEnum], extra: dict[str, list[str]] | None = None) -> str:
    header = ["value", "name", "meaning", *(extra or {})]
    rows = []
    for member in cls:
        row = [f"{int(member)} (0x{int(member):02X})", member.name, _member_doc(member)]
        for column in (extra or {}).values():
            row.append(column[list(cls).index(member)])
        rows.append(row)
    return _table(header, rows)


def _enums() -> str:
    parts = ["## Codes"]
    parts.append("### Error codes (NAK)")
    parts.append(
        "A NAK payload is the error code (u8) then a UTF-8 reason (at most 200 bytes) to "
        "the end of the payload."
    )
    parts.append(_enum_table(ErrorCode))
    for cls in (Role, Mode, BolusKind, StopReason, AlarmClass):
        parts.append(f"### {cls.__name__}")
        if cls.__doc__:
            parts.append(_doc(cls))
        parts.append(_enum_table(cls))
    parts.append("### AlarmCode")
    parts.append(_doc(AlarmCode))
    parts.append(_enum_table(AlarmCode, {"class": [ALARM_CLASS[c].name for c in AlarmCode]}))
    parts.append("### EventCode")
    parts.append(_doc(EventCode))
    parts.append(
        _enum_table(
            EventCode,
            {
                "a": [EVENT_PARAMS[c][0] for c in EventCode],
                "b": [EVENT_PARAMS[c][1] for c in EventCode],
            },
        )
    )
    return _join(parts)


def _handshake() -> str:
    role = Role.CLINICIAN
    first_seq = 1
    open_request, open_response = EXAMPLES[Op.SESSION_OPEN]
    auth_request, auth_response = EXAMPLES[Op.SESSION_AUTH]
    assert open_request is not None and auth_request is not None
    steps = [
        ("1. programmer -> pump, SESSION_OPEN, no MAC", open_request, first_seq, None),
        ("2. pump -> programmer, SESSION_OPEN response, no MAC", open_response, first_seq, None),
        ("3. programmer -> pump, SESSION_AUTH, no MAC", auth_request, first_seq + 1, None),
        (
            "4. pump -> programmer, SESSION_AUTH response, the first MAC'd frame",
            auth_response,
            first_seq + 1,
            EXAMPLE_SESSION_KEY,
        ),
    ]
    status = messages.StatusRequest()
    parts = [
        "## Handshake",
        "Every command except DEVICE_INFO needs a session, opened by mutual "
        "challenge-response. The pump holds one 32-byte key K per role; a session "
        "opens in one role with that role's key. Both sides pick a fresh random "
        "16-byte nonce: `cn` (programmer) and `pn` (pump). `role` below is the role's "
        "single byte; HMAC is HMAC-SHA256; `+` concatenates.",
        _table(
            ["value", "definition"],
            [
                ["pump_proof", "HMAC(K, `vpump/pump` + role + cn + pn)"],
                ["client_proof", "HMAC(K, `vpump/prog` + role + pn + cn)"],
                ["session key", "HMAC(K, `vpump/session` + role + cn + pn)"],
                ["MAC of a frame", "first 16 bytes of HMAC(session key, VER .. end of PAYLOAD)"],
            ],
        ),
        "1. The programmer sends SESSION_OPEN {role, cn}.\n"
        "2. The pump answers {pn, pump_proof}.\n"
        "3. The programmer checks pump_proof: if it does not verify, the pump is fake "
        "(or the key is wrong) and the programmer stops. Otherwise it sends "
        "SESSION_AUTH {client_proof}.\n"
        "4. The pump checks client_proof (AUTH_FAILED if it does not verify; every "
        "attempt then needs a new SESSION_OPEN) and answers {role, idle_timeout_s}, "
        "MAC'd with the session key. From here on every frame both ways carries the MAC.",
        "Worked example (clinician role). Role key K = "
        f"`{EXAMPLE_ROLE_KEY.hex()}`, cn = `{EXAMPLE_CLIENT_NONCE.hex()}`, "
        f"pn = `{EXAMPLE_PUMP_NONCE.hex()}`, so the session key is "
        f"`{EXAMPLE_SESSION_KEY.hex()}`.",
    ]
    for title, message, seq, key in steps:
        parts.append(f"{title} (SEQ {seq}):")
        parts.append(_hex(_frame_for(message, seq=seq, key=key)))
    parts.append("Then a STATUS request, MAC'd (SEQ 3):")
    parts.append(_hex(_frame_for(status, seq=first_seq + 2, key=EXAMPLE_SESSION_KEY)))
    _ = role
    return _join(parts)


def _security() -> str:
    transitions = [
        [state.name, event.value, after.name]
        for (state, event), after in session.DEVICE_TRANSITIONS.items()
    ]
    role_rows = [
        [
            op.name,
            "yes" if op in session.ROLE_OPS[Role.CLINICIAN] else "no",
            "yes" if op in session.ROLE_OPS[Role.PATIENT] else "no",
        ]
        for op in Op
        if op is not Op.NAK
    ]
    return _join(
        [
            "## Security rules",
            "* **MAC.** After the handshake every frame in both directions sets FLAGS "
            "MAC and carries the MAC. A MAC'd request whose MAC does not verify gets "
            "BAD_MAC and is not executed. A command sent without MAC is refused with "
            "NO_SESSION, even inside a session. The only answers to a MAC'd request "
            "without a MAC are NAKs with NO_SESSION, SESSION_EXPIRED or LOCKED_OUT "
            "(the pump holds no session key then); the programmer must then open a "
            "new session.",
            "* **SEQ.** Each new request in a session carries a SEQ greater than the "
            "last one the pump answered (the SESSION_AUTH's SEQ is the first). SEQ "
            "never wraps: after 0xFFFF the programmer must open a new session. Any "
            "other SEQ that does not move forward is refused with REPLAY.",
            "* **Retransmission.** An exact retransmission of the last answered "
            "request (same SEQ, identical bytes) gets the cached response, byte for "
            "byte, and is not executed again: a retried bolus is delivered once. "
            "A programmer that times out resends the same bytes.",
            "* **Roles.** The table below says which role may use each opcode; "
            "anything else is refused with FORBIDDEN.",
            f"* **Idle timeout.** A request arriving `idle_timeout_s` (default "
            f"{int(session.DEFAULT_IDLE_TIMEOUT_S)} s, sent in the SESSION_AUTH response) "
            "or more after the last accepted request finds the session expired: "
            "SESSION_EXPIRED.",
            "* **Back-off (the lockout), per link.** Bad handshake proofs and bad MACs "
            "count as failures of the link (one pty, one TCP connection, one in-process "
            "port) they arrive on. The first "
            f"{session.DEFAULT_MAX_FAILURES - 1} are answered with their own code "
            "(AUTH_FAILED, BAD_MAC); each further one makes that link back off, for "
            f"{int(session.DEFAULT_BACKOFF_FIRST_S)} s, doubling every time up to "
            f"{int(session.DEFAULT_LOCKOUT_S)} s (so at most 5 tries a minute once it "
            "backs off, then one per 5 minutes). While a link backs off, everything on "
            "it except DEVICE_INFO gets LOCKED_OUT with the seconds left in the reason "
            "(not counted), and its own session ends. A successful handshake, or "
            f"{int(2 * session.DEFAULT_LOCKOUT_S)} s without a failure, forgives the "
            f"link. While the pump has seen {session.DEFAULT_PRESSURE_FAILURES} "
            f"failures (on any links) within {int(session.DEFAULT_LOCKOUT_S)} s, a link "
            "gets no free failures: its first one starts its back-off; and once "
            f"{session.DEFAULT_GATE_AFTER} links that never completed a handshake have "
            f"failed so within {int(session.DEFAULT_LOCKOUT_S)} s (a churn of new links, one "
            "per guess), each further one makes the next such link's SESSION_OPEN get "
            f"LOCKED_OUT for {int(session.DEFAULT_BACKOFF_FIRST_S)} s, so opening a new link "
            "per guess buys no more guesses (a programmer opening a new link while someone "
            "churns links may have to retry; a session already open is never touched). "
            "Failures on one link never end, "
            "refuse or delay a session or a handshake on another link: a clinician can "
            "always stop the pump or cancel a bolus, whatever anyone without the key sends.",
            "* **Security events in the log** are aggregated: a SECURITY entry is written "
            "only when none with the same error code was written in the last hour (of link "
            "time) and the log's trailing run of SECURITY entries holds none with that code; "
            "repeats are counted, not written. So an attack adds at most one entry per error "
            "code an hour, never more than one per code between two other entries, and no "
            "flood of refusals can push therapy history out of the ring.",
            "* **Starting over.** A new SESSION_OPEN ends any session on the link. Frames "
            "MAC'd with the replaced session's key get SESSION_DISPLACED, MAC'd with that "
            "key (so the displaced programmer can trust it); it is never counted as a "
            "failure. The displaced programmer opens a new session.",
            "* **Clocks.** Link timers run on the link's real (monotonic) time, because "
            "they guard a conversation: the idle timeout, the back-off and its forgiveness, "
            "the pressure window, the aggregation of SECURITY entries, and the "
            "0.5 s receive silence and frame-arrival bound that drop a partial frame. "
            "Therapy timers run on pump time (which an emulator may scale, pause or "
            "step): bolus durations, the patient-dose lockout and 24-hour count, alarm "
            "crossings, the event log's timestamps.",
            "* **Refusals are answers.** Once a MAC'd request passed its MAC and SEQ "
            "checks, its answer (success or NAK) is the one cached for retransmits.",
            "* **DEVICE_INFO** without MAC is answered in every state, back-off "
            "included, and does not touch the session.",
            "* **Frames that are not requests** (FLAGS RESPONSE or NOTIFY) sent to the "
            "pump are ignored.",
            "### Roles",
            _table(["OP", "clinician", "patient"], role_rows),
            "### Session states at the pump",
            "One state machine per link; LOCKED means this link backs off. A pair not "
            "listed is refused: SESSION_AUTH outside OPENING gets BAD_HANDSHAKE, a MAC'd "
            "command outside ESTABLISHED NO_SESSION (SESSION_EXPIRED after an idle "
            "timeout, SESSION_DISPLACED when MAC'd for a replaced session), anything in "
            "LOCKED LOCKED_OUT.",
            _table(["state", "event", "next state"], transitions),
        ]
    )


def _tools() -> str:
    """How programmers in other languages, and Wireshark, get the wire (generated files)."""
    return _join(
        [
            "## Parsers for other languages, and Wireshark",
            "Two more files are generated from the same schemas by `make docs` (a test fails "
            "when either is stale) and ship in the wheel beside the demo key:",
            "* `protocol/data/vpump.ksy`: a [Kaitai Struct](https://kaitai.io) description of "
            "the framing and every payload (type `frame`; the payload is typed by OP and the "
            "RESPONSE flag, the prescription by its mode; enums named as here). "
            "`make kaitai` compiles it with `kaitai-struct-compiler` into "
            "`build/kaitai/{csharp,java,cpp_stl,javascript}/`; `make test` compiles it to "
            "Python and to JavaScript and parses every golden vector with both (the latter on "
            "node with the npm runtime `kaitai-struct`).",
            "* `protocol/data/vpump.lua`: a Wireshark dissector for pcapng captures "
            "(`pump-emulator serve --capture-pcap FILE`); see `docs/wireshark.md`.",
            "**A C# team** (a Windows or .NET MAUI programmer) adds `VpumpWire.cs` to its "
            "project with the Kaitai runtime from NuGet (`KaitaiStruct.Runtime.CSharp`, "
            "the version matching the compiler, 0.11), then reads a frame from the bytes "
            "its serial port delivered:",
            "```csharp\n"
            "var wire = new VpumpWire(new KaitaiStream(bytes));   // frames back to back\n"
            "foreach (var frame in wire.Frames) {\n"
            "    if (frame.Opcode == VpumpWire.Op.Status && frame.IsResponse) {\n"
            "        var status = (VpumpWire.StatusResponse) frame.Payload;\n"
            '        Console.WriteLine($"{status.ReservoirNl} nL left");\n'
            "    }\n"
            "}\n"
            "```",
            "**A Java or Kotlin team** (an Android tablet programmer) adds `VpumpWire.java` "
            "(package it as it likes with the compiler's `--java-package`, or move the file) "
            "and the runtime `io.kaitai:kaitai-struct-runtime:0.11` from Maven Central:",
            "```java\n"
            "VpumpWire wire = new VpumpWire(new ByteBufferKaitaiStream(bytes));\n"
            "for (VpumpWire.Frame frame : wire.frames()) {\n"
            "    if (frame.opcode() == VpumpWire.Op.STATUS && frame.isResponse()) {\n"
            "        var status = (VpumpWire.StatusResponse) frame.payload();\n"
            '        System.out.println(status.reservoirNl() + " nL left");\n'
            "    }\n"
            "}\n"
            "```",
            "The generated parsers *read*; they do not check what Kaitai cannot express. "
            "Check the CRC yourself (CRC-16/CCITT-FALSE over `frame.crc_input`, compare with "
            "`frame.crc`) and the MAC with the session key (HMAC-SHA256 over VER..PAYLOAD, "
            "first 16 bytes), as [Framing](#framing) and [Handshake](#handshake) describe; "
            "a frame that fails either must be dropped. Building frames, the handshake and "
            "the sequence rules stay yours: the golden vectors in `tests/protocol/vectors.py` "
            "are the bytes to test against. Unknown opcodes and messages without fields "
            "leave `payload` as raw bytes.",
        ]
    )


def generate() -> str:
    """The whole of docs/protocol.md."""
    intro = _join(
        [
            "# vpump telemetry protocol",
            "<!-- Generated by `python -m protocol.docgen` (run `make docs`); do not edit. -->",
            "The byte-level protocol between a clinician (or patient) programmer and "
            "the vpump implantable pump: framing, every command, the session "
            "handshake and the security rules. Everything here is generated from the "
            "construct schemas and enums of the `protocol` package, and every example "
            "frame is built by its encoder, so the document and the code cannot differ.",
            "Contents: [Framing](#framing), [Payload conventions](#payload-conventions), "
            "[Opcodes](#opcodes), [Commands](#commands), "
            "[Nested structures](#nested-structures), [Therapy rules](#therapy-rules), "
            "[Handshake](#handshake), "
            "[Security rules](#security-rules), [Codes](#codes), [Parsers for other "
            "languages, and Wireshark](#parsers-for-other-languages-and-wireshark).",
        ]
    )
    sections = [
        intro,
        _framing(),
        _conventions(),
        _opcode_summary(),
        _commands(),
        _records(),
        _therapy(),
        _handshake(),
        _security(),
        _enums(),
        _tools(),
    ]
    return _join(sections) + "\n"


def main() -> int:
    """Print the document to stdout."""
    print(generate(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
