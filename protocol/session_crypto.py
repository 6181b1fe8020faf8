"""The session's cryptography: the handshake proofs, the session key and the frames' MACs
(HMAC-SHA256, design.md), and the pump's answers packed with their MAC.

Part of :mod:`protocol.session` (which says how the pieces fit); import from there.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from binascii import crc_hqx
from collections.abc import Callable
from typing import Final

from protocol.enums import PROTOCOL_VERSION, Flags, Role
from protocol.errors import (
    InvalidMessage,
)
from protocol.frames import MAC_SIZE, SYNC, Frame, authenticated_bytes
from protocol.messages import (
    NONCE_SIZE,
)

KEY_SIZE: Final = 32
"""Bytes of a role key (and of a session key)."""

PUMP_PROOF_LABEL: Final = b"vpump/pump"
PROGRAMMER_PROOF_LABEL: Final = b"vpump/prog"
SESSION_KEY_LABEL: Final = b"vpump/session"

# --- the cryptography -------------------------------------------------------


def _hmac(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


_SHA256_BLOCK: Final = 64
_IPAD: Final = bytes(x ^ 0x36 for x in range(256))
_OPAD: Final = bytes(x ^ 0x5C for x in range(256))
_MAC_STATES_KEPT: Final = 64
_mac_states: dict[bytes, tuple[hashlib._Hash, hashlib._Hash]] = {}
"""Per key, SHA-256 after its HMAC inner and outer pads (RFC 2104): a frame's MAC then
costs two hash copies instead of setting HMAC up afresh. Bounded (forgotten all at once
when full): a pump holds one session key per link, a programmer one."""


def _mac_state(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_SHA256_BLOCK, b"\0")
    return hashlib.sha256(padded.translate(_IPAD)), hashlib.sha256(padded.translate(_OPAD))


_MACS_KEPT: Final = 16
_recent_macs: dict[tuple[bytes, bytes], bytes] = {}
"""The MACs last computed, by (key, MAC input). When both ends of a link run in one process
(the emulator and its in-process programmer), every frame's MAC is computed twice, by the
sender to send it and by the receiver to check it: the receiver finds the sender's here.
A memo of a pure function (HMAC-SHA256 of exactly that key and those bytes), so what it
answers is what the hash would; a frame with any other key or byte misses it and is hashed.
Bounded (forgotten all at once when full: the one a receiver wants is the latest)."""


def mac16(key: bytes, data: bytes) -> bytes:
    """The first 16 bytes of HMAC-SHA256(``key``, ``data``): the same bytes as
    ``hmac.new(key, data, hashlib.sha256).digest()[:16]`` (tests/protocol/test_session_fastpath.py),
    from the memo of the MACs last computed, or from the key's precomputed pad states."""
    mac = _recent_macs.get((key, data))
    return sent_mac(key, data) if mac is None else mac


def sent_mac(key: bytes, data: bytes) -> bytes:
    """:func:`mac16` of a frame being sent (so not in the memo yet), computed and kept in the
    memo for the receiver's check."""
    mac = _computed_mac(key, data)
    if len(_recent_macs) >= _MACS_KEPT:
        _recent_macs.clear()
    _recent_macs[(key, data)] = mac
    return mac


