"""The deframer: resynchronisation, partial frames, fuzzing, bounded memory."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import messages as m
from protocol.codec import Deframer, Dropped, Received, Segment, decode_message
from protocol.enums import MAX_PAYLOAD, ErrorCode, Flags, Op
from protocol.errors import FrameFault, MalformedPayload, UnknownOpcodeError
from protocol.frames import MAX_FRAME_SIZE, SYNC, Frame, encode_frame
from tests.protocol.vectors import VECTORS

PROFILE = settings(max_examples=120, derandomize=True, deadline=None)

GOOD = [v.frame for v in VECTORS if len(v.frame.payload) < 200]
# No SYNC byte in the padding, so every frame still pending gets completed and checked.
FLUSH = b"\x00" * MAX_FRAME_SIZE

good_frames = st.builds(
    lambda flags, seq, op, payload, mac: Frame(
        flags=Flags(flags), seq=seq, op=op, payload=payload, mac=mac if flags & 2 else None
    ),
    flags=st.integers(0, 7),
    seq=st.integers(0, 0xFFFF),
    op=st.integers(0, 0xFF),
    payload=st.binary(max_size=64),
    mac=st.binary(min_size=16, max_size=16),
) | st.sampled_from(GOOD)


def _corrupt_frame(data: st.DataObject) -> bytes:
    """Garbage that looks like a frame: truncated, bit-flipped, or a bare header."""
    wire = bytearray(encode_frame(data.draw(good_frames, label="victim")))
    kind = data.draw(st.sampled_from(["truncate", "flip", "header", "sync"]), label="kind")
    if kind == "truncate":
        return bytes(wire[: data.draw(st.integers(1, len(wire) - 1), label="cut")])
    if kind == "flip":
        position = data.draw(st.integers(2, len(wire) - 1), label="position")
        wire[position] ^= data.draw(st.integers(1, 255), label="xor")
        return bytes(wire)
    if kind == "header":
        length = data.draw(st.integers(0, 0xFFFF), label="len")
        return SYNC + bytes([1, 0]) + b"\x00\x01\x10" + length.to_bytes(2, "big")
    return SYNC


def _chunks(data: st.DataObject, stream: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def _feed_all(deframer: Deframer, chunks: list[bytes]) -> list[Frame]:
    out: list[Frame] = []
    for chunk in chunks:
        out += deframer.feed(chunk)
        assert deframer.buffered < MAX_FRAME_SIZE
    return out


def _is_subsequence(wanted: list[Frame], got: list[Frame]) -> bool:
    remaining = iter(got)
    return all(any(frame == candidate for candidate in remaining) for frame in wanted)


def test_frames_back_to_back() -> None:
    deframer = Deframer()
    stream = b"".join(encode_frame(frame) for frame in GOOD)
    assert deframer.feed(stream) == GOOD
    assert (deframer.frames, deframer.dropped_bytes, deframer.bad_frames) == (len(GOOD), 0, 0)
    assert deframer.buffered == 0


def test_byte_by_byte() -> None:
    deframer = Deframer()
    out: list[Frame] = []
    for byte in b"".join(encode_frame(frame) for frame in GOOD):
        out += deframer.feed(bytes([byte]))
    assert out == GOOD


def test_a_corrupt_frame_costs_only_its_first_sync_byte() -> None:
    good = encode_frame(Frame(flags=Flags.NONE, seq=2, op=Op.STATUS))
    bad = bytearray(encode_frame(Frame(flags=Flags.NONE, seq=1, op=Op.STATUS, payload=b"xy")))
    bad[-1] ^= 0xFF  # CRC mismatch
    deframer = Deframer()
    assert deframer.feed(bytes(bad) + good) == [Frame(flags=Flags.NONE, seq=2, op=Op.STATUS)]
    assert deframer.bad_frames == 1
    assert deframer.dropped_bytes == len(bad)


def test_a_good_frame_inside_a_long_announced_frame_is_found() -> None:
    # A header that announces 1024 bytes, then a good frame, then the rest of the stream.
    liar = SYNC + bytes([1, 0, 0, 1, Op.STATUS]) + MAX_PAYLOAD.to_bytes(2, "big")
    good = Frame(flags=Flags.RESPONSE, seq=7, op=Op.READ_CLOCK, payload=b"12345678")
    deframer = Deframer()
    assert deframer.feed(liar + encode_frame(good)) == []  # still waiting for 1024 bytes
    assert deframer.feed(FLUSH) == [good]
    assert deframer.bad_frames == 1


def test_bad_headers_are_rejected_without_waiting() -> None:
    for header in (
        SYNC + bytes([2, 0, 0, 1, 0x10, 0, 0]),  # VER 2
        SYNC + bytes([1, 0x08, 0, 1, 0x10, 0, 0]),  # undefined FLAGS bit
        SYNC + bytes([1, 0, 0, 1, 0x10, 0x04, 0x01]),  # LEN 1025
    ):
        deframer = Deframer()
        assert deframer.feed(header) == []
        assert deframer.bad_frames == 1
        assert deframer.buffered == 0  # nothing left that starts with SYNC


def test_a_trailing_first_sync_byte_is_kept() -> None:
    wire = encode_frame(Frame(flags=Flags.NONE, seq=3, op=Op.STATUS))
    deframer = Deframer()
    assert deframer.feed(b"junk" + wire[:1]) == []
    assert deframer.buffered == 1
    assert deframer.feed(wire[1:]) == [Frame(flags=Flags.NONE, seq=3, op=Op.STATUS)]
    assert deframer.dropped_bytes == 4


def test_reset_forgets_a_partial_frame() -> None:
    wire = encode_frame(Frame(flags=Flags.NONE, seq=3, op=Op.STATUS))
    deframer = Deframer()
    deframer.feed(wire[:5])
    deframer.reset()
    assert deframer.buffered == 0 and deframer.dropped_bytes == 5
    assert deframer.feed(wire) == [Frame(flags=Flags.NONE, seq=3, op=Op.STATUS)]


@given(st.lists(st.binary(max_size=400), max_size=8))
@PROFILE
def test_random_bytes_never_raise_and_are_all_accounted_for(chunks: list[bytes]) -> None:
    deframer = Deframer()
    frames = _feed_all(deframer, chunks)
    consumed = sum(len(encode_frame(frame)) for frame in frames)
    assert consumed + deframer.dropped_bytes + deframer.buffered == sum(map(len, chunks))
    assert deframer.frames == len(frames)


@given(st.lists(good_frames, min_size=1, max_size=6), st.data())
@PROFILE
def test_good_frames_survive_garbage_between_them(frames: list[Frame], data: st.DataObject) -> None:
    parts: list[bytes] = []
    for frame in frames:
        garbage = data.draw(st.lists(st.binary(max_size=30), max_size=3), label="garbage")
        parts += garbage
        if data.draw(st.booleans(), label="fake"):
            parts.append(_corrupt_frame(data))
        parts.append(encode_frame(frame))
    stream = b"".join(parts) + FLUSH
    got = _feed_all(Deframer(), _chunks(data, stream))
    # Garbage may form an extra valid frame by chance (1 in 65536), never hide a good one.
    assert _is_subsequence(frames, got)


@given(good_frames, st.data())
@PROFILE
def test_a_mutated_frame_never_hides_the_next_one(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(encode_frame(frame))
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    wire[position] ^= data.draw(st.integers(1, 255), label="xor")
    follower = Frame(flags=Flags.RESPONSE, seq=0xBEEF, op=Op.STATUS, payload=b"after")
    got = _feed_all(Deframer(), [bytes(wire), encode_frame(follower), FLUSH])
    assert got[-1] == follower
    assert got.count(follower) == 1


@given(st.lists(good_frames, max_size=5), st.data())
@PROFILE
def test_chunking_does_not_change_the_result(frames: list[Frame], data: st.DataObject) -> None:
    noise = data.draw(st.binary(max_size=50), label="noise")
    stream = noise + b"".join(encode_frame(frame) for frame in frames) + noise
    whole = Deframer().feed(stream)
    assert _feed_all(Deframer(), _chunks(data, stream)) == whole


def test_memory_stays_bounded_under_sync_heavy_junk() -> None:
    rng = random.Random(20240601)
    deframer = Deframer()
    for _ in range(200):
        junk = bytearray(rng.randbytes(2000))
        for _ in range(50):  # sprinkle plausible headers announcing big payloads
            at = rng.randrange(len(junk) - 9)
            junk[at : at + 9] = SYNC + bytes([1, 0, 0, 1, 0x10, 0x03, 0xFF])
        deframer.feed(bytes(junk))
        assert deframer.buffered < MAX_FRAME_SIZE
    assert deframer.bad_frames > 0


# --- following a link byte for byte (Deframer.follow) ------------------------------------------


@given(st.lists(good_frames, max_size=5), st.data())
@PROFILE
def test_follow_accounts_for_every_byte_in_order(frames: list[Frame], data: st.DataObject) -> None:
    parts: list[bytes] = []
    for frame in frames:
        parts += data.draw(st.lists(st.binary(max_size=30), max_size=2), label="garbage")
        if data.draw(st.booleans(), label="fake"):
            parts.append(_corrupt_frame(data))
        parts.append(encode_frame(frame))
    stream = b"".join(parts)
    following, feeding = Deframer(), Deframer()
    segments = [s for chunk in _chunks(data, stream) for s in following.follow(chunk)]
    # The same frames as a receiver, the same counters, and every byte in stream order.
    assert [s.frame for s in segments if isinstance(s, Received)] == feeding.feed(stream)
    assert b"".join(s.data for s in segments) + following.held == stream
    assert (following.frames, following.dropped_bytes, following.bad_frames) == (
        feeding.frames,
        feeding.dropped_bytes,
        feeding.bad_frames,
    )
    for segment in segments:
        if isinstance(segment, Received):
            assert encode_frame(segment.frame) == segment.data
        else:
            assert segment.data  # never an empty run
            for rejected in segment.rejected:
                assert segment.data[rejected.offset] == SYNC[0]
    assert sum(len(s.rejected) for s in segments if isinstance(s, Dropped)) == following.bad_frames


def test_follow_names_each_rejected_candidate_and_where_it_stands() -> None:
    good = encode_frame(Frame(flags=Flags.NONE, seq=2, op=Op.STATUS))
    bad = bytearray(encode_frame(Frame(flags=Flags.NONE, seq=1, op=Op.STATUS, payload=b"xy")))
    bad[-1] ^= 0xFF  # CRC mismatch
    header = SYNC + bytes([2, 0, 0, 9, 0x10, 0, 0])  # VER 2
    deframer = Deframer()
    first, frame = deframer.follow(b"noise" + bytes(bad) + header + good)
    assert frame == Received(Frame(flags=Flags.NONE, seq=2, op=Op.STATUS), good)
    assert isinstance(first, Dropped)
    assert first.data == b"noise" + bytes(bad) + header
    crc, version = first.rejected
    assert (crc.offset, crc.fault, crc.in_header, crc.seq, crc.op) == (
        5,
        FrameFault.CRC,
        False,
        1,
        Op.STATUS,
    )
    assert crc.reason == str(crc.error)
    assert (version.offset, version.fault, version.in_header, version.seq) == (
        5 + len(bad),
        FrameFault.VERSION,
        True,
        9,
    )
    assert version.reason.startswith("bad header: VER is 2")


def test_follow_holds_a_partial_frame_and_says_nothing_of_it() -> None:
    wire = encode_frame(Frame(flags=Flags.NONE, seq=3, op=Op.STATUS))
    deframer = Deframer()
    assert deframer.follow(b"ab" + wire[:4]) == [Dropped(b"ab", ())]
    assert deframer.held == wire[:4]
    assert deframer.follow(wire[4:]) == [
        Received(Frame(flags=Flags.NONE, seq=3, op=Op.STATUS), wire)
    ]
    assert deframer.held == b""


def test_decode_message_reads_the_payload_by_the_frames_direction() -> None:
    request = Frame(flags=Flags.NONE, seq=1, op=Op.STATUS)
    assert decode_message(request) == m.StatusRequest()
    nak = m.Nak(code=ErrorCode.FORBIDDEN, reason="no")
    response = Frame(flags=Flags.RESPONSE, seq=1, op=Op.NAK, payload=m.encode_payload(nak))
    assert decode_message(response) == nak
    with pytest.raises(MalformedPayload):
        decode_message(Frame(flags=Flags.NONE, seq=1, op=Op.STATUS, payload=b"x"))
    with pytest.raises(UnknownOpcodeError):
        decode_message(Frame(flags=Flags.NONE, seq=1, op=Op.NAK))  # NAK is no request


class _HuntOnly(Deframer):
    """The deframer without its whole-frame fast path: every chunk is hunted through."""

    def feed(self, data: bytes) -> list[Frame]:
        return [s.frame for s in self._hunt(data) if isinstance(s, Received)]


@PROFILE
@given(data=st.data())
def test_whole_frame_fast_path_equals_hunting(data: st.DataObject) -> None:
    """A chunk that is exactly one frame takes the fast path; whatever the chunks (whole
    frames, garbage, corrupt frames, frames split anywhere), the frames returned and every
    counter are those of hunting byte by byte, after every chunk."""
    pieces = data.draw(
        st.lists(
            st.one_of(
                good_frames.map(encode_frame),
                st.builds(_corrupt_frame, st.data()),
                st.binary(max_size=12),
            ),
            max_size=10,
        ),
        label="pieces",
    )
    chunks: list[bytes] = []
    for piece in pieces:
        # Whole pieces most of the time (the fast path's case), split now and then.
        chunks += [piece] if data.draw(st.booleans(), label="whole") else _chunks(data, piece)
    fast, hunt = Deframer(), _HuntOnly()
    for chunk in chunks:
        assert fast.feed(chunk) == hunt.feed(chunk)
        assert (fast.frames, fast.bad_frames, fast.dropped_bytes, fast.buffered) == (
            hunt.frames,
            hunt.bad_frames,
            hunt.dropped_bytes,
            hunt.buffered,
        )


def test_whole_frames_take_the_fast_path() -> None:
    """One whole frame per chunk never reaches hunting (what the fast path is for)."""
    hunted: list[bytes] = []

    class Watched(Deframer):
        def _hunt(self, data: bytes) -> list[Segment]:
            hunted.append(data)
            return super()._hunt(data)

    deframer = Watched()
    frames = [v.frame for v in VECTORS]
    assert [f for v in frames for f in deframer.feed(encode_frame(v))] == frames
    assert hunted == []
    assert deframer.feed(encode_frame(frames[0])[:-1]) == []
    assert len(hunted) == 1
