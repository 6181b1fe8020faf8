"""The recorder: a captured programming session turned into a scenario file that replays it.

``pump-emulator record CAPTURE -o visit.scenario.yaml`` reads a capture of any
session with a pump (``pump-emulator serve --capture FILE`` as JSON lines, or
``--capture-pcap FILE`` as pcapng; pumpctl, the clinician programmer or a
third-party programmer on the other end), decodes it with the session keys
(the demo key unless ``--keys``) and writes a scenario that:

* starts the pump as the session first found it: the first STATUS answer
  gives the start time, model, reservoir, concentration, battery and alarm
  volume; READ_PRESCRIPTION (or STATUS, for a simple dose), READ_IMPLANT and
  DEVICE_INFO give the prescription, the implant record and the serial;
* sends the decoded commands again at their recorded pump times
  (``advance: {until: start + ...}`` before each), as scenario steps:
  STAGE/COMMIT_PRESCRIPTION as ``program``, STAGE/COMMIT_REFILL as one
  ``refill``, START_BOLUS as ``bolus`` and so on; a command the pump refused
  carries ``expect_error`` with its NAK code; a new clinician session is a
  ``connect`` step;
* asserts the clinical fields of the decoded answers, with times relative to
  the start: each STATUS becomes an ``interrogate`` and an ``expect`` of the
  reservoir, doses, rates, alarms, mode and forecast dates; a refill's
  reconciliation is checked in the ``refill`` step itself.

Sessions use fresh nonces and MACs, so the replay never resends bytes: its
programmer authenticates anew and the scenario runner builds the frames.
Read-only requests other than STATUS and READ_PRESCRIPTION are covered by
``interrogate``; commands the format cannot express (SET_CLOCK) and requests
that got no answer are listed as comments at the top of the file.

In a pcapng capture the pump clock is not stored: it is taken from the
pump's own answers (STATUS and READ_CLOCK carry it), relative to the packet
time stamps; a clock moved by hand between two such answers (a manual clock
advanced in the middle of a session) cannot be seen there, so record with
``--capture`` (JSON lines carry the pump clock with every chunk) when the
session's pump time jumps.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

from emulator.capture import Chunk, Direction, read_capture
from emulator.decode import Decoder, FrameEvent
from emulator.errors import EmulatorUsageError
from emulator.scenarios.units import Kind, format_quantity
from protocol.enums import Mode, Op, Role
from protocol.keys import DEMO_KEY_FILE, KeyFileError, load_keys
from protocol.messages import (
    ClearAlarmRequest,
    CommitRefillResponse,
    DeviceInfoResponse,
    FlexStep,
    ImplantFields,
    Message,
    Nak,
    PatientSettingsFields,
    PrescriptionSpec,
    ReadClockResponse,
    ReadImplantResponse,
    ReadPrescriptionResponse,
    SessionAuthResponse,
    SetAlarmVolumeRequest,
    SetImplantRequest,
    SilenceAlarmRequest,
    StagePrescriptionRequest,
    StageRefillRequest,
    StageRefillResponse,
    StartBolusRequest,
    StatusResponse,
    StopPumpRequest,
)

__all__ = ["RecorderError", "Recording", "read_chunks", "record", "record_file"]

READ_ONLY = frozenset(
    {
        Op.DEVICE_INFO,
        Op.LIMITS,
        Op.STATUS,
        Op.READ_PRESCRIPTION,
        Op.READ_DELIVERY,
        Op.READ_IMPLANT,
        Op.READ_ALARMS,
        Op.READ_EVENT_LOG,
        Op.READ_CLOCK,
        Op.READ_PATIENT_SETTINGS,
    }
)
"""Requests that change nothing at the pump: the replay's ``interrogate`` covers them."""
SESSION_OPS = frozenset({Op.SESSION_OPEN, Op.SESSION_AUTH, Op.SESSION_CLOSE})
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

VOLUME_TOLERANCE = "0.00001 mL"
"""A recorded volume is compared to ± 10 nL: the start takes the reservoir in whole nL, the
pump also keeps a sub-nanolitre remainder (STATUS ``basal_remainder``) the start cannot set."""
DATE_TOLERANCE = "1min"
"""Forecast dates follow the reservoir, so they may move by the seconds that remainder is worth."""


