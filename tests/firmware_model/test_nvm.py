"""NVM images: exact round trips; corrupt, truncated, flipped or foreign images refused."""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model import nvm
from firmware_model.errors import CorruptImageError
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump
from protocol import messages as m
from protocol.enums import EventCode, StopReason
from protocol.timebase import SECONDS_PER_DAY

from . import rx
from .builders import new_pump


def busy_pump() -> Pump:
    """A pump with a bit of everything: flex, a running bolus, alarms, patient doses, an
    implant record, a refill to another drug with its bridge still running, a drug lot."""
    # At 1000 mcg/mL a dose in ng is the volume in nL; 350,001 nL/day gives fractional volumes.
    flex = rx.flex([(0, 100_000), (420, 350_001)], 1000)
    pump = new_pump(
        profile=PROFILES[40],
        reservoir_nl=5_000_000,
        concentration_ug_per_ml=1000,
        prescription=flex,
        implant=rx.IMPLANT,
    )
    pump.set_patient_settings(
        0,
        PatientDoseSettings(
            enabled=True, dose_ng=20_000, duration_s=600, lockout_s=3_600, max_per_24h=6
        ),
    )
    pump.request_patient_dose(100)
    pump.advance_to(5 * SECONDS_PER_DAY + 17)
    pump.inject_memory_error(pump.t, critical=False)
    pump.silence_alarm(pump.t, pump.status().alarms_active[0])
    pump.set_motor_stall(pump.t, True)
    pump.set_motor_stall(pump.t + 50, False)
    order = rx.refill_order(
        pump, removed_nl=0, added_nl=3_500_000, concentration_ug_per_ml=2000, bridge=True
    )
    pump.refill(pump.t, dataclasses.replace(order, drug_lot="LOT-42"))
    assert pump.bridge is not None
    pump.start_bolus(pump.t, pump.therapeutic_bolus(dose_ng=123_457, duration_s=7_201))
    pump.advance_to(pump.t + 999)
    pump.log_event(pump.t, EventCode.SECURITY, 6, 0x12)
    assert pump.bridge is not None and pump.bolus is not None
    return pump


def test_round_trip_is_exact_and_the_copy_behaves_identically() -> None:
    pump = busy_pump()
    image = pump.to_bytes()
    copy = Pump.from_bytes(image)
    assert copy == pump
    assert copy.to_bytes() == image
    for p in (pump, copy):
        p.advance_to(p.t + 40 * SECONDS_PER_DAY)
        p.stop(p.t, StopReason.MRI)
    assert copy == pump
    assert copy.status() == pump.status()


def test_round_trip_after_the_log_wrapped() -> None:
    pump = new_pump()
    for i in range(PROFILES[20].event_log_capacity + 10):
        pump.log_event(i, EventCode.SECURITY, i, 0)
    assert pump.event_log.overwritten > 0
    assert Pump.from_bytes(pump.to_bytes()) == pump


def test_equality_sees_every_difference() -> None:
    a, b = new_pump(), new_pump()
    assert a == b
    b.log_event(0, EventCode.SESSION_OPENED, 1, 0)
    assert a != b


def test_every_truncation_is_refused() -> None:
    image = new_pump().to_bytes()
    for n in range(len(image)):
        with pytest.raises(CorruptImageError):
            Pump.from_bytes(image[:n])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(CorruptImageError):
        Pump.from_bytes(new_pump().to_bytes() + b"\x00")


IMAGE = busy_pump().to_bytes()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(bit=st.integers(0, len(IMAGE) * 8 - 1))
def test_any_single_bit_flip_is_refused(bit: int) -> None:
    flipped = bytearray(IMAGE)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CorruptImageError):
        Pump.from_bytes(bytes(flipped))


def reseal(payload: bytes, *, magic: bytes = nvm.MAGIC, version: int = nvm.FORMAT_VERSION) -> bytes:
    """An image with a correct CRC around any payload (what a bad writer could produce)."""
    body = struct.pack(">4sHI", magic, version, len(payload)) + payload
    return body + struct.pack(">I", zlib.crc32(body))


def payload_of(image: bytes) -> dict[str, object]:
    (length,) = struct.unpack_from(">I", image, 6)
    state = json.loads(image[10 : 10 + length])
    assert isinstance(state, dict)
    return state


def test_the_reseal_helper_matches_the_writer() -> None:
    state = payload_of(IMAGE)
    assert reseal(json.dumps(state, sort_keys=True, separators=(",", ":")).encode()) == IMAGE


def test_wrong_version_and_magic_are_refused_even_with_a_good_crc() -> None:
    state = json.dumps(payload_of(IMAGE), sort_keys=True, separators=(",", ":")).encode()
    # Version 1 (rate prescriptions, before #12) is a foreign format now.
    assert nvm.FORMAT_VERSION == 2
    with pytest.raises(CorruptImageError, match="format version 1"):
        Pump.from_bytes(reseal(state, version=1))
    with pytest.raises(CorruptImageError, match="bad magic"):
        Pump.from_bytes(reseal(state, magic=b"XXXX"))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("battery_uc"),
        lambda s: s.__setitem__("t", "soon"),
        lambda s: s.__setitem__("t", True),
        lambda s: s["delivery"].__setitem__("reservoir_nl", 1),  # books no longer balance
        lambda s: s.__setitem__("prescription", "turbo"),  # not the wire encoding
        lambda s: s.__setitem__("prescription", "63" + s["prescription"][2:]),  # mode 99
        # A prescription for another drug than the one in the reservoir.
        lambda s: s.__setitem__(
            "prescription",
            m.encode_prescription(rx.simple(200_000, 500)).hex(),
        ),
        lambda s: s.__setitem__("concentration_ug_per_ml", 0),
        lambda s: s.__setitem__("bridge", [1, 1, 0, 0]),  # bridge from no drug
        lambda s: s.__setitem__("implant", "zz"),
        lambda s: s.__setitem__("reset_pending", 1),
        lambda s: s.__setitem__("suspended", 99),
        lambda s: s.__setitem__("alarm_volume_nl", 10),
        lambda s: s.__setitem__("battery_uc", -1),
        lambda s: s["log"].__setitem__("total_written", 0),
        lambda s: s["log"]["entries"][0].__setitem__(2, 999),
        lambda s: s["profile"].__setitem__("max_flex_steps", 0),
        lambda s: s.__setitem__("grants_t", [10**12]),
        lambda s: s["delivery"].__setitem__("bolus", [1, 10, 10, -(10**9), 0]),
        lambda s: s["delivery"].__setitem__("bolus", [1, 10, 10, 0]),  # v1 layout, no dose
    ],
)
def test_well_sealed_but_invalid_states_are_refused(mutate: object) -> None:
    state = payload_of(IMAGE)
    assert callable(mutate)
    mutate(state)
    with pytest.raises(CorruptImageError):
        Pump.from_bytes(reseal(json.dumps(state).encode()))


def test_not_json_and_not_bytes() -> None:
    with pytest.raises(CorruptImageError):
        Pump.from_bytes(reseal(b"\xff\xfe not json"))
    with pytest.raises(CorruptImageError):
        Pump.from_bytes(reseal(b"[1, 2, 3]"))
    with pytest.raises(CorruptImageError):
        Pump.from_bytes("text")  # type: ignore[arg-type]
