"""Decode: a real captured session decoded with the demo keys, a corrupted chunk, a wrong key,
retransmissions and replays, byte accounting under arbitrary chunking, units, the command."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.capture import (
    CaptureFormatError,
    CaptureWriter,
    CapturingEndpoint,
    Chunk,
    Direction,
    read_capture,
)
from emulator.decode import (
    Decoder,
    DecodeSummary,
    DecodeUsageError,
    FrameEvent,
    IncompleteEvent,
    MacCheck,
    NoiseEvent,
    NoteKind,
    add_arguments,
    decode_capture,
    decode_chunks,
    decode_file,
    format_event,
    format_fields,
    run,
)
from emulator.transports import inproc
from protocol import messages as m
from protocol.client import PumpClient
from protocol.codec import Deframer
from protocol.enums import (
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
)
from protocol.errors import NakError
from protocol.frames import Frame, encode_frame
from protocol.keys import DEMO_KEY_FILE
from protocol.session import ProgrammerSession, build_frame, session_key
from tests.support import DEMO_KEYS, T0, InprocPump, inproc_pump

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "captures" / "demo-session.jsonl"
WRONG_KEYS = {Role.CLINICIAN: bytes(range(32)), Role.PATIENT: bytes(range(1, 33))}
_names = itertools.count()

EXPECTED_PAIRS = [
    ("DEVICE_INFO", "DEVICE_INFO"),
    ("SESSION_OPEN", "SESSION_OPEN"),
    ("SESSION_AUTH", "SESSION_AUTH"),
    ("STATUS", "STATUS"),
    ("STAGE_PRESCRIPTION", "STAGE_PRESCRIPTION"),
    ("COMMIT_PRESCRIPTION", "COMMIT_PRESCRIPTION"),
    ("READ_PRESCRIPTION", "READ_PRESCRIPTION"),
    ("START_BOLUS", "START_BOLUS"),
    ("COMMIT_PRESCRIPTION", "NAK"),
    ("SESSION_CLOSE", "SESSION_CLOSE"),
]


class Steps:
    """A wall clock moving 1 ms per reading."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return 1_790_000_000 + self.reads / 1000