class RecorderError(EmulatorUsageError, ValueError):
    """The capture cannot be turned into a scenario (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One request and the first answer to it (None: none in the capture)."""

    pump_s: int
    role: Role | None
    session: int | None
    request: Message
    response: Message | None

    @property
    def op(self) -> Op:
        return self.request.op


@dataclass
class Recording:
    """What the recorder found: the exchanges in order and what it could not express."""

    source: str
    serial: str | None
    exchanges: list[Exchange]
    skipped: list[str] = field(default_factory=list)


# --- reading a capture -------------------------------------------------------------------------


_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_IDB = 1
_PCAPNG_EPB = 6
_EPB_INBOUND = 1


def read_chunks(path: str | Path) -> tuple[str | None, list[Chunk], bool]:
    """The chunks of a capture file (JSON lines or pcapng), its pump serial (if named), and
    whether the chunks carry the pump clock (JSON lines do; pcapng has wall time only)."""
    try:
        with open(path, "rb") as stream:
            magic = stream.read(4)
    except OSError as exc:
        raise RecorderError(f"cannot read {path}: {exc}") from None
    if len(magic) == 4 and struct.unpack("<I", magic)[0] == _PCAPNG_SHB:
        serial, chunks = _read_pcapng(Path(path))
        return serial, chunks, False
    header, chunks = read_capture(path)
    return header.pump_serial, chunks, True


def _read_pcapng(path: Path) -> tuple[str | None, list[Chunk]]:
    data = path.read_bytes()
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    offset = 0
    names: list[str] = []
    chunks: list[Chunk] = []
    while offset + 12 <= len(data):
        block_type, size = struct.unpack_from(order + "II", data, offset)
        if size < 12 or offset + size > len(data):
            raise RecorderError(f"{path}: a pcapng block at byte {offset} is cut off")
        body = data[offset + 8 : offset + size - 4]
        if block_type == _PCAPNG_IDB:
            names.append(_if_name(body[8:], order) or f"link{len(names)}")
        elif block_type == _PCAPNG_EPB:
            interface, high, low, captured, _length = struct.unpack_from(order + "IIIII", body)
            packet = body[20 : 20 + captured]
            options = body[20 + captured + (-captured % 4) :]
            flags = _epb_flags(options, order)
            direction = Direction.TO_PUMP if flags == _EPB_INBOUND else Direction.TO_PROGRAMMER
            wall_s = ((high << 32) | low) / 1_000_000
            link = names[interface] if interface < len(names) else f"link{interface}"
            chunks.append(
                Chunk(
                    wall_s=wall_s,
                    pump_s=int(wall_s),
                    direction=direction,
                    link=link.split(" ", 1)[-1],
                    data=packet,
                )
            )
        offset += size
    serial = names[0].split(" ", 1)[0] if names and " " in names[0] else None
    return serial, chunks


def _options(body: bytes, order: str) -> Iterable[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, offset)
        if code == 0:
            return
        yield code, body[offset + 4 : offset + 4 + length]
        offset += 4 + length + (-length % 4)


def _if_name(options: bytes, order: str) -> str:
    for code, value in _options(options, order):
        if code == 2:  # if_name
            return value.decode("utf-8", "replace")
    return ""


def _epb_flags(options: bytes, order: str) -> int:
    for code, value in _options(options, order):
        if code == 2 and len(value) == 4:  # epb_flags
            return int(struct.unpack(order + "I", value)[0]) & 0x3
    return 0


# --- decoding it into exchanges ----------------------------------------------------------------


