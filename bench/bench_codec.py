"""Frame codec speed: encode + decode of real frames, beside a plain-struct floor.

The floor does the least work the framing allows on the same bytes: one
``struct`` pack/unpack of the header, slicing, and ``binascii.crc_hqx``, with
no validation and no objects. The target is the fast path at most 3x the
floor; the construct schema path is shown for contrast (it is the reference,
not what the link runs). The deframer figure feeds one stream of all the
frames in one call.
"""

from __future__ import annotations

import binascii
import struct
import time
from collections.abc import Callable

from bench.metric import Metric
from protocol.codec import Deframer
from protocol.enums import AlarmCode, BolusKind, Mode, Op
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
    encode_payload,
)
from protocol.session import build_frame

_HEADER = struct.Struct("!2sBBHBH")
_CRC = struct.Struct("!H")
_KEY = bytes(range(32))


def _sample_frames() -> list[Frame]:
    """A realistic mix: small requests, a status response, a flex prescription."""
    status = StatusResponse(
        clock_s=1_760_000_000,
        mode=Mode.FLEX,
        bolus_kind=BolusKind.NONE,
        bolus_remaining_nl=0,
        bolus_ends_at_s=None,
        current_rate_nl_per_day=250_000,
        daily_volume_nl=240_000,
        concentration_ug_per_ml=2000,
        reservoir_nl=14_250_000,
        capacity_nl=20_000_000,
        alarm_volume_nl=2_000_000,
        alarms_active=frozenset({AlarmCode.LOW_RESERVOIR}),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=1_765_000_000,
        empty_at_s=1_767_000_000,
        battery_permille=812,
        eri_at_s=1_900_000_000,
        prescription_checksum=0x1234ABCD,
        delivering=True,
    )
    steps = [FlexStep(start_min=60 * hour, rate_nl_per_day=200_000 + hour) for hour in range(13)]
    messages: list[tuple[Message, bool]] = [
        (StatusRequest(), False),
        (status, True),
        (ReadClockRequest(), False),
        (StartBolusRequest(kind=BolusKind.THERAPEUTIC, volume_nl=50_000, duration_s=600), False),
        (StagePrescriptionRequest(prescription=PrescriptionSpec.flex_weekly([steps] * 7)), False),
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


def run() -> list[Metric]:
    """Codec figures: fast path, schema path and deframer, each beside the floor."""
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
            target="<= 3x the floor",
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
    ]
