"""The fixed wire framing (design.md), as a construct schema and a fast path.

::

    offset  size  field
    0       2     SYNC    0xA5 0x5A
    2       1     VER     0x01
    3       1     FLAGS   bit0 RESPONSE, bit1 MAC, bit2 NOTIFY, others 0
    4       2     SEQ     uint16 big-endian
    6       1     OP      opcode
    7       2     LEN     payload length, uint16 big-endian, at most 1024
    9       LEN   PAYLOAD
    ..      16    MAC     only when FLAGS has MAC
    ..      2     CRC     CRC-16/CCITT-FALSE over VER .. end of MAC, big-endian

:data:`FRAME` (construct) is the source of truth: the documentation is
generated from it and the golden vectors are checked against it.
:func:`encode_frame` and :func:`decode_frame` are a hand-rolled ``struct``
path that the tests prove byte-identical to the schema, because construct's
generic parser costs about 40 times a plain ``struct`` round trip.
"""

from __future__ import annotations

import binascii
import struct
from typing import TYPE_CHECKING, Any, Final

from protocol.enums import MAX_PAYLOAD, PROTOCOL_VERSION, Flags
from protocol.errors import FrameError, FrameFault, InvalidMessage
from protocol.frozen import frozen

SYNC: Final = b"\xa5\x5a"
"""The two bytes every frame starts with."""
HEADER_SIZE: Final = 9
"""SYNC through LEN."""
MAC_SIZE: Final = 16
"""Bytes of the truncated HMAC-SHA256 carried when FLAGS has MAC."""
CRC_SIZE: Final = 2
MIN_FRAME_SIZE: Final = HEADER_SIZE + CRC_SIZE
"""An empty payload without MAC."""
MAX_FRAME_SIZE: Final = HEADER_SIZE + MAX_PAYLOAD + MAC_SIZE + CRC_SIZE
"""The longest valid frame (1051 bytes); a receiver never needs to hold more."""
KNOWN_FLAGS: Final = int(Flags.RESPONSE | Flags.MAC | Flags.NOTIFY)
"""Every FLAGS bit the protocol defines; any other bit makes the frame invalid."""
_MAC_BIT: Final = int(Flags.MAC)
_RESPONSE_BIT: Final = int(Flags.RESPONSE)
_NOTIFY_BIT: Final = int(Flags.NOTIFY)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout)."""
    return binascii.crc_hqx(data, 0xFFFF)


# --- the schema: the single source of truth --------------------------------
#
# Built (and construct imported) the first time FRAME or FRAME_BODY is named: the fast
# path below serves every frame without it.

if TYPE_CHECKING:
    from construct import Construct

    FRAME_BODY: Construct
    """VER through MAC: the bytes the CRC covers."""
    FRAME: Construct
    """One whole frame, exactly (trailing bytes are an error)."""

_SCHEMAS: dict[str, Construct] = {}


def _schemas() -> dict[str, Construct]:
    """``{"FRAME_BODY": ..., "FRAME": ...}``, built on first use."""
    if not _SCHEMAS:
        from construct import (  # noqa: PLC0415 - the reference path and the docs only
            Bytes,
            Checksum,
            Const,
            ExprValidator,
            If,
            Int8ub,
            Int16ub,
            RawCopy,
            Rebuild,
            Struct,
            Terminated,
            len_,
            obj_,
            this,
        )

        body = Struct(
            "ver" / Const(PROTOCOL_VERSION, Int8ub),
            "flags" / ExprValidator(Int8ub, (obj_ & (0xFF ^ KNOWN_FLAGS)) == 0),
            "seq" / Int16ub,
            "op" / Int8ub,
            "len" / Rebuild(ExprValidator(Int16ub, obj_ <= MAX_PAYLOAD), len_(this.payload)),
            "payload" / Bytes(this.len),
            "mac" / If((this.flags & int(Flags.MAC)) != 0, Bytes(MAC_SIZE)),
        )
        _SCHEMAS["FRAME_BODY"] = body
        _SCHEMAS["FRAME"] = Struct(
            "sync" / Const(SYNC),
            "body" / RawCopy(body),
            "crc" / Checksum(Int16ub, crc16, this.body.data),
            Terminated,
        )
    return _SCHEMAS


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """:data:`FRAME` and :data:`FRAME_BODY`, built when first named."""
        if name in ("FRAME", "FRAME_BODY"):
            return _schemas()[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@frozen(slots=True)
class Frame:
    """One frame; validated on construction, so an invalid frame cannot be built.

    ``op`` is any byte (not only a known :class:`~protocol.enums.Op`) so that a
    receiver can hold, and NAK, a frame with an opcode it does not know.
    ``mac`` is present exactly when ``flags`` has :attr:`Flags.MAC`.
    """

    flags: Flags
    seq: int
    op: int
    payload: bytes = b""
    mac: bytes | None = None

    def __post_init__(self) -> None:
        flags = self.flags
        # Plain int arithmetic: IntFlag operators cost ~0.4 us each.
        if type(flags) is Flags:
            bits = flags._value_
        elif isinstance(flags, int) and not isinstance(flags, bool) and 0 <= flags <= 0xFF:
            bits = int(flags)
        else:
            raise InvalidMessage(f"flags must be Flags, got {flags!r}")
        if bits & ~KNOWN_FLAGS:
            raise InvalidMessage(f"flags 0x{bits:02X} has bits the protocol does not define")
        if type(flags) is not Flags:
            object.__setattr__(self, "flags", _FLAGS_BY_VALUE[bits])
        if type(self.seq) is not int or not 0 <= self.seq <= 0xFFFF:
            raise InvalidMessage(f"seq must be an int in 0..65535, got {self.seq!r}")
        if not isinstance(self.op, int) or isinstance(self.op, bool) or not 0 <= self.op <= 0xFF:
            raise InvalidMessage(f"op must be an int in 0..255, got {self.op!r}")
        if type(self.payload) is not bytes or len(self.payload) > MAX_PAYLOAD:
            raise InvalidMessage(f"payload must be bytes of at most {MAX_PAYLOAD}")
        if bits & _MAC_BIT:
            if type(self.mac) is not bytes or len(self.mac) != MAC_SIZE:
                raise InvalidMessage(f"FLAGS has MAC, so mac must be {MAC_SIZE} bytes")
        elif self.mac is not None:
            raise InvalidMessage("mac given but FLAGS has no MAC bit")

    @property
    def is_response(self) -> bool:
        """FLAGS has RESPONSE (pump to programmer)."""
        return bool(self.flags._value_ & _RESPONSE_BIT)

    @property
    def is_notify(self) -> bool:
        """FLAGS has NOTIFY (unsolicited, from the pump)."""
        return bool(self.flags._value_ & _NOTIFY_BIT)

    @property
    def has_mac(self) -> bool:
        """FLAGS has MAC, so ``mac`` holds 16 bytes."""
        return self.mac is not None

    def authenticated_bytes(self) -> bytes:
        """Bytes from VER to the end of PAYLOAD: the input of the MAC."""
        return authenticated_bytes(flags=self.flags, seq=self.seq, op=self.op, payload=self.payload)


_FLAGS_BY_VALUE: Final = tuple(Flags(value) for value in range(KNOWN_FLAGS + 1))
# "!2sBBHBH" is SYNC, VER, FLAGS, SEQ, OP, LEN; "!BBHBH" the same without SYNC.
_HEADER: Final = struct.Struct("!2sBBHBH")
_CRC: Final = struct.Struct("!H")
_crc_hqx: Final = binascii.crc_hqx
_UNKNOWN_FLAGS: Final = ~KNOWN_FLAGS & 0xFF
_AUTH_HEADER: Final = struct.Struct("!BBHBH")


def authenticated_bytes(*, flags: int, seq: int, op: int, payload: bytes) -> bytes:
    """The MAC input of a frame with these fields (VER through PAYLOAD).

    Lets a sender compute the MAC before the :class:`Frame` (which needs it) exists.
    """
    return _AUTH_HEADER.pack(PROTOCOL_VERSION, flags, seq, op, len(payload)) + payload


# --- the fast path ----------------------------------------------------------


def encode_frame(frame: Frame) -> bytes:
    """The wire bytes of ``frame`` (identical to ``FRAME.build``, but fast: the header
    packed once and the frame built in one concatenation)."""
    payload, mac = frame.payload, frame.mac
    head = _HEADER.pack(
        SYNC, PROTOCOL_VERSION, frame.flags._value_, frame.seq, frame.op, len(payload)
    )
    body = head + payload if mac is None else head + payload + mac
    return body + _CRC.pack(_crc_hqx(body[2:], 0xFFFF))


def frame_length(header: bytes) -> int:
    """Total length of the frame whose first :data:`HEADER_SIZE` bytes are ``header``.

    Checks SYNC, VER, FLAGS and LEN first, so a receiver can reject a corrupt
    header before waiting for the bytes it announces.

    Raises:
        FrameError: with ``reason`` LENGTH (fewer than HEADER_SIZE bytes, or LEN over
            MAX_PAYLOAD), SYNC, VERSION or FLAGS.
    """
    if len(header) < HEADER_SIZE:
        raise FrameError(
            f"a frame header is {HEADER_SIZE} bytes, got {len(header)}", reason=FrameFault.LENGTH
        )
    sync, ver, flags, _seq, _op, length = _HEADER.unpack_from(header)
    length = int(length)
    if sync != SYNC:
        raise FrameError(
            f"frame starts with {sync.hex()}, not SYNC {SYNC.hex()}", reason=FrameFault.SYNC
        )
    if ver != PROTOCOL_VERSION:
        raise FrameError(
            f"VER is {ver}, this protocol is version {PROTOCOL_VERSION}",
            reason=FrameFault.VERSION,
        )
    if flags & ~KNOWN_FLAGS:
        raise FrameError(f"FLAGS 0x{flags:02X} has undefined bits", reason=FrameFault.FLAGS)
    if length > MAX_PAYLOAD:
        raise FrameError(
            f"LEN {length} is over the maximum {MAX_PAYLOAD}", reason=FrameFault.LENGTH
        )
    mac = MAC_SIZE if flags & _MAC_BIT else 0
    return HEADER_SIZE + length + mac + CRC_SIZE


def decode_frame(data: bytes) -> Frame:
    """Parse exactly one whole frame (identical to ``FRAME.parse``, but fast).

    The header is unpacked once and every check of :func:`frame_length` and the CRC made
    on it; a frame that fails any of them goes to the checked path, which names the fault.

    Raises:
        FrameError: its ``reason`` names what is wrong (sync, version, flags,
            length or CRC). Never anything else.
    """
    if type(data) is not bytes:
        data = bytes(data)
    frame = whole_frame(data)
    return _decode_checked(data) if frame is None else frame


def whole_frame(data: bytes) -> Frame | None:
    """The frame ``data`` (bytes) is exactly, or None when it is not one valid frame (then
    :func:`decode_frame` names what is wrong). The fast path of :func:`decode_frame`: the
    header unpacked once and every check of :func:`frame_length` and the CRC made on it."""
    if len(data) < HEADER_SIZE + CRC_SIZE:
        return None
    sync, ver, flags, seq, op, length = _HEADER.unpack_from(data)
    payload_end = HEADER_SIZE + length
    end = payload_end + MAC_SIZE if flags & _MAC_BIT else payload_end
    if (
        sync != SYNC
        or ver != PROTOCOL_VERSION
        or flags & _UNKNOWN_FLAGS
        or length > MAX_PAYLOAD
        or len(data) != end + CRC_SIZE
        or ((data[end] << 8) | data[end + 1]) != _crc_hqx(data[2:end], 0xFFFF)
    ):
        return None
    # Every field was checked above, so skip __post_init__ (it would double
    # the cost of a decode) and fill the slots directly.
    frame = _new_frame(Frame)
    _set_flags(frame, _FLAGS_BY_VALUE[flags])
    _set_seq(frame, seq)
    _set_op(frame, op)
    _set_payload(frame, data[HEADER_SIZE:payload_end])
    _set_mac(frame, data[payload_end:end] if flags & _MAC_BIT else None)
    return frame


def _decode_checked(data: bytes) -> Frame:
    """:func:`decode_frame` one check at a time: raises the FrameError naming the first
    fault (it is only reached by a frame that has one)."""
    total = frame_length(data)
    if len(data) != total:
        raise FrameError(f"the frame is {total} bytes, got {len(data)}", reason=FrameFault.LENGTH)
    end = total - CRC_SIZE
    crc = (data[end] << 8) | data[end + 1]
    if crc != _crc_hqx(memoryview(data)[2:end], 0xFFFF):
        raise FrameError(f"CRC 0x{crc:04X} does not match the frame", reason=FrameFault.CRC)
    return schema_decode(data)  # never reached by a frame the fast path refused for nothing


_new_frame: Final = object.__new__
_set_flags: Final = Frame.__dict__["flags"].__set__
_set_seq: Final = Frame.__dict__["seq"].__set__
_set_op: Final = Frame.__dict__["op"].__set__
_set_payload: Final = Frame.__dict__["payload"].__set__
_set_mac: Final = Frame.__dict__["mac"].__set__


# --- the schema path (reference implementation for tests and docs) ---------


def schema_encode(frame: Frame) -> bytes:
    """The wire bytes of ``frame`` built by the construct schema :data:`FRAME`."""
    body = {
        "flags": int(frame.flags),
        "seq": frame.seq,
        "op": frame.op,
        "payload": frame.payload,
        "mac": frame.mac,
    }
    data: bytes = _schemas()["FRAME"].build({"body": {"value": body}})
    return data


def schema_decode(data: bytes) -> Frame:
    """Parse one whole frame with the construct schema :data:`FRAME`.

    Raises :class:`FrameError` with the same reasons as :func:`decode_frame`,
    though when several things are wrong at once the two may name different
    ones (the schema stops at the first field it meets in order).
    """
    from construct import (  # noqa: PLC0415 - the reference path only
        ChecksumError,
        ConstError,
        ConstructError,
        ValidationError,
    )

    try:
        parsed = _schemas()["FRAME"].parse(data)
    except ConstError as error:
        fault = FrameFault.SYNC if "sync" in (error.path or "") else FrameFault.VERSION
        raise FrameError(str(error), reason=fault) from None
    except ValidationError as error:
        fault = FrameFault.FLAGS if "flags" in (error.path or "") else FrameFault.LENGTH
        raise FrameError(str(error), reason=fault) from None
    except ChecksumError as error:
        raise FrameError(str(error), reason=FrameFault.CRC) from None
    except ConstructError as error:
        # Stream errors (too short) and Terminated (trailing bytes).
        raise FrameError(str(error), reason=FrameFault.LENGTH) from None
    body = parsed.body.value
    return Frame(
        flags=Flags(body.flags),
        seq=body.seq,
        op=body.op,
        payload=bytes(body.payload),
        mac=None if body.mac is None else bytes(body.mac),
    )