def exchanges(
    chunks: Iterable[Chunk], keys: Mapping[Role, bytes], *, pump_clock: bool
) -> list[Exchange]:
    """Requests paired with their first answers, retransmissions folded into the original,
    each at the pump time it was sent and with the role of its session."""
    decoder = Decoder(keys=keys)
    frames: list[FrameEvent] = []
    for chunk in chunks:
        frames += [e for e in decoder.feed(chunk) if isinstance(e, FrameEvent)]
    frames += [e for e in decoder.finish() if isinstance(e, FrameEvent)]
    clock_of = None if pump_clock else _pump_clock_estimate(frames)
    roles: dict[int, Role] = {}
    originals: dict[tuple[str, bytes], FrameEvent] = {}
    canonical: dict[int, FrameEvent] = {}
    answers: dict[int, Message] = {}
    order: list[FrameEvent] = []
    for event in frames:
        if event.message is None:
            continue
        if event.kind == "request":
            first = originals.setdefault((event.link, event.data), event)
            canonical[event.number] = first
            if first is event:
                order.append(event)
        elif event.kind == "response" and event.answers is not None:
            request = canonical.get(event.answers)
            if request is not None and request.number not in answers:
                answers[request.number] = event.message
            if isinstance(event.message, SessionAuthResponse) and event.session is not None:
                roles[event.session] = event.message.role
    result = []
    for event in order:
        assert event.message is not None
        pump_s = event.pump_s if clock_of is None else clock_of(event)
        result.append(
            Exchange(
                pump_s=pump_s,
                role=None if event.session is None else roles.get(event.session),
                session=event.session,
                request=event.message,
                response=answers.get(event.number),
            )
        )
    return result


def _pump_clock_estimate(frames: list[FrameEvent]) -> Callable[[FrameEvent], int]:
    """For a capture without the pump clock (pcapng): a frame's pump time is its wall time
    plus the offset (pump clock - wall) of the nearest answer that carries the pump clock
    (STATUS, READ_CLOCK): the last one before it in its session, else the session's first,
    else the last one before it in the capture, else the capture's first. A clock moved by
    hand (a manual clock, ``ctl advance``) between two such answers cannot be seen."""
    marks: list[tuple[int, int | None, float]] = []  # (frame number, session, offset)
    for event in frames:
        if isinstance(event.message, StatusResponse | ReadClockResponse):
            marks.append((event.number, event.session, event.message.clock_s - event.wall_s))
    if not marks:
        raise RecorderError(
            "this pcapng capture holds no pump clock (no STATUS or READ_CLOCK answer): record "
            "the session with --capture (JSON lines carry the pump clock) instead"
        )

    def clock_of(event: FrameEvent) -> int:
        same = [m for m in marks if m[1] is not None and m[1] == event.session]
        before = [m for m in same if m[0] < event.number]
        if before:
            offset = before[-1][2]
        elif same:
            offset = same[0][2]
        else:
            earlier = [m for m in marks if m[0] < event.number]
            offset = earlier[-1][2] if earlier else marks[0][2]
        return round(event.wall_s + offset)

    return clock_of


# --- writing the scenario ----------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML string that stays text (a JSON string is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _volume(nl: int) -> str:
    return format_quantity(nl, Kind.VOLUME)


def _dose(ng: int) -> str:
    return format_quantity(Fraction(ng, 1000), Kind.DOSE)


def _dose_rate(ng_per_day: int) -> str:
    return format_quantity(Fraction(ng_per_day, 1000), Kind.DOSE_RATE)


def _duration(seconds: int) -> str:
    return format_quantity(seconds, Kind.DURATION)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _flow(items: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in items.items()) + "}"


def _profile(steps: Iterable[FlexStep]) -> str:
    return (
        "["
        + ", ".join(
            _flow(
                {
                    "at": _q(f"{s.start_min // 60:02d}:{s.start_min % 60:02d}"),
                    "dose": _dose_rate(s.dose_ng_per_day),
                }
            )
            for s in steps
        )
        + "]"
    )


def prescription_text(spec: PrescriptionSpec) -> str:
    """A wire prescription in the scenario format (its doses; the drug is the pump's)."""
    match spec.mode:
        case Mode.SIMPLE:
            assert spec.dose_ng_per_day is not None
            return _flow({"simple": _dose_rate(spec.dose_ng_per_day)})
        case Mode.FLEX if spec.weekly:
            days = {day: _profile(p) for day, p in zip(WEEKDAYS, spec.profiles, strict=True)}
            return _flow({"flex_weekly": _flow(days)})
        case Mode.FLEX:
            return _flow({"flex": _profile(spec.profiles[0])})
        case Mode.MINIMUM_RATE:
            return "{minimum_rate: true}"
        case _:
            return "{stopped: true}"


