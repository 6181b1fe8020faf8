"""Fuzz the pump's telemetry head: whatever arrives, therapy is unchanged and it still answers.

Inputs are random bytes and mutations (bit flips, truncations, splices,
duplicated chunks) of real in-session frames that would change therapy if
executed unmodified. A mutated frame must never be executed: the CRC or the
MAC catches it, so the pump's prescription, mode and reservoir stay as they
were, nothing but the telemetry's own answers come out, and a valid request
afterwards is still answered.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.presets import PRESETS
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import BolusKind, StopReason
from tests.firmware_model.rx import IMPLANT
from tests.firmware_model.test_telemetry import Pair
from tests.support import T0

_THERAPY_CHANGES: list[m.Message] = [
    m.StagePrescriptionRequest(
        prescription=m.PrescriptionSpec.simple(450_000, concentration_ug_per_ml=500)
    ),
    m.StartBolusRequest(kind=BolusKind.THERAPEUTIC, dose_ng=50_000, volume_nl=0, duration_s=600),
    m.StopPumpRequest(reason=StopReason.OTHER),
    m.StageRefillRequest(
        removed_nl=0,
        added_nl=0,
        concentration_ug_per_ml=1000,
        allow_nonstandard=False,
        bridge=True,
        drug_lot="LOT-1",
        prescription=m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=1000),
    ),
    m.SetImplantRequest(implant=IMPLANT),
    m.SetAlarmVolumeRequest(volume_nl=3_000_000),
]


def _therapy(pair: Pair) -> tuple[object, ...]:
    s = pair.head.pump.status()
    return (
        pair.head.pump.prescription,
        s.mode,
        s.delivering,
        s.bolus_kind,
        s.reservoir_nl,
        s.concentration_ug_per_ml,
        s.alarm_volume_nl,
        s.bridge_remaining_nl,
        pair.head.pump.implant,
    )


def _mutate(frame: bytes, rng: random.Random) -> bytes:
    """Damage a frame inside its own bytes: a bit flip, a truncation, an insertion of random
    bytes or a duplicated chunk. Drawn again in the rare case the result still holds the
    intact frame (a tail duplicated after itself), which a receiver rightly executes."""
    while True:
        out = bytearray(frame)
        choice = rng.randrange(4)
        i = rng.randrange(1, len(out))
        if choice == 0:
            out[i] ^= 1 << rng.randrange(8)
        elif choice == 1:
            del out[i:]
        elif choice == 2:
            out[i:i] = rng.randbytes(rng.randint(1, 8))
        else:
            out[i:i] = out[i : i + rng.randint(1, 16)]
        if frame not in out:
            return bytes(out)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunks=st.integers(1, 6))
def test_mutated_frames_never_change_therapy(seed: int, chunks: int) -> None:
    rng = random.Random(seed)
    pair = Pair(PRESETS["default"].build(t=T0), seed=seed % 1000)
    before = _therapy(pair)
    executed = pair.link.requests_executed
    stream = b""
    for _ in range(chunks):
        _, frame = pair.session.request(rng.choice(_THERAPY_CHANGES))
        damaged = _mutate(frame, rng)
        while True:
            # The filler after a truncated frame could supply exactly the bytes cut off (a
            # CRC byte, 1 in 256), rebuilding the intact frame, which a pump rightly executes.
            piece = damaged + rng.randbytes(rng.randint(0, 12))
            if frame not in stream + piece:
                break
        stream += piece
    answers = Deframer().feed(pair.link.receive(stream, t=T0, now_s=0.0))
    assert all(a.is_response for a in answers)
    assert pair.link.requests_executed == executed
    assert _therapy(pair) == before
    # After the noise (and a moment of silence) the pump still answers a valid request.
    seq, data = pair.session.request(m.StatusRequest())
    answer = Deframer().feed(pair.link.receive(data, t=T0, now_s=1.0))
    assert isinstance(pair.session.receive(answer[-1], seq), m.StatusResponse)


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(max_size=2048))
def test_random_bytes_get_no_answer_that_is_not_a_response(noise: bytes) -> None:
    pair = Pair(PRESETS["default"].build(t=T0))
    before = _therapy(pair)
    answers = Deframer().feed(pair.link.receive(noise, t=T0, now_s=0.0))
    assert all(a.is_response for a in answers)
    assert _therapy(pair) == before
