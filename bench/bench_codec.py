"""Codec speed: frames and message payloads, each beside a plain-struct floor.

Frames: encode + decode of real frames. The floor does the least work the
framing allows on the same bytes: one ``struct`` pack/unpack of the header,
slicing, and ``binascii.crc_hqx``, with no validation and no objects. The
target is the fast path at most 1.5x the floor; the construct schema path is
shown for contrast (it is the reference, not what the link runs). The
deframer figure feeds one stream of all the frames in one call.

Payloads: a STATUS response payload encoded and decoded (message object to
bytes to message object), by the fast path (``encode_payload`` /
``decode_response``) and by the construct schema (``schema_encode_payload`` /
``schema_decode_payload``). The floor is one ``struct`` pack and unpack of the
same 19 fields as plain ints: no conversion, no validation, no objects.
"""

from __future__ import annotations

import binascii
import struct
import time
from collections.abc import Callable

from bench.metric import Metric
from protocol.codec import Deframer
from protocol.enums import AlarmCode, BolusKind, Mode, Op, StopReason
from protocol.frames import Frame, decode_frame, encode_frame, schema_decode, schema_encode
from protocol.messages import (
    FlexStep,
    Message,
    PrescriptionSpec,
    ReadClockRequest,
    StagePrescriptionRequest,
    StartBolusRequest,
    StatusRequest,
    StatusResponse,
    decode_response,
    encode_payload,
    schema_decode_payload,
    schema_encode_payload,
)
from protocol.session import build_frame

_HEADER = struct.Struct("!2sBBHBH")
_CRC = struct.Struct("!H")
_KEY = bytes(range(32))
# The STATUS response layout spelled out by hand (design.md), for the floor: clock,
# mode, stop reason, delivering, halted-by mask, bolus kind, dose, volume, duration,
# start, remaining, end, basal rate, current rate, daily dose, daily volume,
# concentration, bridge remaining, bridge concentration, bridge end, basal remainder,
# reservoir, capacity, alarm volume, two alarm masks, low-reservoir time, empty time,
# battery permille, battery charge, ERI, checksum, and the count of recent doses (0).
_STATUS_FLOOR = struct.Struct(">QBBBHBIIIQIQIIIIIIIQIIIIHHQQHQQIB")


def _sample_status() -> StatusResponse:
    """A STATUS response as a running pump sends it: a bolus-free FLEX day, one alarm."""
    return StatusResponse(
        clock_s=1_760_000_000,
        mode=Mode.FLEX,
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
        basal_rate_nl_per_day=250_000,
        current_rate_nl_per_day=250_000,
        daily_dose_ng=480_000,
        daily_volume_nl=240_000,
        concentration_ug_per_ml=2000,
        bridge_remaining_nl=0,
        bridge_concentration_ug_per_ml=0,
        bridge_ends_at_s=None,
        basal_remainder=12_345,
        reservoir_nl=14_250_000,
        capacity_nl=20_000_000,
        alarm_volume_nl=2_000_000,
        alarms_active=frozenset({AlarmCode.LOW_RESERVOIR}),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=1_765_000_000,
        empty_at_s=1_767_000_000,
        battery_permille=812,
        battery_uc=10_000_000_000,
        eri_at_s=1_900_000_000,
        prescription_checksum=0x1234ABCD,
        recent_doses=(),
    )


def _sample_frames() -> list[Frame]:
    """A realistic mix: small requests, a status response, a flex prescription."""
    status = _sample_status()
    steps = [FlexStep(start_min=60 * hour, dose_ng_per_day=400_000 + hour) for hour in range(13)]
    messages: list[tuple[Message, bool]] = [
        (StatusRequest(), False),
        (status, True),
        (ReadClockRequest(), False),
        (
            StartBolusRequest(
                kind=BolusKind.THERAPEUTIC, dose_ng=100_000, volume_nl=0, duration_s=600
            ),
            False,
        ),
        (
            StagePrescriptionRequest(
                prescription=PrescriptionSpec.flex_weekly([steps] * 7, concentration_ug_per_ml=2000)
            ),
            False,
        ),
    ]
    frames = [
        build_frame(
            response=response, seq=100 + i, op=msg.op, payload=encode_payload(msg), key=_KEY
        )
        for i, (msg, response) in enumerate(messages)
    ]
    frames.append(build_frame(response=False, seq=7, op=Op.DEVICE_INFO, payload=b"", key=None))
    return frames


def _floor_round_trip(fields: list[tuple[int, int, int, bytes, bytes | None]]) -> None:
    for flags, seq, op, payload, mac in fields:
        head = _HEADER.pack(b"\xa5\x5a", 1, flags, seq, op, len(payload))
        body = head + payload + (mac or b"")
        data = body + _CRC.pack(binascii.crc_hqx(body[2:], 0xFFFF))
        _sync, _ver, flags2, _seq, _op, length = _HEADER.unpack_from(data)
        end = len(data) - 2
        (crc,) = _CRC.unpack_from(data, end)
        if crc != binascii.crc_hqx(data[2:end], 0xFFFF):
            raise AssertionError("floor CRC mismatch")
        _payload = data[9 : 9 + length]
        _mac = data[9 + length : end] if flags2 & 2 else None


def _best_us_per_frame(work: Callable[[], None], frames: int, *, budget_s: float = 0.3) -> float:
    """Best of several timed batches, in microseconds per frame."""
    batch = 1
    while True:  # grow the batch until it takes ~20 ms
        started = time.perf_counter()
        for _ in range(batch):
            work()
        elapsed = time.perf_counter() - started
        if elapsed > 0.02:
            break
        batch *= 2
    best = elapsed / batch
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(batch):
            work()
        best = min(best, (time.perf_counter() - started) / batch)
    return best / frames * 1e6