def implant_text(implant: ImplantFields) -> str:
    fields = {"catheter": _length(implant.catheter_length_mm)}
    if implant.catheter_length_uncertainty_mm:
        fields["uncertainty"] = _length(implant.catheter_length_uncertainty_mm)
    fields["volume_per_cm"] = f"{_volume(implant.catheter_volume_nl_per_cm)}/cm"
    if implant.catheter_model:
        fields["model"] = _q(implant.catheter_model)
    if implant.implanted_at_s is not None:
        fields["implanted"] = _q(_iso(implant.implanted_at_s))
    if implant.patient_id:
        fields["patient"] = _q(implant.patient_id)
    fields["origin"] = implant.origin.name
    if implant.physician:
        fields["physician"] = _q(implant.physician)
    return _flow(fields)


def _length(mm: int) -> str:
    return f"{mm // 10} cm" if mm % 10 == 0 else f"{mm} mm"


def _relative(at_s: int | None, start_s: int) -> str:
    if at_s is None:
        return "none"
    delta = at_s - start_s
    if delta == 0:
        return "start"
    if delta < 0:
        return _q(_iso(at_s))
    return f"start + {_duration(delta)}"


def status_expectations(status: StatusResponse, start_s: int) -> dict[str, str]:
    """The clinical fields of a STATUS answer as ``expect`` assertions."""

    def alarms(mask: Iterable[Any]) -> str:
        return "[" + ", ".join(sorted(a.name for a in mask)) + "]"

    def date(at_s: int | None) -> str:
        text = _relative(at_s, start_s)
        return text if at_s is None else f"{text} ± {DATE_TOLERANCE}"

    return {
        "mode": status.mode.name,
        "delivering": str(status.delivering).lower(),
        "bolus": status.bolus_kind.name,
        "reservoir": f"{_volume(status.reservoir_nl)} ± {VOLUME_TOLERANCE}",
        "bolus_remaining": f"{_volume(status.bolus_remaining_nl)} ± {VOLUME_TOLERANCE}",
        "concentration": format_quantity(status.concentration_ug_per_ml, Kind.CONCENTRATION),
        "daily_dose": _dose_rate(status.daily_dose_ng),
        "daily_volume": format_quantity(status.daily_volume_nl, Kind.VOLUME_RATE),
        "current_rate": format_quantity(status.current_rate_nl_per_day, Kind.VOLUME_RATE),
        "bridge_remaining": f"{_volume(status.bridge_remaining_nl)} ± {VOLUME_TOLERANCE}",
        "alarm_volume": _volume(status.alarm_volume_nl),
        "alarms": alarms(status.alarms_active),
        "silenced": alarms(status.alarms_silenced),
        "low_reservoir_date": date(status.low_reservoir_alarm_at_s),
        "empty_date": date(status.empty_at_s),
        "bridge_end": date(status.bridge_ends_at_s),
    }


@dataclass
class _Start:
    status: StatusResponse
    prescription: PrescriptionSpec | None = None
    implant: ImplantFields | None = None
    implant_seen: bool = False
    serial: str | None = None


def _start(recording: Recording) -> _Start:
    """The pump as the session first found it: the answers to reads before any change."""
    found: _Start | None = None
    prescription: PrescriptionSpec | None = None
    implant: ImplantFields | None = None
    implant_seen = False
    serial = recording.serial
    for ex in recording.exchanges:
        if ex.op not in READ_ONLY | SESSION_OPS:
            break
        response = ex.response
        if isinstance(response, StatusResponse) and found is None:
            found = _Start(status=response)
        elif isinstance(response, ReadPrescriptionResponse) and prescription is None:
            prescription = response.prescription
        elif isinstance(response, ReadImplantResponse) and not implant_seen:
            implant_seen = True
            implant = response.implant if response.recorded else None
        elif isinstance(response, DeviceInfoResponse):
            serial = response.serial
    if found is None:
        raise RecorderError(
            "the capture changes the pump before it reads its STATUS, or never reads it: the "
            "starting state is unknown (record from the programmer's first interrogation)"
        )
    found.prescription, found.implant, found.implant_seen = prescription, implant, implant_seen
    found.serial = serial
    return found