@pytest.fixture(scope="module")
def session_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real capture: a PumpClient session with a virtual pump behind a CapturingEndpoint."""
    path = tmp_path_factory.mktemp("capture") / "session.jsonl"
    with inproc_pump() as pump:
        writer = CaptureWriter(
            path, pump_clock=pump.clock.now, wall_clock=Steps(), pump_serial="VP20-000001"
        )
        name = f"capture-test-{next(_names)}"

        def factory() -> CapturingEndpoint:
            return CapturingEndpoint(pump.virtual.endpoint(), writer, "inproc#1")

        with writer, inproc.register(name, factory) as registration:
            with PumpClient(
                registration.url, role=Role.CLINICIAN, random_bytes=random.Random(3).randbytes
            ) as client:
                client.device_info()
                client.open_session(DEMO_KEYS[Role.CLINICIAN])
                client.status()
                client.program(m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500))
                client.start_bolus(dose_ng=25_000, duration_s=600)
                with pytest.raises(NakError) as refused:
                    client.commit(0xDEADBEEF)  # nothing staged: the pump refuses
                assert refused.value.code is ErrorCode.INVALID_STATE
            registration.check()
    return path


def frames(events: tuple[object, ...] | list[object]) -> list[FrameEvent]:
    return [e for e in events if isinstance(e, FrameEvent)]


def pairs(events: tuple[object, ...] | list[object]) -> list[tuple[str, str]]:
    found = frames(events)
    by_number = {f.number: f for f in found}
    return [(by_number[f.answers].op_name, f.op_name) for f in found if f.answers is not None]


# --- a real session --------------------------------------------------------------------------


def test_every_exchange_decodes_and_every_mac_verifies(session_capture: Path) -> None:
    decoding = decode_capture(session_capture, keys=DEMO_KEYS)
    assert pairs(decoding.events) == EXPECTED_PAIRS
    found = frames(decoding.events)
    assert all(f.message is not None and f.payload_error is None for f in found)
    macd = [f for f in found if f.frame.has_mac]
    assert len(macd) == 15  # everything from the SESSION_AUTH answer on
    assert {f.mac for f in macd} == {MacCheck.VERIFIED}
    assert {f.session for f in macd} == {1}
    summary = decoding.summary
    assert (summary.macs_verified, summary.mac_failures, summary.macs_unchecked) == (15, 0, 0)
    assert (summary.sessions, summary.handshake_failures) == (1, 0)
    assert dict(summary.naks_per_code) == {"INVALID_STATE": 1}
    assert summary.frames == 20 and summary.frames_per_op["COMMIT_PRESCRIPTION"] == 3
    assert (summary.bad_frames, summary.noise_bytes, summary.incomplete_bytes) == (0, 0, 0)
    assert summary.links == ("inproc#1",)
    assert decoding.header.pump_serial == "VP20-000001"
    notes = [n.text for f in found for n in f.notes if n.kind is NoteKind.SESSION]
    assert notes == [
        "handshake 1/4: the programmer asks for a CLINICIAN session",
        "handshake 2/4: the pump's nonce and proof",
        "handshake 3/4: the programmer's proof",
        "handshake 4/4: session 1 established (CLINICIAN, idle timeout 300 s (5 min))",
        "closing session 1",
        "session 1 closed",
    ]


def test_the_text_report_shows_units_hex_naks_and_the_summary(session_capture: Path) -> None:
    out = io.StringIO()
    summary = decode_file(session_capture, keys=DEMO_KEYS, out=out)
    text = out.getvalue()
    assert summary == decode_capture(session_capture, keys=DEMO_KEYS).summary
    assert "pump serial VP20-000001" in text.splitlines()[0]
    assert "SEQ 4 STATUS request, 27 bytes, MAC ok, session 1" in text
    assert "reservoir_nl = 20 mL" in text
    assert "model = 20 mL model" in text
    assert "concentration_ug_per_ml = 500 mcg/mL" in text
    assert "dose_ng_per_day = 120 mcg/day" in text
    assert "dose_ng = 25 mcg" in text
    assert "ends_at_s = 2026-09-21T" in text
    assert "mode = SIMPLE" in text
    assert "!! NAK INVALID_STATE: " in text
    assert "the pump's proof verifies with the given key" in text
    assert "hex a55a" in text
    assert "MACs: 15 verified, 0 FAILED, 0 not checked" in text


def test_a_corrupted_chunk_is_a_crc_failure_and_the_frames_after_it_survive(
    session_capture: Path, tmp_path: Path
) -> None:
    lines = session_capture.read_text().splitlines()
    # Line 8 is the STATUS request (header, then 2 chunks per exchange): flip a MAC byte.
    target = json.loads(lines[7])
    data = bytearray.fromhex(target["hex"])
    assert data[6] == Op.STATUS
    data[12] ^= 0x40
    target["hex"] = data.hex()
    lines[7] = json.dumps(target)
    corrupted = tmp_path / "corrupted.jsonl"
    corrupted.write_text("\n".join(lines) + "\n")

    decoding = decode_capture(corrupted, keys=DEMO_KEYS)
    noise = [e for e in decoding.events if isinstance(e, NoiseEvent)]
    assert len(noise) == 1 and noise[0].data == bytes(data)
    assert len(noise[0].bad_frames) == 1 and noise[0].bad_frames[0].crc
    assert noise[0].bad_frames[0].seq == 4 and noise[0].bad_frames[0].op == Op.STATUS
    summary = decoding.summary
    assert (summary.bad_frames, summary.crc_failures, summary.noise_bytes) == (1, 1, len(data))
    assert summary.frames == 19
    assert summary.mac_failures == 0 and summary.macs_verified == 14
    # The pump's answer is still there; only its request was lost.
    assert pairs(decoding.events) == [p for p in EXPECTED_PAIRS if p != ("STATUS", "STATUS")]
    orphan = [f for f in frames(decoding.events) if f.op_name == "STATUS"]
    assert [n.text for n in orphan[0].notes] == ["answers no request in this capture"]
    text = format_event(noise[0])
    assert "27 bytes of bad frame and noise dropped" in text
    assert "CRC failure at +0 (SEQ 4, STATUS): CRC 0x" in text


def test_a_wrong_key_flags_the_proofs_and_every_mac(session_capture: Path) -> None:
    decoding = decode_capture(session_capture, keys=WRONG_KEYS)
    assert decoding.summary.mac_failures == 15
    assert decoding.summary.macs_verified == 0
    assert pairs(decoding.events) == EXPECTED_PAIRS  # still decoded and followed
    alerts = [n.text for f in frames(decoding.events) for n in f.notes if n.kind is NoteKind.ALERT]
    assert sum("proof does NOT verify" in a for a in alerts) == 2
    assert alerts.count("the MAC does not verify") == 15


def test_without_keys_macs_are_not_checked(session_capture: Path) -> None:
    out = io.StringIO()
    summary = decode_file(session_capture, keys=None, out=out)
    assert (summary.macs_unchecked, summary.macs_verified, summary.mac_failures) == (15, 0, 0)
    assert summary.sessions == 1
    assert out.getvalue().count("MAC not checked (no key)") == 15
    patient_only = {Role.PATIENT: DEMO_KEYS[Role.PATIENT]}
    decoding = decode_capture(session_capture, keys=patient_only)
    assert {f.mac for f in frames(decoding.events) if f.frame.has_mac} == {MacCheck.NO_KEY}


def test_the_committed_example_decodes_cleanly() -> None:
    decoding = decode_capture(EXAMPLE, keys=DEMO_KEYS)
    summary = decoding.summary
    assert summary.mac_failures == 0 and summary.macs_verified > 0
    assert (summary.sessions, summary.bad_frames, summary.noise_bytes) == (1, 0, 0)
    assert dict(summary.naks_per_code) == {"OUT_OF_RANGE": 1}
    assert all(f.answers is not None for f in frames(decoding.events) if f.frame.is_response)


# --- sessions driven by hand: retransmissions, replays, failed handshakes -------------------------


@dataclass
class Link:
    """Drives a pump endpoint by hand (bytes in, frames out) while it is captured."""

    endpoint: CapturingEndpoint
    deframer: Deframer
    pump: InprocPump
    path: Path

    def send(self, data: bytes) -> list[Frame]:
        return self.deframer.feed(self.endpoint.receive(data))

    def open(self, session: ProgrammerSession, key: bytes) -> bytes:
        """Run the handshake; returns the session key (derived as an eavesdropper with the key
        would, from the nonces on the wire)."""
        start = session.start()
        [answer] = self.send(start)
        [established] = self.send(session.receive_open(answer))
        session.receive_auth(established)
        request = m.decode_request(Op.SESSION_OPEN, start[9:-2])
        opened = m.decode_response(Op.SESSION_OPEN, answer.payload)
        assert isinstance(request, m.SessionOpenRequest)
        assert isinstance(opened, m.SessionOpenResponse)
        return session_key(key, session.role, request.client_nonce, opened.pump_nonce)


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Link]:
    path = tmp_path / "hand.jsonl"
    with inproc_pump() as pump, CaptureWriter(path, pump_clock=pump.clock.now) as writer:
        endpoint = CapturingEndpoint(pump.virtual.endpoint(), writer, "hand#1")
        yield Link(endpoint=endpoint, deframer=Deframer(), pump=pump, path=path)
        endpoint.close()


def _session(role: Role, seed: int, first_seq: int = 1) -> ProgrammerSession:
    return ProgrammerSession(
        key=DEMO_KEYS[role],
        role=role,
        random_bytes=random.Random(seed).randbytes,
        first_seq=first_seq,
    )


def _alerts(events: tuple[object, ...]) -> list[str]:
    return [n.text for f in frames(events) for n in f.notes if n.kind is NoteKind.ALERT]


def test_retransmissions_replays_and_stale_seqs_are_told_apart(link: Link) -> None:
    session = _session(Role.CLINICIAN, 5)
    key = link.open(session, DEMO_KEYS[Role.CLINICIAN])
    _, first = session.request(m.StatusRequest())  # SEQ 3
    [answer] = link.send(first)
    [again] = link.send(first)  # a retransmission: the cached answer, not run again
    assert encode_frame(again) == encode_frame(answer)
    _, second = session.request(m.ReadClockRequest())  # SEQ 4
    link.send(second)
    [replayed] = link.send(first)  # an older frame: refused
    nak = m.decode_response(replayed.op, replayed.payload)
    assert isinstance(nak, m.Nak) and nak.code is ErrorCode.REPLAY
    stale = build_frame(response=False, seq=3, op=Op.READ_CLOCK, payload=b"", key=key)
    link.send(encode_frame(stale))  # new bytes, old SEQ

    decoding = decode_capture(link.path, keys=DEMO_KEYS)
    summary = decoding.summary
    # Repeated answers: the cached one, and the second REPLAY refusal of SEQ 3 (same bytes).
    assert (summary.retransmissions, summary.replays, summary.repeated_responses) == (1, 2, 2)
    assert summary.mac_failures == 0 and summary.macs_verified == 11
    assert dict(summary.naks_per_code) == {"REPLAY": 2}
    alerts = _alerts(decoding.events)
    assert (
        "retransmission of #5 (same SEQ, same bytes): "
        "the pump answers from its cache and does not run it again"
    ) in alerts
    assert "replay: the bytes of #5 sent again" in alerts
    assert "replay: SEQ 3 does not move forward (last 4)" in alerts
    infos = [n.text for f in frames(decoding.events) for n in f.notes]
    assert "the pump's cached answer: the same bytes as #6" in infos
    assert "the same bytes as #12" in infos


def test_a_bad_programmer_proof_fails_the_handshake(link: Link) -> None:
    session = _session(Role.CLINICIAN, 6)
    link.send(session.start())
    fake = build_frame(response=False, seq=2, op=Op.SESSION_AUTH, payload=bytes(32))
    [nak] = link.send(encode_frame(fake))
    assert nak.op == Op.NAK
    # A MAC'd command with no session: a session-less refusal.
    orphan = build_frame(response=False, seq=3, op=Op.STATUS, payload=b"", key=bytes(32))
    link.send(encode_frame(orphan))
    decoding = decode_capture(link.path, keys=DEMO_KEYS)
    assert (decoding.summary.sessions, decoding.summary.handshake_failures) == (0, 1)
    assert dict(decoding.summary.naks_per_code) == {"AUTH_FAILED": 1, "NO_SESSION": 1}
    found = frames(decoding.events)
    texts = [n.text for f in found for n in f.notes]
    assert (
        "the programmer's proof does NOT verify with the given key (wrong key, or not this pump)"
    ) in texts
    assert "handshake failed: AUTH_FAILED" in texts
    assert found[-2].mac is MacCheck.NO_HANDSHAKE
    assert "MAC not checked (the session's handshake is not in the capture)" in format_event(
        found[-2]
    )


def test_a_new_handshake_replaces_a_session_and_its_frames_are_displaced(link: Link) -> None:
    first = _session(Role.CLINICIAN, 8)
    link.open(first, DEMO_KEYS[Role.CLINICIAN])
    second = _session(Role.PATIENT, 9, first_seq=10)
    link.open(second, DEMO_KEYS[Role.PATIENT])
    _, status = second.request(m.StatusRequest())
    link.send(status)
    _, old = first.request(m.StatusRequest())  # session 1's key: SESSION_DISPLACED
    link.send(old)
    decoding = decode_capture(link.path, keys=DEMO_KEYS)
    texts = [n.text for f in frames(decoding.events) for n in f.notes]
    assert "a new handshake replaces session 1" in texts
    assert "handshake 4/4: session 2 established (PATIENT, idle timeout 300 s (5 min))" in texts
    assert decoding.summary.sessions == 2
    # The stale frame and its answer verify with the displaced session's key.
    assert decoding.summary.mac_failures == 0
    assert decoding.summary.replays == 0
    last = frames(decoding.events)[-1]
    assert isinstance(last.message, m.Nak) and last.message.code is ErrorCode.SESSION_DISPLACED
    assert last.mac is MacCheck.VERIFIED


def test_an_expired_session_ends_when_the_pump_says_so(link: Link) -> None:
    session = _session(Role.CLINICIAN, 10)
    link.open(session, DEMO_KEYS[Role.CLINICIAN])
    link.pump.wall.now += 301  # past the 300 s idle timeout
    _, status = session.request(m.StatusRequest())
    [nak] = link.send(status)
    assert nak.mac is None
    decoding = decode_capture(link.path, keys=DEMO_KEYS)
    last = frames(decoding.events)[-1]
    assert "session 1 is over at the pump (SESSION_EXPIRED)" in [n.text for n in last.notes]
    assert last.mac is MacCheck.ABSENT and last.session == 1


# --- byte accounting, resynchronisation, never raising ---------------------------------------


def _frame_bytes(seq: int, payload: bytes = b"") -> bytes:
    return encode_frame(Frame(flags=Flags.NONE, seq=seq, op=Op.STATUS, payload=payload))


def _chunk(data: bytes, direction: Direction = Direction.TO_PUMP, link: str = "l") -> Chunk:
    return Chunk(wall_s=1.0, pump_s=2, direction=direction, link=link, data=data)


def test_noise_frames_and_leftovers_come_out_in_stream_order() -> None:
    good = _frame_bytes(1)
    bad = bytearray(_frame_bytes(2, b"xyz"))
    bad[-1] ^= 1
    stream = b"\x00\x01" + bytes(bad) + good + b"\xff" + good[:5]
    decoder = Decoder()
    events = []
    for i in range(0, len(stream), 3):  # chunked across frame boundaries
        events += decoder.feed(_chunk(stream[i : i + 3]))
    events += decoder.finish()
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["NoiseEvent", "NoiseEvent", "FrameEvent", "NoiseEvent", "IncompleteEvent"]
    assert [e.data for e in events] == [b"\x00\x01", bytes(bad), good, b"\xff", good[:5]]
    assert isinstance(events[1], NoiseEvent) and events[1].bad_frames[0].crc
    assert isinstance(events[4], IncompleteEvent)
    summary = decoder.summary()
    assert (summary.noise_bytes, summary.incomplete_bytes, summary.bad_frames) == (
        2 + len(bad) + 1,
        5,
        1,
    )
    assert "frame cut off by the end" in format_event(events[4])


def test_a_bad_header_does_not_swallow_the_frame_behind_it() -> None:
    good = _frame_bytes(7)
    events, summary = decode_chunks([_chunk(b"\xa5\x5a\x09\x00" + good)])
    assert [type(e).__name__ for e in events] == ["NoiseEvent", "FrameEvent"]
    assert isinstance(events[0], NoiseEvent)
    assert "bad header: VER is 9" in events[0].bad_frames[0].reason
    assert not events[0].bad_frames[0].crc
    assert (summary.bad_frames, summary.crc_failures) == (1, 0)


def test_links_and_directions_are_reassembled_apart() -> None:
    a, b = _frame_bytes(1), _frame_bytes(2)
    chunks = [
        _chunk(a[:4], link="x"),
        _chunk(b[:6], link="y"),
        _chunk(a[:3], Direction.TO_PROGRAMMER, link="x"),
        _chunk(a[4:], link="x"),
        _chunk(b[6:], link="y"),
    ]
    events, summary = decode_chunks(chunks)
    assert [(e.link, e.data) for e in events if isinstance(e, FrameEvent)] == [("x", a), ("y", b)]
    assert summary.incomplete_bytes == 3 and summary.links == ("x", "y")


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    parts = draw(
        st.lists(
            st.one_of(
                st.binary(max_size=40),
                st.builds(_frame_bytes, st.integers(0, 0xFFFF), st.binary(max_size=20)),
                st.just(b"\xa5\x5a\x01"),
            ),
            max_size=12,
        )
    )
    data = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return data, cuts


@settings(max_examples=60)
@given(streams())
def test_every_byte_is_accounted_for_and_frames_match_the_deframer(
    stream: tuple[bytes, list[int]],
) -> None:
    data, cuts = stream
    pieces = [data[i:j] for i, j in itertools.pairwise([0, *cuts, len(data)])]
    events, summary = decode_chunks(_chunk(piece) for piece in pieces)
    assert b"".join(e.data for e in events) == data
    expected = Deframer()
    assert [e.frame for e in events if isinstance(e, FrameEvent)] == expected.feed(data)
    assert summary.bad_frames == expected.bad_frames
    assert summary.noise_bytes == expected.dropped_bytes
    for event in events:
        format_event(event)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Direction)), st.sampled_from(["a", "b"]), st.binary()),
        max_size=10,
    ),
    st.booleans(),
)
def test_garbage_never_raises(chunks: list[tuple[Direction, str, bytes]], keyed: bool) -> None:
    decoder = Decoder(keys=DEMO_KEYS if keyed else None)
    for direction, link, data in chunks:
        for event in decoder.feed(_chunk(data, direction, link)):
            format_event(event)
    decoder.finish()
    decoder.summary()


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Direction)),
            st.integers(0, 7).map(Flags),
            st.integers(0, 5),
            st.sampled_from([int(op) for op in Op] + [0x00, 0x5B]),
            st.binary(max_size=40),
        ),
        max_size=12,
    ),
)
def test_well_framed_nonsense_never_raises(
    frames_: list[tuple[Direction, Flags, int, int, bytes]],
) -> None:
    decoder = Decoder(keys=DEMO_KEYS)
    for direction, flags, seq, op, payload in frames_:
        mac = bytes(16) if flags & Flags.MAC else None
        frame = Frame(flags=flags, seq=seq, op=op, payload=payload, mac=mac)
        for event in decoder.feed(_chunk(encode_frame(frame), direction)):
            assert isinstance(event, FrameEvent)
            format_event(event)
    assert decoder.summary().frames == len(frames_)


# --- formatting with units -------------------------------------------------------------------


def test_fields_are_shown_with_units_and_names() -> None:
    status = m.StatusResponse(
        clock_s=T0,
        mode=Mode.FLEX,
        stop_reason=StopReason.NONE,
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
        daily_dose_ng=501_000,
        daily_volume_nl=250_500,
        concentration_ug_per_ml=2000,
        bridge_remaining_nl=120_000,
        bridge_concentration_ug_per_ml=500,
        bridge_ends_at_s=T0 + 3_600,
        basal_remainder=0,
        reservoir_nl=18_500_000,
        capacity_nl=40_000_000,
        alarm_volume_nl=2_000_000,
        alarms_active=frozenset({AlarmCode.LOW_RESERVOIR, AlarmCode.ERI}),
        alarms_silenced=frozenset(),
        low_reservoir_alarm_at_s=None,
        empty_at_s=T0 + 86_400,
        battery_permille=735,
        battery_uc=123_456,
        eri_at_s=None,
        prescription_checksum=0xABC,
        delivering=False,
        recent_doses=(),
    )
    lines = format_fields(status)
    assert "clock_s = 2026-09-21T14:13:20Z" in lines
    assert "empty_at_s = 2026-09-22T14:13:20Z" in lines
    assert "current_rate_nl_per_day = 0.2 mL/day" in lines
    assert "reservoir_nl = 18.5 mL" in lines
    assert "concentration_ug_per_ml = 2000 mcg/mL" in lines
    assert "alarms_active = ERI, LOW_RESERVOIR" in lines
    assert "alarms_silenced = none" in lines
    assert "bolus_ends_at_s = none" in lines
    assert "battery_permille = 73.5 %" in lines
    assert "prescription_checksum = 0x00000ABC" in lines
    assert "delivering = no" in lines
    assert "daily_dose_ng = 501 mcg/day" in lines
    assert "daily_volume_nl = 0.2505 mL/day" in lines
    assert "bridge_remaining_nl = 0.12 mL" in lines
    assert "bridge_concentration_ug_per_ml = 500 mcg/mL" in lines
    assert "bridge_ends_at_s = 2026-09-21T15:13:20Z" in lines
    assert "battery_uc = 123456 µC" in lines


def test_nested_records_prescriptions_and_log_entries() -> None:
    flex = m.PrescriptionSpec.flex(
        [
            m.FlexStep(start_min=0, dose_ng_per_day=100_000),
            m.FlexStep(start_min=450, dose_ng_per_day=300_500),
        ],
        concentration_ug_per_ml=2000,
    )
    assert format_fields(m.StagePrescriptionRequest(prescription=flex)) == [
        "prescription:",
        "  mode = FLEX",
        "  concentration_ug_per_ml = 2000 mcg/mL",
        "  profile (every day):",
        "    from 00:00: 100 mcg/day",
        "    from 07:30: 300.5 mcg/day",
    ]
    implant = m.SetImplantRequest(
        implant=m.ImplantFields(
            catheter_model="IT-8709SC",
            catheter_volume_nl_per_cm=2_600,
            catheter_length_mm=1_105,
            catheter_length_uncertainty_mm=20,
            implanted_at_s=T0,
            patient_id="P-1",
            origin=Origin.SPINAL,
            physician="Dr A",
        )
    )
    assert format_fields(implant) == [
        "implant = catheter_model = 'IT-8709SC', catheter_volume_nl_per_cm = 0.0026 mL/cm, "
        "catheter_length_mm = 110.5 cm, catheter_length_uncertainty_mm = 2 cm, "
        "implanted_at_s = 2026-09-21T14:13:20Z, patient_id = 'P-1', origin = SPINAL, "
        "physician = 'Dr A'"
    ]
    log = m.ReadEventLogResponse(
        total_written=2,
        overwritten=0,
        entries=(
            m.LogEntry(index=0, clock_s=T0, code=EventCode.REFILLED, a=18_000_000, b=500),
            m.LogEntry(index=1, clock_s=T0, code=EventCode.CLOCK_SET, a=-3700, b=0),
        ),
    )
    assert format_fields(log)[2:] == [
        "entries: 2",
        "  [0] #0 2026-09-21T14:13:20Z REFILLED: added_nl = 18 mL, "
        "concentration_ug_per_ml = 500 mcg/mL",
        "  [1] #1 2026-09-21T14:13:20Z CLOCK_SET: delta_s = -3700 s (-1 h 1 min 40 s)",
    ]
    alarms = m.ReadAlarmsResponse(
        alarms=(
            m.AlarmRecord(
                code=AlarmCode.EOS,
                alarm_class=AlarmClass.CRITICAL,
                raised_at_s=T0,
                silenced=True,
                condition_present=True,
            ),
        )
    )
    assert format_fields(alarms)[1] == (
        "  [0] code = EOS, alarm_class = CRITICAL, raised_at_s = 2026-09-21T14:13:20Z, "
        "silenced = yes, condition_present = yes"
    )


def test_times_no_calendar_holds_do_not_raise() -> None:
    lines = format_fields(m.ReadClockResponse(clock_s=2**64 - 1))
    assert lines == [f"clock_s = {2**64 - 1} s (Unix, out of calendar range)"]


# --- the summary, the command, errors --------------------------------------------------------


def test_summaries_are_validated_and_read_only() -> None:
    with pytest.raises(DecodeUsageError):
        DecodeSummary(frames=-1)
    with pytest.raises(DecodeUsageError):
        DecodeSummary(frames_per_op={"STATUS": -2})
    with pytest.raises(DecodeUsageError):
        DecodeSummary(truncated_line=0)
    summary = DecodeSummary(frames_per_op={"STATUS": 2})
    with pytest.raises(TypeError):
        summary.frames_per_op["STATUS"] = 3  # type: ignore[index]
    with pytest.raises(DecodeUsageError):
        Decoder(keys={Role.CLINICIAN: b"short"})


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="decode")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_command_decodes_writes_pcap_and_reports_bad_files(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    pcap = tmp_path / "out.pcapng"
    args = _parse(str(EXAMPLE), "--keys", str(DEMO_KEY_FILE), "--no-hex", "--pcap", str(pcap))
    assert run(args, out=out, err=err) == 0
    assert "hex " not in out.getvalue() and "MAC ok" in out.getvalue()
    assert f"wrote 22 packets to {pcap}" in out.getvalue()
    assert pcap.read_bytes() == EXAMPLE.with_suffix(".pcapng").read_bytes()
    assert err.getvalue() == ""

    out = io.StringIO()
    assert run(_parse(str(EXAMPLE), "--summary-only", "--link", "pumpsim#1"), out=out) == 0
    assert "#0001" not in out.getvalue() and "MACs: 0 verified, 0 FAILED, 17 not checked" in (
        out.getvalue()
    )

    bad = tmp_path / "bad.jsonl"
    bad.write_text(EXAMPLE.read_text().replace('"dir": "to_pump"', '"dir": 7', 1))
    err = io.StringIO()
    assert run(_parse(str(bad)), out=io.StringIO(), err=err) == 2
    assert err.getvalue().startswith(f"decode: error: {bad}:2: ")
    err = io.StringIO()
    assert run(_parse(str(EXAMPLE), "--keys", str(tmp_path / "none.key")), err=err) == 2
    assert "cannot read key file" in err.getvalue()


def test_a_malformed_line_stops_decoding_with_its_number(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    lines[5] = lines[5][:-1]  # a missing brace in the middle is not a crash's cut-off line
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CaptureFormatError) as info:
        decode_file(bad, out=io.StringIO())
    assert info.value.line == 6


def test_a_cut_off_last_line_is_reported_in_the_summary(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) - 30])
    out = io.StringIO()
    summary = decode_file(cut, keys=DEMO_KEYS, out=out)
    assert summary.truncated_line == len(read_capture(EXAMPLE)[1]) + 1
    assert f"line {summary.truncated_line} was cut off mid-write" in out.getvalue()