def _status_floor_values(status: StatusResponse) -> tuple[int, ...]:
    """The STATUS fields as the plain ints the wire carries (the floor's input)."""

    def mask(codes: frozenset[AlarmCode]) -> int:
        return sum(1 << code for code in codes)

    def time_or_zero(value: int | None) -> int:
        return 0 if value is None else value

    return (
        status.clock_s,
        int(status.mode),
        int(status.stop_reason),
        int(status.delivering),
        mask(status.halted_by),
        int(status.bolus_kind),
        status.bolus_dose_ng,
        status.bolus_volume_nl,
        status.bolus_duration_s,
        time_or_zero(status.bolus_started_at_s),
        status.bolus_remaining_nl,
        time_or_zero(status.bolus_ends_at_s),
        status.basal_rate_nl_per_day,
        status.current_rate_nl_per_day,
        status.daily_dose_ng,
        status.daily_volume_nl,
        status.concentration_ug_per_ml,
        status.bridge_remaining_nl,
        status.bridge_concentration_ug_per_ml,
        time_or_zero(status.bridge_ends_at_s),
        status.basal_remainder,
        status.reservoir_nl,
        status.capacity_nl,
        status.alarm_volume_nl,
        mask(status.alarms_active),
        mask(status.alarms_silenced),
        time_or_zero(status.low_reservoir_alarm_at_s),
        time_or_zero(status.empty_at_s),
        status.battery_permille,
        status.battery_uc,
        time_or_zero(status.eri_at_s),
        status.prescription_checksum,
        len(status.recent_doses),
    )


_PAYLOAD_BATCH = 20  # messages per timed call, so the loop overhead stays small


def _status_payload_metrics() -> list[Metric]:
    """STATUS payload encode+decode: fast path and construct schema, beside the floor."""
    status = _sample_status()
    values = _status_floor_values(status)
    wire = encode_payload(status)
    # Measure only what is correct: both paths agree with each other and with the floor.
    if (
        schema_encode_payload(status) != wire
        or _STATUS_FLOOR.pack(*values) != wire
        or decode_response(Op.STATUS, wire) != status
        or schema_decode_payload(StatusResponse, wire) != status
    ):
        raise AssertionError("the STATUS payload paths disagree")
    batch = range(_PAYLOAD_BATCH)
    pack, unpack = _STATUS_FLOOR.pack, _STATUS_FLOOR.unpack

    def floor() -> None:
        for _ in batch:
            unpack(pack(*values))

    def fast() -> None:
        for _ in batch:
            decode_response(Op.STATUS, encode_payload(status))

    def schema() -> None:
        for _ in batch:
            schema_decode_payload(StatusResponse, schema_encode_payload(status))

    floor_us = _best_us_per_frame(floor, _PAYLOAD_BATCH)
    fast_us = _best_us_per_frame(fast, _PAYLOAD_BATCH)
    schema_us = _best_us_per_frame(schema, _PAYLOAD_BATCH, budget_s=0.2)
    floor_name = "struct pack + unpack of the same 19 fields as plain ints, no validation"
    return [
        Metric(
            name="STATUS payload encode+decode (fast path)",
            value=fast_us,
            unit="us/message",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us/message",
            target="<= 10x the floor",
        ),
        Metric(
            name="STATUS payload encode+decode (construct)",
            value=schema_us,
            unit="us/message",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us/message",
            target="none: the reference the fast path is checked against",
        ),
    ]


def run() -> list[Metric]:
    """Codec figures: frames (fast path, schema path, deframer) and STATUS
    payloads (fast path, schema path), each beside its floor."""
    frames = _sample_frames()
    wires = [encode_frame(frame) for frame in frames]
    fields = [(int(f.flags), f.seq, f.op, f.payload, f.mac) for f in frames]
    stream = b"".join(wires)
    for frame, wire in zip(frames, wires, strict=True):  # measure only what is correct
        if decode_frame(wire) != frame or schema_encode(frame) != wire:
            raise AssertionError("the fast path and the schema disagree")

    def fast() -> None:
        for frame in frames:
            decode_frame(encode_frame(frame))

    def schema() -> None:
        for frame in frames:
            schema_decode(schema_encode(frame))

    def deframe() -> None:
        if len(Deframer().feed(stream)) != len(frames):
            raise AssertionError("the deframer lost frames")

    n = len(frames)
    floor_us = _best_us_per_frame(lambda: _floor_round_trip(fields), n)
    fast_us = _best_us_per_frame(fast, n)
    schema_us = _best_us_per_frame(schema, n, budget_s=0.2)
    deframe_us = _best_us_per_frame(deframe, n)
    floor_name = "struct pack/unpack + binascii.crc_hqx on the same frames, no validation"
    return [
        Metric(
            name="codec encode+decode (fast path)",
            value=fast_us,
            unit="us/frame",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us/frame",
            target="<= 1.5x the floor",
        ),
        Metric(
            name="codec encode+decode throughput",
            value=1e6 / fast_us,
            unit="frames/s",
            floor_name=floor_name,
            floor_value=1e6 / floor_us,
            floor_unit="frames/s",
            target=">= 1/3 of the floor's frames/s",
        ),
        Metric(
            name="codec encode+decode (construct schema)",
            value=schema_us,
            unit="us/frame",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us/frame",
            target="none: the reference the fast path is checked against",
        ),
        Metric(
            name="deframer (stream of frames) + decode",
            value=deframe_us,
            unit="us/frame",
            floor_name=floor_name,
            floor_value=floor_us,
            floor_unit="us/frame",
            target="<= 5x the floor",
        ),
        *_status_payload_metrics(),
    ]