def _pump_block(start: _Start) -> list[str]:
    status = start.status
    prescription = start.prescription
    if prescription is None:
        if status.mode is Mode.SIMPLE:
            prescription = PrescriptionSpec.simple(
                status.daily_dose_ng, concentration_ug_per_ml=status.concentration_ug_per_ml
            )
        elif status.mode is Mode.FLEX:
            raise RecorderError(
                "the pump runs a flex profile and the capture has no READ_PRESCRIPTION before "
                "the first change: the starting profile is unknown"
            )
        else:
            prescription = PrescriptionSpec(
                mode=status.mode, concentration_ug_per_ml=status.concentration_ug_per_ml
            )
    lines = ["pump:"]
    lines.append(f"  model: {status.capacity_nl // 1_000_000} mL")
    if start.serial:
        lines.append(f"  serial: {_q(start.serial)}")
    lines.append(f"  start: {_q(_iso(status.clock_s))}")
    lines.append(f"  reservoir: {_volume(status.reservoir_nl)}")
    conc = format_quantity(status.concentration_ug_per_ml, Kind.CONCENTRATION)
    lines.append(f"  concentration: {conc}")
    lines.append(f"  prescription: {prescription_text(prescription)}")
    lines.append(
        f"  battery: {format_quantity(Fraction(status.battery_permille, 1000), Kind.PERCENT)}"
    )
    lines.append(f"  alarm_volume: {_volume(status.alarm_volume_nl)}")
    if start.implant_seen:
        lines.append(
            "  implant: " + ("false" if start.implant is None else implant_text(start.implant))
        )
    return lines


def _expect(checks: Mapping[str, str]) -> str:
    return "  - expect:\n" + "\n".join(f"      {k}: {v}" for k, v in checks.items())


def _step(verb: str, argument: str | None, *, name: str = "", error: str | None = None) -> str:
    text = f"  - {verb}:" + (f" {argument}" if argument is not None else "")
    if name:
        text = f"  - name: {_q(name)}\n    {verb}:" + (f" {argument}" if argument else "")
    if error is not None:
        text += f"\n    expect_error: {error}"
    return text


def _error(response: Message | None) -> str | None:
    return response.code.name if isinstance(response, Nak) else None