def _computed_mac(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256(``key``, ``data``)[:16] from the key's pad states (made when missing)."""
    states = _mac_states.get(key)
    if states is None:
        if len(_mac_states) >= _MAC_STATES_KEPT:
            _mac_states.clear()
        states = _mac_states[key] = _mac_state(key)
    inner = states[0].copy()
    inner.update(data)
    outer = states[1].copy()
    outer.update(inner.digest())
    return outer.digest()[:MAC_SIZE]


def pump_proof(key: bytes, role: Role, client_nonce: bytes, pump_nonce: bytes) -> bytes:
    """The pump's handshake proof: HMAC-SHA256(K, "vpump/pump" + role + cn + pn)."""
    return _hmac(key, PUMP_PROOF_LABEL, bytes([role]), client_nonce, pump_nonce)


def programmer_proof(key: bytes, role: Role, pump_nonce: bytes, client_nonce: bytes) -> bytes:
    """The programmer's handshake proof: HMAC-SHA256(K, "vpump/prog" + role + pn + cn)."""
    return _hmac(key, PROGRAMMER_PROOF_LABEL, bytes([role]), pump_nonce, client_nonce)


def session_key(key: bytes, role: Role, client_nonce: bytes, pump_nonce: bytes) -> bytes:
    """The session key: HMAC-SHA256(K, "vpump/session" + role + cn + pn)."""
    return _hmac(key, SESSION_KEY_LABEL, bytes([role]), client_nonce, pump_nonce)


def frame_mac(key: bytes, *, flags: int, seq: int, op: int, payload: bytes) -> bytes:
    """First 16 bytes of HMAC-SHA256(session key, VER .. end of PAYLOAD)."""
    return mac16(key, authenticated_bytes(flags=flags, seq=seq, op=op, payload=payload))


def verify_mac(key: bytes, frame: Frame) -> bool:
    """Whether ``frame`` carries a MAC that verifies under ``key`` (constant time)."""
    mac = frame.mac
    if mac is None:
        return False
    payload = frame.payload
    # frame.authenticated_bytes(), packed here with the flags as a plain int.
    data = _AUTH_HEAD.pack(PROTOCOL_VERSION, frame.flags._value_, frame.seq, frame.op, len(payload))
    data += payload
    # mac16, without keeping a MAC that nobody will ask for again.
    expected = _recent_macs.get((key, data))
    if expected is None:
        expected = _computed_mac(key, data)
    return hmac.compare_digest(expected, mac)


def build_frame(
    *, response: bool, seq: int, op: int, payload: bytes, key: bytes | None = None
) -> Frame:
    """A frame, MAC'd with ``key`` when one is given."""
    flags = Flags.RESPONSE if response else Flags.NONE
    if key is None:
        return Frame(flags=flags, seq=seq, op=op, payload=payload, mac=None)
    flags |= Flags.MAC
    mac = frame_mac(key, flags=flags, seq=seq, op=op, payload=payload)
    return Frame(flags=flags, seq=seq, op=op, payload=payload, mac=mac)


_AUTH_HEAD: Final = struct.Struct("!BBHBH")  # VER, FLAGS, SEQ, OP, LEN
_CRC: Final = struct.Struct("!H")
_RESPONSE_FLAGS: Final = int(Flags.RESPONSE)
_RESPONSE_MAC_FLAGS: Final = int(Flags.RESPONSE | Flags.MAC)


def answer_bytes(seq: int, op: int, payload: bytes, key: bytes | None) -> bytes:
    """The wire bytes of the pump's answer: the same bytes as
    ``encode_frame(build_frame(response=True, seq=seq, op=op, payload=payload, key=key))``
    (tests/protocol/test_session_fastpath.py), packed at once instead of through a validated
    :class:`Frame`. ``seq`` is a received frame's, ``op`` a response's opcode and ``payload``
    from :func:`~protocol.messages.encode_payload` (which bounds it), so they are valid."""
    if key is None:
        body = _AUTH_HEAD.pack(PROTOCOL_VERSION, _RESPONSE_FLAGS, seq, op, len(payload)) + payload
    else:
        body = _AUTH_HEAD.pack(PROTOCOL_VERSION, _RESPONSE_MAC_FLAGS, seq, op, len(payload))
        body += payload
        body += sent_mac(key, body)
    # VER .. MAC packed first: the MAC and the CRC read it whole, without a copy past SYNC.
    return SYNC + body + _CRC.pack(crc_hqx(body, 0xFFFF))


def check_key(name: str, key: object) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise InvalidMessage(f"{name} must be {KEY_SIZE} bytes")
    return key


def new_nonce(random_bytes: Callable[[int], bytes]) -> bytes:
    nonce = random_bytes(NONCE_SIZE)
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
        raise InvalidMessage(f"random_bytes({NONCE_SIZE}) returned {nonce!r}")
    return nonce
