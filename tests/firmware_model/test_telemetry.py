"""The device side of telemetry, back to back with a ProgrammerSession (no transport)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from emulator.presets import PRESETS
from firmware_model.pump import Pump, PumpStatus
from firmware_model.telemetry import (
    RX_SILENCE_RESET_S,
    TELEMETRY_S_PER_FRAME,
    PumpTelemetry,
    TelemetryLink,
)
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import BolusKind, ErrorCode, EventCode, Flags, Mode, Op, Role
from protocol.errors import NakError
from protocol.frames import Frame, encode_frame
from protocol.session import DeviceSecurity, ProgrammerSession, build_frame
from tests.support import DEMO_KEYS, T0


class Pair:
    """A programmer session wired straight to a telemetry link."""

    def __init__(self, pump: Pump, role: Role = Role.CLINICIAN, seed: int = 5) -> None:
        rng = random.Random(seed)
        self.head = PumpTelemetry(pump, DeviceSecurity(keys=DEMO_KEYS, random_bytes=rng.randbytes))
        self.link = self.head.open_link()
        self.t = T0
        self.now = 0.0
        self.session = ProgrammerSession(key=DEMO_KEYS[role], role=role, random_bytes=rng.randbytes)
        self.deframer = Deframer()
        auth = self.session.receive_open(self.exchange(self.session.start()))
        self.session.receive_auth(self.exchange(auth))

    def exchange(self, data: bytes) -> Frame:
        frames = self.deframer.feed(self.link.receive(data, t=self.t, now_s=self.now))
        assert len(frames) == 1
        return frames[0]

    def call(self, request: m.Message) -> m.Message:
        seq, data = self.session.request(request)
        return self.session.receive(self.exchange(data), seq)


@pytest.fixture
def pump() -> Pump:
    return PRESETS["default"].build(t=T0)


def test_the_pump_runs_the_wire_prescription_and_reads_it_back_unchanged() -> None:
    # No conversion any more: the pump holds the PrescriptionSpec the wire carries.
    for name, setup in PRESETS.items():
        pump = setup.build(t=T0)
        assert pump.prescription == setup.prescription, name
        response = Pair(pump).call(m.ReadPrescriptionRequest())
        assert isinstance(response, m.ReadPrescriptionResponse)
        assert response.prescription == setup.prescription, name
        assert response.checksum == m.prescription_checksum(setup.prescription), name
    weekly = m.PrescriptionSpec.flex_weekly(
        [[m.FlexStep(start_min=0, dose_ng_per_day=100_000 + d * 1000)] for d in range(7)],
        concentration_ug_per_ml=500,
    )
    pump = PRESETS["default"].build(t=T0)
    pump.program(T0, weekly)
    assert Pump.from_bytes(pump.to_bytes()).prescription == weekly


def test_a_retransmitted_bolus_runs_once(pump: Pump) -> None:
    pair = Pair(pump)
    seq, data = pair.session.request(
        m.StartBolusRequest(
            kind=BolusKind.THERAPEUTIC, dose_ng=25_000, volume_nl=0, duration_s=3600
        )
    )
    first = pair.link.receive(data, t=T0, now_s=0)
    again = pair.link.receive(data, t=T0 + 1, now_s=1)
    assert first == again
    assert pair.link.requests_executed == 1
    assert sum(e.code is EventCode.BOLUS_STARTED for e in pump.event_log) == 1
    response = pair.session.receive(Deframer().feed(first)[0], seq)
    assert isinstance(response, m.StartBolusResponse)
    assert response.ends_at_s == T0 + 3600


def test_a_malformed_request_changes_nothing(pump: Pump) -> None:
    pair = Pair(pump)
    before = pump.status()
    executed = pair.link.requests_executed
    # A STAGE whose payload is cut short, properly MAC'd: the session refuses it as MALFORMED.
    seq, data = pair.session.request(
        m.StagePrescriptionRequest(
            prescription=m.PrescriptionSpec.simple(150_000, concentration_ug_per_ml=500)
        )
    )
    frame = Deframer().feed(data)[0]
    key = pair.session._key  # the test plays a programmer with a defective encoder
    assert key is not None
    bad = build_frame(response=False, seq=seq + 1, op=frame.op, payload=frame.payload[:3], key=key)
    answer = Deframer().feed(pair.link.receive(encode_frame(bad), t=T0, now_s=0))[0]
    assert answer.op == 0x7F and answer.payload[0] == ErrorCode.MALFORMED
    assert pair.link.requests_executed == executed
    # Only the radio time is charged to the battery (one frame, exactly); therapy and
    # reservoir are untouched. (STATUS now reports battery_uc, so it is compared apart.)
    status = pump.status()
    assert before.battery_uc - status.battery_uc == (
        TELEMETRY_S_PER_FRAME * pump.profile.battery_telemetry_drain_uc_per_s
    )

    def ignored(s: PumpStatus) -> PumpStatus:
        return dataclasses.replace(s, projected_battery_life_s=0, eri_at_clock_s=0, battery_uc=0)

    assert ignored(status) == ignored(before)
    assert pump.prescription == PRESETS["default"].prescription


def test_forbidden_and_refused_requests_change_no_therapy(pump: Pump) -> None:
    patient = Pair(pump, Role.PATIENT)
    with pytest.raises(NakError) as err:
        patient.call(m.StopPumpRequest(reason=1))  # type: ignore[arg-type]
    assert err.value.code is ErrorCode.FORBIDDEN
    clinician = Pair(pump)
    with pytest.raises(NakError) as err:
        clinician.call(
            m.StageRefillRequest(
                removed_nl=0,
                added_nl=20_000_001,  # more than the reservoir holds
                concentration_ug_per_ml=500,
                allow_nonstandard=False,
                bridge=False,
                drug_lot="",
                prescription=pump.prescription,
            )
        )
    assert err.value.code is ErrorCode.OVERFILL
    status = pump.status()
    assert (status.mode, status.reservoir_nl, status.delivering) == (Mode.SIMPLE, 20_000_000, True)
    security = [e for e in pump.event_log if e.code is EventCode.SECURITY]
    assert [(e.a, e.b) for e in security] == [(ErrorCode.FORBIDDEN, 0x22)]


def test_garbage_gets_no_answer_and_the_link_still_works(pump: Pump) -> None:
    pair = Pair(pump)
    noise = random.Random(9).randbytes(4096)
    assert pair.link.receive(noise.replace(b"\xa5\x5a", b"\x00\x00"), t=T0, now_s=0) == b""
    assert isinstance(pair.call(m.StatusRequest()), m.StatusResponse)


def test_a_defect_is_answered_internal_and_reported(pump: Pump) -> None:
    defects: list[Exception] = []
    head = PumpTelemetry(
        pump,
        DeviceSecurity(keys=DEMO_KEYS, random_bytes=random.Random(1).randbytes),
        on_defect=defects.append,
    )
    link = TelemetryLink(head)
    head.pump = None  # type: ignore[assignment]  # simulate a broken model
    frame = Frame(flags=Flags.NONE, seq=1, op=0x01, payload=b"", mac=None)
    answer = Deframer().feed(link.handle_frame(frame, t=T0, now_s=0))[0]
    assert answer.op == 0x7F and answer.payload[0] == ErrorCode.INTERNAL
    assert len(defects) == 1 and isinstance(defects[0], AttributeError)


def test_a_half_frame_left_by_a_vanished_programmer_is_dropped_after_silence(pump: Pump) -> None:
    pair = Pair(pump)
    assert pair.link.receive(b"\xa5\x5a\x01\x00\x00", t=T0, now_s=0.0) == b""
    seq, data = pair.session.request(m.StatusRequest())
    # Within the silence window the stale header swallows the request ...
    assert pair.link.receive(data, t=T0, now_s=0.1) == b""
    # ... after it, the receiver starts afresh and the retransmission is answered.
    answer = pair.link.receive(data, t=T0, now_s=0.1 + RX_SILENCE_RESET_S + 0.01)
    assert isinstance(pair.session.receive(Deframer().feed(answer)[0], seq), m.StatusResponse)


def test_every_command_routes_its_own_request_class() -> None:
    """The dispatch is typed: each op's handler receives the class the session decodes."""
    from firmware_model.telemetry import _HANDLERS  # noqa: PLC0415 - the private table

    for op, route in _HANDLERS.items():
        assert route.request is m.request_class(op)
    with pytest.raises(TypeError):
        _HANDLERS[Op.STATUS](None, m.ReadClockRequest(), 0)  # type: ignore[arg-type]


def test_requests_arriving_in_one_chunk_get_the_answers_they_get_one_at_a_time() -> None:
    # receive() answers a lone frame without its list-and-join path: both paths must give
    # the same bytes and charge the battery the same (one frame's telemetry each).
    apart, together = (Pair(PRESETS["default"].build(t=T0)) for _ in range(2))
    requests = [m.StatusRequest(), m.ReadPrescriptionRequest(), m.StatusRequest()]
    chunks_apart = [apart.session.request(r)[1] for r in requests]
    chunks_together = [together.session.request(r)[1] for r in requests]
    assert chunks_apart == chunks_together
    answers_apart = b"".join(apart.link.receive(c, t=T0, now_s=0.0) for c in chunks_apart)
    answers_together = together.link.receive(b"".join(chunks_together), t=T0, now_s=0.0)
    assert answers_together == answers_apart
    assert len(Deframer().feed(answers_together)) == 3
    assert together.link.pump.to_bytes() == apart.link.pump.to_bytes()