def scenario_text(
    recording: Recording, *, title: str | None = None, every_status: bool = False
) -> str:
    """The scenario that replays ``recording`` (see the module's docstring).

    A programmer that polls STATUS (the clinician programmer does, every few seconds) would
    make a long file: by default a STATUS is asserted when it is the first of its session or
    the first after a command; ``every_status`` asserts them all."""
    start = _start(recording)
    start_s = start.status.clock_s
    now = start_s
    steps: list[str] = []
    skipped = list(recording.skipped)
    clinician_seen = False
    connect_pending = False
    staged: PrescriptionSpec | None = None
    pending_refill: tuple[StageRefillRequest, StageRefillResponse] | None = None
    exchanges = recording.exchanges
    commands = 0
    polled = 0
    status_due = True
    last_session: int | None = None

    def at(pump_s: int) -> None:
        nonlocal now, connect_pending
        if pump_s > now:
            steps.append(_step("advance", _flow({"until": _relative(pump_s, start_s)})))
            now = pump_s
        if connect_pending:  # the new session opens when its first request goes out
            steps.append(_step("connect", None, name=f"a new session at {_relative(now, start_s)}"))
            connect_pending = False

    for i, ex in enumerate(exchanges):
        request, response = ex.request, ex.response
        when = _relative(ex.pump_s, start_s)
        if response is None:
            skipped.append(f"{ex.op.name} at {when}: no answer in the capture")
            continue
        if ex.op in (Op.SESSION_OPEN, Op.SESSION_CLOSE):
            continue
        if ex.op is Op.SESSION_AUTH:
            if isinstance(response, SessionAuthResponse) and response.role is Role.CLINICIAN:
                connect_pending = clinician_seen
                clinician_seen = True
            continue
        if ex.session != last_session:
            status_due, last_session = True, ex.session
        if ex.op in READ_ONLY:
            if isinstance(response, StatusResponse) and not (status_due or every_status):
                polled += 1
            elif isinstance(response, StatusResponse):
                status_due = False
                at(response.clock_s)
                steps.append(_step("interrogate", None, name=f"STATUS at {when}"))
                steps.append(_expect(status_expectations(response, start_s)))
            elif isinstance(response, ReadPrescriptionResponse):
                at(ex.pump_s)
                prescription = prescription_text(response.prescription)
                steps.append(_expect({"prescription": prescription}))
            continue
        commands += 1
        status_due = True
        at(ex.pump_s)
        error = _error(response)
        name = f"{ex.op.name} at {when}"
        match ex.op:
            case Op.STAGE_PRESCRIPTION:
                assert isinstance(request, StagePrescriptionRequest)
                spec = request.prescription
                nxt = exchanges[i + 1] if i + 1 < len(exchanges) else None
                if (
                    error is None
                    and nxt is not None
                    and nxt.op is Op.COMMIT_PRESCRIPTION
                    and nxt.response is not None
                    and _error(nxt.response) is None
                ):
                    staged = spec
                    continue  # the commit writes the program step
                staged = spec if error is None else None
                steps.append(_step("stage", prescription_text(spec), name=name, error=error))
            case Op.COMMIT_PRESCRIPTION:
                if staged is not None and error is None:
                    steps.append(_step("program", prescription_text(staged), name=name))
                else:
                    steps.append(_step("commit", None, name=name, error=error))
                staged = None
            case Op.STAGE_REFILL:
                assert isinstance(request, StageRefillRequest)
                if error is not None:
                    steps.append(_step("refill", _refill(request, None), name=name, error=error))
                elif isinstance(response, StageRefillResponse):
                    pending_refill = (request, response)
            case Op.COMMIT_REFILL:
                if pending_refill is None:
                    skipped.append(
                        f"COMMIT_REFILL at {when}: its STAGE_REFILL is not in the capture"
                    )
                    continue
                stage_request, _ = pending_refill
                pending_refill = None
                done = response if isinstance(response, CommitRefillResponse) else None
                steps.append(_step("refill", _refill(stage_request, done), name=name, error=error))
                if done is not None:
                    bridge_end = _relative(done.bridge_ends_at_s, start_s)
                    if done.bridge_ends_at_s is not None:
                        bridge_end += f" ± {DATE_TOLERANCE}"
                    reservoir = f"{_volume(done.reservoir_nl)} ± {VOLUME_TOLERANCE}"
                    steps.append(_expect({"reservoir": reservoir, "bridge_end": bridge_end}))
            case Op.START_BOLUS:
                assert isinstance(request, StartBolusRequest)
                if request.kind.name == "PRIMING":
                    bolus = {"kind": "PRIMING", "volume": _volume(request.volume_nl)}
                else:
                    bolus = {
                        "kind": request.kind.name,
                        "dose": _dose(request.dose_ng),
                        "duration": _duration(request.duration_s),
                    }
                steps.append(_step("bolus", _flow(bolus), name=name, error=error))
            case Op.CANCEL_BOLUS:
                steps.append(_step("cancel_bolus", None, name=name, error=error))
            case Op.CANCEL_BRIDGE:
                steps.append(_step("cancel_bridge", None, name=name, error=error))
            case Op.STOP_PUMP:
                assert isinstance(request, StopPumpRequest)
                steps.append(_step("stop", request.reason.name, name=name, error=error))
            case Op.RESUME_PUMP:
                steps.append(_step("resume", None, name=name, error=error))
            case Op.SET_ALARM_VOLUME:
                assert isinstance(request, SetAlarmVolumeRequest)
                steps.append(
                    _step("set_alarm_volume", _volume(request.volume_nl), name=name, error=error)
                )
            case Op.SILENCE_ALARM | Op.CLEAR_ALARM:
                verb = "silence_alarm" if ex.op is Op.SILENCE_ALARM else "clear_alarm"
                assert isinstance(request, SilenceAlarmRequest | ClearAlarmRequest)
                steps.append(_step(verb, request.code.name, name=name, error=error))
            case Op.SET_IMPLANT:
                assert isinstance(request, SetImplantRequest)
                steps.append(
                    _step("implant", implant_text(request.implant), name=name, error=error)
                )
            case Op.SET_PATIENT_SETTINGS:
                assert isinstance(request, PatientSettingsFields)
                settings = {"enabled": str(request.enabled).lower()}
                if request.enabled or request.dose_ng:
                    settings |= {
                        "dose": _dose(request.dose_ng),
                        "duration": _duration(request.duration_s),
                        "lockout": _duration(request.lockout_s),
                        "max_per_day": str(request.max_per_24h),
                    }
                steps.append(_step("patient_settings", _flow(settings), name=name, error=error))
            case Op.PATIENT_DOSE:
                steps.append(_step("patient_dose", None, name=name, error=error))
            case _:
                commands -= 1
                skipped.append(f"{ex.op.name} at {when}: no scenario step sends it")
    if not steps:
        raise RecorderError("the capture holds no STATUS answer and no command to replay")
    head = [
        f"# Recorded by `pump-emulator record` from {Path(recording.source).name}:",
        f"# {commands} command(s) replayed at their pump times; STATUS answers asserted "
        + (
            "all."
            if every_status
            else f"(the first of each session and after each command; {polled} repeated polls not)."
        ),
        "# The replay opens its own sessions (fresh nonces and MACs); times are relative to",
        f"# the first STATUS, {_iso(start_s)}.",
    ]
    head += [f"# not replayed: {s}" for s in skipped]
    if not start.implant_seen:
        head.append(
            "# the session did not read the implant record (READ_IMPLANT): the scenario's "
            "default stands in"
        )
    body = [
        f"scenario: {_q(title or 'Recorded session ' + Path(recording.source).name)}",
        "tags: [recorded]",
        *_pump_block(start),
        "steps:",
        *steps,
    ]
    return "\n".join(head + body) + "\n"


