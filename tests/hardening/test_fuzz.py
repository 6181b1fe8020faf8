"""The fuzz targets of ``tests.hardening.fuzz``, driven by a seeded generator for a few thousand
inputs each (the long runs are ``python -m tests.hardening.fuzz``), and the inputs the fuzzer
found, kept as regressions."""

from __future__ import annotations

import pytest

from protocol import messages as m
from protocol.enums import ErrorCode, EventCode, Op
from protocol.frames import encode_frame
from tests.hardening.fuzz import (
    DeviceHarness,
    InvariantViolation,
    check_conservation,
    check_deframer,
    run_random,
    seeds,
    therapy,
)


@pytest.mark.parametrize(
    ("target", "inputs"), [("deframer", 5000), ("messages", 5000), ("device", 3000)]
)
def test_fuzz_targets_hold_their_invariants(target: str, inputs: int) -> None:
    figures = run_random(target, inputs, seed=2026)
    assert figures.inputs == inputs
    assert figures.found > inputs // 10  # the inputs get past the first checks


def test_the_corpus_is_seeded_from_the_real_captures() -> None:
    device = seeds("device")
    assert len(device) > 40
    assert sum(1 for s in device if s[0] == 2 and s[1] == Op.STAGE_PRESCRIPTION) >= 2


def test_an_invariant_violation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks are not vacuous: a pump whose therapy moved on garbage would be caught."""
    frame = seeds("deframer")[1]
    assert check_deframer(frame) == 1
    harness = DeviceHarness()
    receive = harness.link.receive

    def sloppy(data: bytes, *, t: int, now_s: float) -> bytes:
        if data == b"garbage":
            harness.pump.set_alarm_volume(t, 3_000_000)
        return receive(data, t=t, now_s=now_s)

    monkeypatch.setattr(harness.link, "receive", sloppy)
    with pytest.raises(InvariantViolation, match="therapy changed"):
        harness.run(b"\x00garbage")


def _maced(harness: DeviceHarness, message_op: Op, payload: bytes) -> list[m.Message]:
    harness.seq += 1
    frame = harness.maced(op=message_op, payload=payload, seq=harness.seq)
    return [m.decode_response(a.op, a.payload) for a in harness.send(encode_frame(frame))]


def test_found_a_refill_recorded_then_answered_internal() -> None:
    """A refill removing 3.2 L (found on the old REFILL, kept on STAGE_REFILL): the refill was
    recorded, then its answer (a discrepancy beyond int32) could not be built, so the pump
    answered INTERNAL for a done refill. Now the transaction is refused whole."""
    harness = DeviceHarness()
    before = therapy(harness.pump, harness.head)
    request = m.StageRefillRequest(
        removed_nl=0xBF155CC0,
        added_nl=18_000_000,
        concentration_ug_per_ml=2000,
        allow_nonstandard=False,
        bridge=False,
        drug_lot="",
        prescription=harness.pump.prescription.with_concentration(2000),
    )
    payload = m.encode_payload(request)
    [answer] = _maced(harness, Op.STAGE_REFILL, payload)
    assert isinstance(answer, m.Nak) and answer.code is ErrorCode.OUT_OF_RANGE
    assert therapy(harness.pump, harness.head) == before
    harness.run(bytes([2, Op.STAGE_REFILL, 0]) + payload)


def test_a_staged_refill_changes_nothing_until_its_commit() -> None:
    harness = DeviceHarness()
    before = therapy(harness.pump, harness.head)
    request = m.StageRefillRequest(
        removed_nl=harness.pump.estimated_reservoir_nl,
        added_nl=20_000_000,
        concentration_ug_per_ml=2000,
        allow_nonstandard=False,
        bridge=True,
        drug_lot="F-1",
        prescription=harness.pump.prescription.with_concentration(2000),
    )
    [staged] = _maced(harness, Op.STAGE_REFILL, m.encode_payload(request))
    assert isinstance(staged, m.StageRefillResponse) and staged.bridge_volume_nl == 486_000
    assert therapy(harness.pump, harness.head) == before
    harness.run(
        bytes([2, Op.COMMIT_REFILL, 0])
        + m.encode_payload(m.CommitRefillRequest(checksum=staged.checksum))
    )
    assert harness.pump.concentration_ug_per_ml == 2000 and harness.pump.bridge is not None
    check_conservation(harness.pump)


def test_found_patient_settings_stored_then_refused() -> None:
    """Disabled patient settings with a 4 L dose: stored, then refused by the log entry, so
    the NAK said OUT_OF_RANGE for settings that had changed."""
    harness = DeviceHarness()
    before = therapy(harness.pump, harness.head)
    written = harness.pump.event_log.total_written
    payload = bytes.fromhex("00f7000300000000000000000020")
    [answer] = _maced(harness, Op.SET_PATIENT_SETTINGS, payload)
    assert isinstance(answer, m.Nak) and answer.code is ErrorCode.OUT_OF_RANGE
    assert therapy(harness.pump, harness.head) == before
    new = harness.pump.event_log.read(written, 10)
    assert all(e.code is not EventCode.PATIENT_SETTINGS_SET for e in new)