def _refill(request: StageRefillRequest, done: CommitRefillResponse | None) -> str:
    fields = {
        "removed": _volume(request.removed_nl),
        "added": _volume(request.added_nl),
        "concentration": format_quantity(request.concentration_ug_per_ml, Kind.CONCENTRATION),
        "prescription": prescription_text(request.prescription),
        "bridge": str(request.bridge).lower(),
    }
    if request.drug_lot:
        fields["lot"] = _q(request.drug_lot)
    if request.allow_nonstandard:
        fields["nonstandard"] = "true"
    if done is not None:
        fields["expect"] = _flow(
            {
                "discrepancy": _volume(done.discrepancy_nl),
                "flagged": str(done.discrepancy_flagged).lower(),
            }
        )
    return _flow(fields)


def record(
    path: str | Path,
    *,
    keys: Mapping[Role, bytes] | None = None,
    title: str | None = None,
    every_status: bool = False,
) -> str:
    """The scenario text that replays the session captured in ``path``."""
    serial, chunks, pump_clock = read_chunks(path)
    recording = Recording(
        source=str(path),
        serial=serial,
        exchanges=exchanges(chunks, keys or load_keys(DEMO_KEY_FILE), pump_clock=pump_clock),
    )
    return scenario_text(recording, title=title, every_status=every_status)


def record_file(
    path: str | Path,
    out: str | Path,
    *,
    keys: Mapping[Role, bytes] | None = None,
    title: str | None = None,
    every_status: bool = False,
) -> str:
    """Write the replaying scenario of ``path`` to ``out``; returns its text."""
    text = record(path, keys=keys, title=title, every_status=every_status)
    Path(out).write_text(text, encoding="utf-8")
    return text


# --- the command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", type=Path, help="a --capture (JSON lines) or pcapng file")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the scenario file to write (name it *.scenario.yaml); default: standard output",
    )
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="key file of the sessions (default: the demo key shipped with vpump)",
    )
    parser.add_argument("--title", help="the scenario's title (default: from the file name)")
    parser.add_argument(
        "--every-status",
        action="store_true",
        help="assert every STATUS answer (default: the first of each session and the first "
        "after each command; a programmer polling STATUS would make a long file)",
    )


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        keys = load_keys(args.keys) if args.keys is not None else None
        text = record(args.capture, keys=keys, title=args.title, every_status=args.every_status)
    except (RecorderError, KeyFileError, OSError, ValueError) as exc:
        err.write(f"pump-emulator record: {exc}\n")
        return 2
    if args.output is None:
        out.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        out.write(f"wrote {args.output} ({text.count(chr(10) + '  - ')} steps)\n")
    return 0
