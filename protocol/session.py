"""Both ends of a session, sans-IO: frames in, bytes to send out.

Nothing here touches a port, a thread or the wall clock. The device side gets
``now_s`` (any monotonic clock in seconds, e.g. the emulator's link time) on
every call; the programmer side needs no time at all (its client owns the
timeouts).

Security (design.md):

* **Handshake**, mutual challenge-response with fresh nonces from both ends and
  one 32-byte key per role (K)::

      programmer -> SESSION_OPEN  {role, cn}                                  no MAC
      pump       -> SESSION_OPEN  {pn, HMAC(K, "vpump/pump" + role + cn + pn)} no MAC
      programmer -> SESSION_AUTH  {HMAC(K, "vpump/prog" + role + pn + cn)}     no MAC
      pump       -> SESSION_AUTH  {role, idle_timeout_s}                       MAC

  The programmer checks the pump's proof before it proves anything itself, so
  a fake pump is detected (AuthenticationError); the pump refuses a fake
  programmer (AUTH_FAILED). The session key is
  ``HMAC(K, "vpump/session" + role + cn + pn)``; HMAC is HMAC-SHA256 and
  ``role`` is one byte.
* **MAC**: from the SESSION_AUTH response on, every frame both ways carries
  the first 16 bytes of HMAC-SHA256(session key, VER .. end of PAYLOAD).
  The only unauthenticated answers to a MAC'd request are NAKs with
  NO_SESSION, SESSION_EXPIRED or LOCKED_OUT (the pump then has no session key).
* **SEQ**: a new request must carry a SEQ greater than the last one the pump
  answered in this session. SEQ never wraps: after 0xFFFF the programmer must
  open a new session (SequenceExhaustedError). An exact retransmission (same
  SEQ, identical bytes) of the last answered request gets the cached response
  and is not executed again, so a retried bolus is delivered once; any other
  SEQ that does not move forward is refused with REPLAY.
* **Roles**: :data:`ROLE_OPS` lists what each role may run; others get FORBIDDEN.
* **Idle timeout**: a request arriving ``idle_timeout_s`` (default 300 s) or
  more after the last accepted one finds the session expired (SESSION_EXPIRED).
* **Back-off** (per link, on the link's real time): bad proofs and bad MACs count
  as failures of the link they arrive on. The first ``max_failures - 1``
  (default 4) are answered with their own code; every further one makes the link
  back off, for ``backoff_first_s`` (15 s) doubling each time up to ``lockout_s``
  (300 s): while it backs off, everything but DEVICE_INFO on that link gets
  LOCKED_OUT with the seconds left, uncounted, and its own session ends. A link
  is forgiven after a success or ``2 x lockout_s`` without a failure. While the
  pump as a whole has seen ``pressure_failures`` (default 10) failures within
  ``lockout_s``, a link gets no free failures: its first one starts the back-off,
  and once 16 links that never proved a key have failed so within ``lockout_s``
  (a churn of new links, one per guess), each further one makes the next such
  link wait ``backoff_first_s`` before its SESSION_OPEN is answered (LOCKED_OUT
  meanwhile), so a new link per guess gains nothing.
  Failures on one link never end, refuse or delay a session or a handshake on
  another link: a clinician can always stop the pump or cancel a bolus.
* **Displaced sessions**: a SESSION_OPEN on a link that holds a session replaces
  it; frames MAC'd with the replaced session's key get SESSION_DISPLACED (MAC'd
  with that key, so the displaced programmer can trust it), never counted as a
  failure.

The device's link states and what moves them are data
(:data:`DEVICE_TRANSITIONS`, :data:`PROGRAMMER_TRANSITIONS`); an event that a
state does not allow raises an error naming both.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import struct
from binascii import crc_hqx
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from protocol.enums import PROTOCOL_VERSION, ErrorCode, EventCode, Flags, Op, Role
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    MalformedPayload,
    NakError,
    PeerError,
    SequenceExhaustedError,
    StateError,
    UnexpectedMessageError,
    UnexpectedResponseError,
    UnknownOpcodeError,
)
from protocol.frames import MAC_SIZE, SYNC, Frame, authenticated_bytes, encode_frame
from protocol.keys import key_problem
from protocol.messages import (
    MAX_NAK_REASON_BYTES,
    NONCE_SIZE,
    Message,
    Nak,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionCloseResponse,
    SessionOpenRequest,
    SessionOpenResponse,
    decode_request,
    decode_response,
    encode_payload,
    request_class,
)

KEY_SIZE: Final = 32
"""Bytes of a role key (and of a session key)."""
MAX_SEQ: Final = 0xFFFF
"""The last SEQ of a session; SEQ never wraps."""
DEFAULT_IDLE_TIMEOUT_S: Final = 300.0
DEFAULT_MAX_FAILURES: Final = 5
"""The failure that starts a link's back-off (the ones before it are free)."""
DEFAULT_LOCKOUT_S: Final = 300.0
"""The longest back-off of a link, s (its ladder doubles up to it)."""
DEFAULT_BACKOFF_FIRST_S: Final = 15.0
"""A link's first back-off, s: at most 5 tries a minute once it backs off."""
DEFAULT_PRESSURE_FAILURES: Final = 10
"""Failures pump-wide within ``lockout_s`` after which links get no free failures."""
DEFAULT_GATE_AFTER: Final = 16
"""Links that never proved a key and failed under pressure, within ``lockout_s``, after
which each further one makes the next such link wait (a churn of new links, one per guess)."""

PUMP_PROOF_LABEL: Final = b"vpump/pump"
PROGRAMMER_PROOF_LABEL: Final = b"vpump/prog"
SESSION_KEY_LABEL: Final = b"vpump/session"

ROLE_OPS: Final[Mapping[Role, frozenset[Op]]] = {
    Role.CLINICIAN: frozenset(op for op in Op if op is not Op.NAK),
    Role.PATIENT: frozenset(
        {
            Op.DEVICE_INFO,
            Op.SESSION_OPEN,
            Op.SESSION_AUTH,
            Op.SESSION_CLOSE,
            Op.LIMITS,
            Op.STATUS,
            Op.READ_DELIVERY,
            Op.READ_VALVE,
            Op.READ_ALARMS,
            Op.SILENCE_ALARM,
            Op.READ_PATIENT_SETTINGS,
            Op.PATIENT_DOSE,
            Op.READ_CLOCK,
        }
    ),
}
"""The opcodes each role may use; anything else is refused with FORBIDDEN."""

SESSIONLESS_NAK_CODES: Final = frozenset(
    {ErrorCode.NO_SESSION, ErrorCode.SESSION_EXPIRED, ErrorCode.LOCKED_OUT}
)
"""Refusals a pump sends without a MAC to a MAC'd request: it holds no session key."""

_OUTSTANDING_LIMIT: Final = 32

_HANDSHAKE_OPS: Final = frozenset({Op.SESSION_OPEN, Op.SESSION_AUTH})
_command_ops_of: dict[Role, dict[int, Op]] = {}


def _command_ops(role: Role) -> dict[int, Op]:
    """Opcode -> Op of every command ``role`` may send in a session: those with a request
    class, in :data:`ROLE_OPS`, and not a handshake step (any other opcode is refused:
    UNKNOWN_OPCODE, FORBIDDEN or BAD_HANDSHAKE). Made on first use, from the registry."""
    ops = _command_ops_of.get(role)
    if ops is None:
        ops = {}
        for op in sorted(ROLE_OPS[role] - _HANDSHAKE_OPS):
            try:
                request_class(op)
            except UnknownOpcodeError:
                continue
            ops[int(op)] = op
        _command_ops_of[role] = ops
    return ops


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


def mac16(key: bytes, data: bytes) -> bytes:
    """The first 16 bytes of HMAC-SHA256(``key``, ``data``): the same bytes as
    ``hmac.new(key, data, hashlib.sha256).digest()[:16]`` (tests/protocol/test_session_fastpath.py),
    from the key's precomputed pad states."""
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
    if frame.mac is None:
        return False
    expected = mac16(key, frame.authenticated_bytes())
    return hmac.compare_digest(expected, frame.mac)


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


_ANSWER_HEAD: Final = struct.Struct("!2sBBHBH")  # SYNC, VER, FLAGS, SEQ, OP, LEN
_CRC: Final = struct.Struct("!H")
_RESPONSE_FLAGS: Final = int(Flags.RESPONSE)
_RESPONSE_MAC_FLAGS: Final = int(Flags.RESPONSE | Flags.MAC)


def answer_bytes(seq: int, op: int, payload: bytes, key: bytes | None) -> bytes:
    """The wire bytes of the pump's answer: the same bytes as
    ``encode_frame(build_frame(response=True, seq=seq, op=op, payload=payload, key=key))``
    (tests/protocol/test_session_fastpath.py), packed at once instead of through a validated
    :class:`Frame`. ``seq`` is a received frame's, ``op`` a response's opcode and ``payload``
    from :func:`~protocol.messages.encode_payload` (which bounds it), so they are valid."""
    flags = _RESPONSE_FLAGS if key is None else _RESPONSE_MAC_FLAGS
    body = _ANSWER_HEAD.pack(SYNC, PROTOCOL_VERSION, flags, seq, op, len(payload)) + payload
    if key is not None:
        body += mac16(key, body[2:])
    return body + _CRC.pack(crc_hqx(body[2:], 0xFFFF))


def _check_key(name: str, key: object) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise InvalidMessage(f"{name} must be {KEY_SIZE} bytes")
    return key


def _nonce(random_bytes: Callable[[int], bytes]) -> bytes:
    nonce = random_bytes(NONCE_SIZE)
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
        raise InvalidMessage(f"random_bytes({NONCE_SIZE}) returned {nonce!r}")
    return nonce


_PARSER_PATH = re.compile(r"Error in path \(parsing\)((?:\s*->\s*\w+)*)\s*")
_SHORT_READ = re.compile(r"stream read less than specified amount, expected (\d+), found (\d+)")


def malformed_reason(error: MalformedPayload) -> str:
    """A MALFORMED NAK's reason: one line naming the message and field, without the parser's
    internals (its path syntax, stream wording or newlines)."""
    text = str(error)
    found = _PARSER_PATH.search(text)
    if found is not None:
        field = ".".join(part.strip() for part in found[1].split("->") if part.strip())
        rest = text[found.end() :]
        short = _SHORT_READ.search(rest)
        if short is not None:
            detail = f"the payload ends early (needs {short[1]} bytes, {short[2]} left)"
        else:
            detail = "a value that does not parse"
        head = text[: found.start()].rstrip(": ")
        text = f"{head}: {field}: {detail}" if field else f"{head}: {detail}"
    return " ".join(text.split())[:MAX_NAK_REASON_BYTES]


def _truncate_reason(reason: str) -> str:
    data = reason.encode("utf-8", errors="replace")[:MAX_NAK_REASON_BYTES]
    return data.decode("utf-8", errors="ignore")


# --- results of the device side ---------------------------------------------


class SessionEventKind(enum.Enum):
    """What happened to a session, for the pump's event log."""

    OPENED = "opened"
    CLOSED = "closed"
    SECURITY = "security"
    """A failed proof or MAC, a replay, a forbidden command, a lockout."""


@dataclass(frozen=True, kw_only=True)
class SessionEvent:
    """Something the pump should log: a session opened or closed, or a security event."""

    kind: SessionEventKind
    role: Role | None
    error: ErrorCode | None = None
    """For SECURITY: the refusal sent."""
    op: int | None = None
    """For SECURITY: the opcode of the refused frame."""
    detail: str = ""

    def log_params(self) -> tuple[EventCode, int, int]:
        """The event-log code and its two parameters (see ``EVENT_PARAMS``)."""
        if self.kind is SessionEventKind.OPENED:
            return EventCode.SESSION_OPENED, int(self.role or 0), 0
        if self.kind is SessionEventKind.CLOSED:
            return EventCode.SESSION_CLOSED, int(self.role or 0), 0
        return EventCode.SECURITY, int(self.error or 0), int(self.op or 0)


@dataclass(frozen=True, kw_only=True)
class Accepted:
    """A request the application must execute, then answer with
    :meth:`DeviceSession.respond` or :meth:`DeviceSession.refuse`.

    ``role`` is None only for a DEVICE_INFO sent outside a session.
    """

    seq: int
    op: Op
    request: Message
    role: Role | None


@dataclass(frozen=True, kw_only=True)
class Reply:
    """The session answered by itself (handshake steps, NAKs, cached retransmits).

    ``data`` is the frame to send; it is empty when nothing must be sent (a
    frame that is not a request). ``error`` is the code of the NAK sent, if any;
    ``event`` is something to log; ``mac`` says whether ``data`` carries a MAC
    (False: an answer anyone can provoke without the key).
    """

    data: bytes
    error: ErrorCode | None = None
    event: SessionEvent | None = None
    mac: bool = False


# --- the state rules, as data -----------------------------------------------


class DeviceState(enum.Enum):
    """The state of one link at the pump."""

    IDLE = "IDLE"
    """No session (never opened, closed, expired, or after a lockout)."""
    OPENING = "OPENING"
    """SESSION_OPEN answered; waiting for SESSION_AUTH."""
    ESTABLISHED = "ESTABLISHED"
    LOCKED = "LOCKED"
    """This link backs off after repeated failures; only DEVICE_INFO is answered."""


class DeviceEvent(enum.Enum):
    """What can happen to a link at the pump."""

    OPEN = "SESSION_OPEN"
    AUTH = "SESSION_AUTH"
    AUTH_OK = "proof verified"
    AUTH_FAILED = "proof failed"
    COMMAND = "MAC'd request"
    CLOSE = "SESSION_CLOSE"
    EXPIRE = "idle timeout"
    LOCK = "back-off"
    UNLOCK = "back-off over"
    DISCONNECT = "link gone"


_D, _E = DeviceState, DeviceEvent
DEVICE_TRANSITIONS: Final[Mapping[tuple[DeviceState, DeviceEvent], DeviceState]] = {
    (_D.IDLE, _E.OPEN): _D.OPENING,
    (_D.OPENING, _E.OPEN): _D.OPENING,  # a new handshake replaces a half-open one
    (_D.ESTABLISHED, _E.OPEN): _D.OPENING,  # ... or an established one
    (_D.OPENING, _E.AUTH): _D.OPENING,
    (_D.OPENING, _E.AUTH_OK): _D.ESTABLISHED,
    (_D.OPENING, _E.AUTH_FAILED): _D.IDLE,  # a fresh pump nonce for every attempt
    (_D.ESTABLISHED, _E.COMMAND): _D.ESTABLISHED,
    (_D.ESTABLISHED, _E.CLOSE): _D.IDLE,
    (_D.OPENING, _E.EXPIRE): _D.IDLE,
    (_D.ESTABLISHED, _E.EXPIRE): _D.IDLE,
    (_D.IDLE, _E.LOCK): _D.LOCKED,
    (_D.OPENING, _E.LOCK): _D.LOCKED,
    (_D.ESTABLISHED, _E.LOCK): _D.LOCKED,
    (_D.LOCKED, _E.UNLOCK): _D.IDLE,
    (_D.IDLE, _E.DISCONNECT): _D.IDLE,
    (_D.OPENING, _E.DISCONNECT): _D.IDLE,
    (_D.ESTABLISHED, _E.DISCONNECT): _D.IDLE,
    (_D.LOCKED, _E.DISCONNECT): _D.LOCKED,
}
"""(state, event) -> next state at the pump. A pair not listed is illegal."""

DEVICE_REFUSALS: Final[Mapping[DeviceEvent, ErrorCode]] = {
    _E.OPEN: ErrorCode.LOCKED_OUT,  # OPEN is legal everywhere but LOCKED
    _E.AUTH: ErrorCode.BAD_HANDSHAKE,
    _E.COMMAND: ErrorCode.NO_SESSION,
    _E.CLOSE: ErrorCode.NO_SESSION,
}
"""What the pump answers when the peer causes an illegal event (LOCKED_OUT in LOCKED)."""


class ProgrammerState(enum.Enum):
    """The state of a programmer's session."""

    IDLE = "IDLE"
    OPENING = "OPENING"
    """SESSION_OPEN sent; waiting for the pump's proof."""
    AUTHENTICATING = "AUTHENTICATING"
    """The pump proved itself; SESSION_AUTH sent."""
    ESTABLISHED = "ESTABLISHED"
    CLOSED = "CLOSED"
    """Closed by us, or the pump said the session is gone."""
    FAILED = "FAILED"
    """The handshake failed; make a new ProgrammerSession."""


class ProgrammerEvent(enum.Enum):
    """What can happen to a programmer's session."""

    START = "start"
    PUMP_PROVEN = "pump proof verified"
    AUTHENTICATED = "session established"
    FAIL = "handshake failed"
    SEND = "request"
    CLOSE = "close"
    LOST = "pump has no session"


_P, _PE = ProgrammerState, ProgrammerEvent
PROGRAMMER_TRANSITIONS: Final[Mapping[tuple[ProgrammerState, ProgrammerEvent], ProgrammerState]] = {
    (_P.IDLE, _PE.START): _P.OPENING,
    (_P.OPENING, _PE.PUMP_PROVEN): _P.AUTHENTICATING,
    (_P.OPENING, _PE.FAIL): _P.FAILED,
    (_P.AUTHENTICATING, _PE.AUTHENTICATED): _P.ESTABLISHED,
    (_P.AUTHENTICATING, _PE.FAIL): _P.FAILED,
    (_P.ESTABLISHED, _PE.SEND): _P.ESTABLISHED,
    (_P.ESTABLISHED, _PE.CLOSE): _P.CLOSED,
    (_P.ESTABLISHED, _PE.LOST): _P.CLOSED,
}
"""(state, event) -> next state at the programmer. A pair not listed is illegal."""


# --- the device side --------------------------------------------------------


class DeviceSecurity:
    """One per pump: the role keys, the nonce source and the policy shared by every link,
    and the pump-wide failure pressure (the back-off itself is per link, in
    :class:`DeviceSession`).

    Not thread-safe: callers serialize access, as they must for the pump itself.
    """

    def __init__(
        self,
        *,
        keys: Mapping[Role, bytes],
        random_bytes: Callable[[int], bytes],
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        max_failures: int = DEFAULT_MAX_FAILURES,
        lockout_s: float = DEFAULT_LOCKOUT_S,
        backoff_first_s: float = DEFAULT_BACKOFF_FIRST_S,
        pressure_failures: int = DEFAULT_PRESSURE_FAILURES,
    ) -> None:
        if not keys:
            raise InvalidMessage("a pump needs a key for at least one role")
        self._keys = {
            Role(role): _check_key(f"the {role!r} key", key) for role, key in keys.items()
        }
        problem = key_problem(self._keys)
        if problem is not None:
            raise InvalidMessage(f"refused keys: {problem}")
        if not 1 <= idle_timeout_s <= 0xFFFF:
            raise InvalidMessage(f"idle_timeout_s must be in 1..65535 s, got {idle_timeout_s}")
        if max_failures < 1:
            raise InvalidMessage(f"max_failures must be >= 1, got {max_failures}")
        if not 0 <= lockout_s < math.inf:
            raise InvalidMessage(f"lockout_s must be >= 0 s, got {lockout_s}")
        if not 0 < backoff_first_s < math.inf:
            raise InvalidMessage(f"backoff_first_s must be > 0 s, got {backoff_first_s}")
        if pressure_failures < 1:
            raise InvalidMessage(f"pressure_failures must be >= 1, got {pressure_failures}")
        self.random_bytes = random_bytes
        self.idle_timeout_s = float(idle_timeout_s)
        self.max_failures = max_failures
        self.lockout_s = float(lockout_s)
        self.backoff_first_s = min(float(backoff_first_s), self.lockout_s)
        self.pressure_failures = pressure_failures
        self.failures_total = 0
        """Failures counted on every link since the pump started (a statistic)."""
        self._recent: deque[float] = deque(maxlen=pressure_failures)
        self._gate_until_s = -math.inf
        self._fresh_failures: deque[float] = deque(maxlen=DEFAULT_GATE_AFTER)

    def key_for(self, role: Role) -> bytes | None:
        """The key of ``role``, or None when the pump has none for it."""
        return self._keys.get(role)

    def under_pressure(self, now_s: float) -> bool:
        """Whether ``pressure_failures`` failures (any links) fell within ``lockout_s``."""
        recent = self._recent
        return len(recent) == recent.maxlen and now_s - recent[0] < self.lockout_s

    def note_failure(self, now_s: float) -> None:
        """Count one failure pump-wide (for the pressure and the statistics)."""
        self.failures_total += 1
        self._recent.append(now_s)

    def gate_remaining_s(self, now_s: float) -> float:
        """Seconds before a link that never proved a key may start a handshake (0: now)."""
        if not self.under_pressure(now_s):
            return 0.0
        return max(0.0, self._gate_until_s - now_s)

    def close_gate(self, now_s: float) -> None:
        """A link that never proved a key failed under pressure. Once
        :data:`DEFAULT_GATE_AFTER` such links failed within ``lockout_s`` (links opened one
        per guess, not a few long-lived ones), the next such link waits ``backoff_first_s``:
        a new link per guess gains nothing."""
        fresh = self._fresh_failures
        fresh.append(now_s)
        if len(fresh) == fresh.maxlen and now_s - fresh[0] < self.lockout_s:
            self._gate_until_s = now_s + self.backoff_first_s

    def backoff_s(self, backoffs: int) -> float:
        """The length of a link's back-off number ``backoffs`` (0 for the first)."""
        return min(self.backoff_first_s * 2.0 ** min(backoffs, 64), self.lockout_s)


@dataclass
class _Pending:
    accepted: Accepted
    frame: Frame
    key: bytes | None


class DeviceSession:
    """The pump's end of one link (a pty, a TCP connection, an in-process link).

    Feed every received frame to :meth:`handle`. It answers by itself with a
    :class:`Reply` (send ``data``, log ``event``), or returns :class:`Accepted`:
    execute the request, then call :meth:`respond` or :meth:`refuse` (exactly
    once) and send the bytes they return.
    """

    def __init__(self, security: DeviceSecurity) -> None:
        self.security = security
        self._state = DeviceState.IDLE
        self._role: Role | None = None
        self._client_nonce = b""
        self._pump_nonce = b""
        self._key: bytes | None = None
        self._last_seq = -1
        self._last_activity_s = 0.0
        self._expired = False
        self._cache: tuple[Frame, bytes, ErrorCode | None, bool] | None = None
        """The last cached answer: the request, the frame sent, its NAK code, its MAC."""
        self._pending: _Pending | None = None
        self._displaced_key: bytes | None = None
        self._failures = 0
        self._backoffs = 0
        self._last_failure_s = -math.inf
        self._backoff_until_s: float | None = None
        self._proven = False

    # -- public state ---------------------------------------------------------

    @property
    def state(self) -> DeviceState:
        """The link's state (as of the last call)."""
        return self._state

    @property
    def established(self) -> bool:
        """Whether a session is open on this link."""
        return self._state is DeviceState.ESTABLISHED

    @property
    def role(self) -> Role | None:
        """The role of the open session, or None."""
        return self._role if self.established else None

    @property
    def failures(self) -> int:
        """Failures of this link since it was last forgiven."""
        return self._failures

    def backoff_remaining_s(self, now_s: float) -> float:
        """Seconds this link still backs off at ``now_s`` (0 when it does not)."""
        until = self._backoff_until_s
        if until is None:
            return 0.0
        if now_s >= until:
            self._backoff_until_s = None
            return 0.0
        return until - now_s

    def _record_failure(self, now_s: float) -> bool:
        """Count one failure of this link; True when the link now backs off."""
        security = self.security
        if now_s - self._last_failure_s >= 2 * security.lockout_s:
            self._failures, self._backoffs = 0, 0  # forgiven: a long quiet spell
        pressure = security.under_pressure(now_s)
        if pressure and self._failures == 0 and not self._proven:
            security.close_gate(now_s)
        free = 0 if pressure else security.max_failures - 1
        security.note_failure(now_s)
        self._last_failure_s = now_s
        self._failures += 1
        if self._failures <= free:
            return False
        duration = security.backoff_s(self._backoffs)
        self._backoffs += 1
        if duration <= 0:
            return False
        self._backoff_until_s = now_s + duration
        return True

    # -- the state machine ----------------------------------------------------

    def _fire(self, event: DeviceEvent) -> None:
        try:
            self._state = DEVICE_TRANSITIONS[(self._state, event)]
        except KeyError:
            code = DEVICE_REFUSALS.get(event, ErrorCode.INTERNAL)
            if code is ErrorCode.NO_SESSION or self._state is DeviceState.LOCKED:
                code = self._sessionless_code()
            raise UnexpectedMessageError(
                state=self._state.name, event=event.value, code=code
            ) from None

    def _end_session(self, event: DeviceEvent, detail: str) -> SessionEvent | None:
        was = self._role if self._state is DeviceState.ESTABLISHED else None
        self._fire(event)
        self._key = None
        self._role = None
        if was is None:
            return None
        return SessionEvent(kind=SessionEventKind.CLOSED, role=was, detail=detail)

    def poll(self, now_s: float) -> SessionEvent | None:
        """Apply the link's clock: idle expiry, and this link's back-off begun or ended.

        :meth:`handle` does this itself; call it on a timer to log an abandoned
        session's end without waiting for the next frame.
        """
        locked = self.backoff_remaining_s(now_s) > 0
        if locked and self._state is not DeviceState.LOCKED:
            self._displaced_key = None
            return self._end_session(DeviceEvent.LOCK, "the link backs off")
        if not locked and self._state is DeviceState.LOCKED:
            self._fire(DeviceEvent.UNLOCK)
            return None
        idle_s = now_s - self._last_activity_s
        live = self._state in (DeviceState.OPENING, DeviceState.ESTABLISHED)
        if live and idle_s >= self.security.idle_timeout_s:
            self._expired = self._state is DeviceState.ESTABLISHED
            return self._end_session(DeviceEvent.EXPIRE, "idle timeout")
        return None

    def disconnect(self) -> SessionEvent | None:
        """The link is gone: end its session (returns the event to log, if any)."""
        self._pending = None
        self._cache = None
        self._displaced_key = None
        return self._end_session(DeviceEvent.DISCONNECT, "link closed")

    # -- handling frames ------------------------------------------------------

    def handle(self, frame: Frame, now_s: float) -> Accepted | Reply:
        """Handle one received frame at time ``now_s`` (seconds, monotonic).

        Raises:
            StateError: the previous Accepted was not answered (a defect in the caller).
        """
        if self._pending is not None:
            raise StateError(
                state=self._state.name, event="handle", detail="the last Accepted is unanswered"
            )
        if frame.is_response or frame.is_notify:
            # Not a request. Never answered, so two ends can never NAK each other forever.
            return Reply(data=b"")
        if self._cache is not None and frame == self._cache[0]:
            _request, data, error, mac = self._cache
            return Reply(data=data, error=error, mac=mac)
        if frame.mac is None and frame.op == Op.DEVICE_INFO:
            return self._accept_plain(frame)
        event = self.poll(now_s)
        try:
            if frame.mac is not None:
                return self._command(frame, now_s, event)
            if frame.op == Op.SESSION_OPEN:
                return self._open(frame, now_s, event)
            if frame.op == Op.SESSION_AUTH:
                return self._auth(frame, now_s, event)
        except UnexpectedMessageError as error:
            return self._nak(
                frame, error.code, self._refusal_reason(error.code, now_s), event=event
            )
        # A command without MAC: never executed, whatever the state.
        code = self._sessionless_code()
        if code is not ErrorCode.LOCKED_OUT:
            try:
                request_class(frame.op)
            except UnknownOpcodeError as error:
                return self._nak(frame, ErrorCode.UNKNOWN_OPCODE, str(error), event=event)
        return self._nak(frame, code, self._refusal_reason(code, now_s), event=event)

    def _sessionless_code(self) -> ErrorCode:
        if self._state is DeviceState.LOCKED:
            return ErrorCode.LOCKED_OUT
        return ErrorCode.SESSION_EXPIRED if self._expired else ErrorCode.NO_SESSION

    def _refusal_reason(self, code: ErrorCode, now_s: float) -> str:
        if code is ErrorCode.LOCKED_OUT:
            left = math.ceil(self.backoff_remaining_s(now_s))
            return f"this link backs off after repeated failures: {left} s left"
        if code is ErrorCode.SESSION_EXPIRED:
            return "the session expired while idle; open a new one"
        if code is ErrorCode.NO_SESSION:
            return "this command needs a session (a MAC'd frame after the handshake)"
        return f"{code.name} in state {self._state.name}"

    def _accept_plain(self, frame: Frame) -> Accepted | Reply:
        try:
            request = decode_request(frame.op, frame.payload)
        except MalformedPayload as error:
            return self._nak(frame, ErrorCode.MALFORMED, malformed_reason(error))
        accepted = Accepted(seq=frame.seq, op=Op(frame.op), request=request, role=None)
        self._pending = _Pending(accepted=accepted, frame=frame, key=None)
        return accepted

    def _open(self, frame: Frame, now_s: float, event: SessionEvent | None) -> Reply:
        if self._state is DeviceState.LOCKED:
            self._fire(DeviceEvent.OPEN)  # raises LOCKED_OUT
        try:
            request = decode_request(frame.op, frame.payload)
        except MalformedPayload as error:
            return self._nak(frame, ErrorCode.MALFORMED, malformed_reason(error), event=event)
        assert isinstance(request, SessionOpenRequest)
        key = self.security.key_for(request.role)
        if key is None:
            reason = f"this pump has no {request.role.name} key"
            return self._nak(frame, ErrorCode.AUTH_FAILED, reason, event=event)
        gate = self.security.gate_remaining_s(now_s)
        if gate > 0 and self._failures == 0 and not self._proven:
            reason = (
                f"new links are slowed after repeated failures on others: {math.ceil(gate)} s left"
            )
            return self._nak(frame, ErrorCode.LOCKED_OUT, reason, event=event)
        replaced = None
        if self._state is DeviceState.ESTABLISHED:
            self._displaced_key = self._key
            detail = "replaced by a new handshake"
            replaced = SessionEvent(kind=SessionEventKind.CLOSED, role=self._role, detail=detail)
        self._fire(DeviceEvent.OPEN)
        self._key = None
        self._role = request.role
        self._client_nonce = request.client_nonce
        self._pump_nonce = _nonce(self.security.random_bytes)
        self._last_activity_s = now_s
        self._expired = False
        proof = pump_proof(key, request.role, self._client_nonce, self._pump_nonce)
        response = SessionOpenResponse(pump_nonce=self._pump_nonce, pump_proof=proof)
        data = self._answer(frame, response, key=None, cache=True)
        return Reply(data=data, event=event or replaced)

    def _auth(self, frame: Frame, now_s: float, event: SessionEvent | None) -> Reply:
        self._fire(DeviceEvent.AUTH)  # only legal in OPENING
        try:
            request = decode_request(frame.op, frame.payload)
        except MalformedPayload as error:
            return self._nak(frame, ErrorCode.MALFORMED, malformed_reason(error), event=event)
        assert isinstance(request, SessionAuthRequest) and self._role is not None
        role = self._role
        key = self.security.key_for(role)
        assert key is not None  # checked at SESSION_OPEN; keys never change
        expected = programmer_proof(key, role, self._pump_nonce, self._client_nonce)
        if not hmac.compare_digest(expected, request.client_proof):
            self._fire(DeviceEvent.AUTH_FAILED)
            self._role = None
            return self._failure(frame, now_s, ErrorCode.AUTH_FAILED, "the proof did not verify")
        self._fire(DeviceEvent.AUTH_OK)
        self._failures, self._backoffs, self._proven = 0, 0, True
        self._key = session_key(key, role, self._client_nonce, self._pump_nonce)
        self._last_seq = frame.seq
        self._last_activity_s = now_s
        response = SessionAuthResponse(role=role, idle_timeout_s=int(self.security.idle_timeout_s))
        data = self._answer(frame, response, key=self._key, cache=True)
        opened = SessionEvent(kind=SessionEventKind.OPENED, role=role)
        return Reply(data=data, event=opened, mac=True)

    def _command(self, frame: Frame, now_s: float, event: SessionEvent | None) -> Accepted | Reply:
        displaced = self._displaced_key
        if self._state is not DeviceState.ESTABLISHED:
            live = displaced is not None and self._state is not DeviceState.LOCKED
            if live and displaced is not None and verify_mac(displaced, frame):
                return self._displaced(frame, displaced)
            self._fire(DeviceEvent.COMMAND)  # raises NO_SESSION, SESSION_EXPIRED or LOCKED_OUT
        key, role = self._key, self._role
        assert key is not None and role is not None
        if not verify_mac(key, frame):
            if displaced is not None and verify_mac(displaced, frame):
                return self._displaced(frame, displaced)
            return self._failure(frame, now_s, ErrorCode.BAD_MAC, "the MAC did not verify")
        if frame.seq <= self._last_seq:
            reason = f"SEQ {frame.seq} does not follow {self._last_seq}"
            return self._security_nak(frame, ErrorCode.REPLAY, reason, key=key, cache=False)
        # The SEQ is used from here on: whatever the answer, it is cached for retransmits.
        self._last_seq = frame.seq
        self._last_activity_s = now_s
        op = _command_ops(role).get(frame.op)
        if op is None:  # not a command this role may send in a session: refused below
            try:
                request_class(frame.op)
            except UnknownOpcodeError as error:
                return self._nak(frame, ErrorCode.UNKNOWN_OPCODE, str(error), key=key, cache=True)
            op = Op(frame.op)
            if op not in ROLE_OPS[role]:
                reason = f"the {role.name} role may not use {op.name}"
                return self._security_nak(frame, ErrorCode.FORBIDDEN, reason, key=key, cache=True)
            reason = f"{op.name} is sent without a MAC, outside a session"
            return self._nak(frame, ErrorCode.BAD_HANDSHAKE, reason, key=key, cache=True)
        try:
            request = decode_request(op, frame.payload)
        except MalformedPayload as error:
            return self._nak(
                frame, ErrorCode.MALFORMED, malformed_reason(error), key=key, cache=True
            )
        if isinstance(request, SessionCloseRequest):
            data = self._answer(frame, SessionCloseResponse(), key=key, cache=True)
            closed = self._end_session(DeviceEvent.CLOSE, "closed by the programmer")
            return Reply(data=data, event=closed, mac=True)
        self._fire(DeviceEvent.COMMAND)
        accepted = Accepted(seq=frame.seq, op=op, request=request, role=role)
        self._pending = _Pending(accepted=accepted, frame=frame, key=key)
        return accepted

    def _displaced(self, frame: Frame, key: bytes) -> Reply:
        """A frame of the session a newer handshake replaced: told so, with its own MAC."""
        reason = "a newer handshake on this link replaced this session; open a new one"
        return self._nak(frame, ErrorCode.SESSION_DISPLACED, reason, key=key)

    def _failure(self, frame: Frame, now_s: float, code: ErrorCode, reason: str) -> Reply:
        """A failed proof or MAC: count it against this link; past the free ones it backs off."""
        if self._record_failure(now_s):
            self._end_session(DeviceEvent.LOCK, "the link backs off")
            self._displaced_key = None
            left = math.ceil(self.backoff_remaining_s(now_s))
            reason = f"{reason}; this link backs off after repeated failures: {left} s left"
            code = ErrorCode.LOCKED_OUT
        key = self._key if code is ErrorCode.BAD_MAC else None
        return self._security_nak(frame, code, reason, key=key, cache=False)

    def _security_nak(
        self, frame: Frame, code: ErrorCode, reason: str, *, key: bytes | None, cache: bool
    ) -> Reply:
        event = SessionEvent(
            kind=SessionEventKind.SECURITY, role=self._role, error=code, op=frame.op, detail=reason
        )
        return self._nak(frame, code, reason, key=key, cache=cache, event=event)

    def _nak(
        self,
        frame: Frame,
        code: ErrorCode,
        reason: str,
        *,
        key: bytes | None = None,
        cache: bool = False,
        event: SessionEvent | None = None,
    ) -> Reply:
        nak = Nak(code=code, reason=_truncate_reason(reason))
        data = self._answer(frame, nak, key=key, cache=cache)
        return Reply(data=data, error=code, event=event, mac=key is not None)

    def _answer(
        self, request: Frame, response: Message, *, key: bytes | None, cache: bool
    ) -> bytes:
        data = answer_bytes(request.seq, response.op, encode_payload(response), key)
        if cache:
            error = response.code if isinstance(response, Nak) else None
            self._cache = (request, data, error, key is not None)
        return data

    # -- answering Accepted requests ------------------------------------------

    def _take_pending(self, accepted: Accepted, call: str) -> _Pending:
        pending = self._pending
        if pending is None or pending.accepted is not accepted:
            raise StateError(
                state=self._state.name, event=call, detail="not the pending Accepted request"
            )
        self._pending = None
        return pending

    def respond(self, accepted: Accepted, response: Message) -> bytes:
        """The success frame answering ``accepted`` (MAC'd in a session; cached
        so a retransmitted request gets it again without being executed).

        Raises:
            StateError: ``accepted`` is not the request awaiting an answer.
            InvalidMessage: ``response`` is not the response to that opcode.
        """
        if not response.response or response.op is not accepted.op or isinstance(response, Nak):
            raise InvalidMessage(f"{type(response).__name__} does not answer {accepted.op.name}")
        pending = self._take_pending(accepted, "respond")
        return self._answer(pending.frame, response, key=pending.key, cache=pending.key is not None)

    def refuse(self, accepted: Accepted, code: ErrorCode, reason: str) -> bytes:
        """The NAK frame refusing ``accepted`` (cached like a success).

        ``reason`` is cut to 200 UTF-8 bytes.
        """
        pending = self._take_pending(accepted, "refuse")
        nak = Nak(code=ErrorCode(code), reason=_truncate_reason(reason))
        return self._answer(pending.frame, nak, key=pending.key, cache=pending.key is not None)


# --- the programmer side ----------------------------------------------------


class ProgrammerSession:
    """The programmer's end of one session.

    ``start`` -> send; ``receive_open`` -> send; ``receive_auth``: established.
    Then ``request`` / ``receive`` as often as needed (the caller resends the
    same bytes to retransmit), and ``close``. A session is used once: after a
    failure or a close, make a new one. SEQs start at ``first_seq`` and rise by
    one for every frame built, handshake included; past 0xFFFF,
    :class:`SequenceExhaustedError` says to open a new session.
    """

    def __init__(
        self,
        *,
        key: bytes,
        role: Role,
        random_bytes: Callable[[int], bytes],
        first_seq: int = 1,
    ) -> None:
        self._role_key = _check_key("key", key)
        self.role = Role(role)
        self._random_bytes = random_bytes
        if not 0 <= first_seq <= MAX_SEQ:
            raise InvalidMessage(f"first_seq must be in 0..{MAX_SEQ}, got {first_seq}")
        self._next_seq = first_seq
        self._state = ProgrammerState.IDLE
        self._client_nonce = b""
        self._pump_nonce = b""
        self._key: bytes | None = None
        self._open_seq = -1
        self._auth_seq = -1
        self.last_seq: int | None = None
        """The SEQ of the last frame built (e.g. of ``close()``'s request)."""
        self.idle_timeout_s: int | None = None
        """The pump's idle timeout, learnt from SESSION_AUTH."""
        self._outstanding: dict[int, tuple[Op, bool]] = {}

    @property
    def state(self) -> ProgrammerState:
        return self._state

    @property
    def established(self) -> bool:
        """Whether requests may be sent."""
        return self._state is ProgrammerState.ESTABLISHED

    def _fire(self, event: ProgrammerEvent) -> None:
        try:
            self._state = PROGRAMMER_TRANSITIONS[(self._state, event)]
        except KeyError:
            raise StateError(state=self._state.name, event=event.value) from None

    def _require(self, state: ProgrammerState, call: str) -> None:
        if self._state is not state:
            raise StateError(state=self._state.name, event=call, detail=f"needs {state.name}")

    def _frame(self, message: Message, *, mac: bool) -> tuple[int, bytes]:
        if self._next_seq > MAX_SEQ:
            raise SequenceExhaustedError("SEQ 0xFFFF was used: open a new session")
        seq = self._next_seq
        key = self._key if mac else None
        frame = build_frame(
            response=False, seq=seq, op=message.op, payload=encode_payload(message), key=key
        )
        self._next_seq += 1
        self.last_seq = seq
        self._outstanding[seq] = (message.op, mac)
        if len(self._outstanding) > _OUTSTANDING_LIMIT:
            del self._outstanding[next(iter(self._outstanding))]
        return seq, encode_frame(frame)

    # -- the handshake --------------------------------------------------------

    def start(self) -> bytes:
        """The SESSION_OPEN frame (handshake step 1)."""
        self._require(ProgrammerState.IDLE, "start")
        nonce = _nonce(self._random_bytes)
        seq, data = self._frame(SessionOpenRequest(role=self.role, client_nonce=nonce), mac=False)
        self._client_nonce = nonce
        self._open_seq = seq
        self._fire(ProgrammerEvent.START)
        return data

    def _handshake_answer(
        self, frame: Frame, seq: int, op: Op, *, mac_key: bytes | None
    ) -> Message:
        """Check and decode a handshake answer. A frame that answers something
        else raises UnexpectedResponseError and changes nothing (ignore it);
        any other peer error fails the session."""
        self._check_answer(frame, seq, op)
        try:
            if frame.op == Op.NAK:
                nak = decode_response(frame.op, frame.payload)
                assert isinstance(nak, Nak)
                raise NakError(nak.code, nak.reason, authenticated=False)
            if mac_key is None:
                if frame.mac is not None:
                    raise AuthenticationError(f"the {op.name} answer must not carry a MAC")
            elif not verify_mac(mac_key, frame):
                raise BadMacError(f"the {op.name} answer's MAC did not verify")
            return decode_response(frame.op, frame.payload)
        except PeerError:
            self._fire(ProgrammerEvent.FAIL)
            raise

    def receive_open(self, frame: Frame) -> bytes:
        """Check the pump's proof; return the SESSION_AUTH frame (step 3).

        Raises:
            AuthenticationError: the pump does not hold the role key (a fake pump).
            NakError: the pump refused (e.g. LOCKED_OUT, or no key for the role).
            MalformedPayload: the answer does not parse.
            UnexpectedResponseError: the frame answers another request (ignore it).
        """
        self._require(ProgrammerState.OPENING, "receive_open")
        message = self._handshake_answer(frame, self._open_seq, Op.SESSION_OPEN, mac_key=None)
        assert isinstance(message, SessionOpenResponse)
        expected = pump_proof(self._role_key, self.role, self._client_nonce, message.pump_nonce)
        if not hmac.compare_digest(expected, message.pump_proof):
            self._fire(ProgrammerEvent.FAIL)
            raise AuthenticationError("the pump's proof did not verify: not our pump, or wrong key")
        self._pump_nonce = message.pump_nonce
        self._key = session_key(self._role_key, self.role, self._client_nonce, self._pump_nonce)
        proof = programmer_proof(self._role_key, self.role, self._pump_nonce, self._client_nonce)
        self._auth_seq, data = self._frame(SessionAuthRequest(client_proof=proof), mac=False)
        self._fire(ProgrammerEvent.PUMP_PROVEN)
        return data

    def receive_auth(self, frame: Frame) -> None:
        """Finish the handshake on the pump's SESSION_AUTH answer (step 4).

        Raises:
            NakError: the pump refused our proof (AUTH_FAILED, LOCKED_OUT ...).
            BadMacError: the answer's MAC does not verify under the session key.
            AuthenticationError: the pump opened another role.
            MalformedPayload: the answer does not parse.
            UnexpectedResponseError: the frame answers another request (ignore it).
        """
        self._require(ProgrammerState.AUTHENTICATING, "receive_auth")
        message = self._handshake_answer(frame, self._auth_seq, Op.SESSION_AUTH, mac_key=self._key)
        assert isinstance(message, SessionAuthResponse)
        if message.role is not self.role:
            self._fire(ProgrammerEvent.FAIL)
            raise AuthenticationError(f"asked for {self.role.name}, the pump opened {message.role}")
        self._outstanding.pop(self._open_seq, None)
        self._outstanding.pop(self._auth_seq, None)
        self.idle_timeout_s = message.idle_timeout_s
        self._fire(ProgrammerEvent.AUTHENTICATED)

    # -- requests and responses -----------------------------------------------

    def request(self, message: Message) -> tuple[int, bytes]:
        """(SEQ, MAC'd frame bytes) of an in-session request; resend the same
        bytes to retransmit it.

        Raises:
            StateError: the session is not established.
            InvalidMessage: not a request, or a handshake/close message.
            SequenceExhaustedError: SEQ 0xFFFF is used up; open a new session.
        """
        self._require(ProgrammerState.ESTABLISHED, "request")
        if message.response or message.op in (Op.SESSION_OPEN, Op.SESSION_AUTH, Op.SESSION_CLOSE):
            raise InvalidMessage(f"{type(message).__name__} cannot be sent with request()")
        result = self._frame(message, mac=True)
        self._fire(ProgrammerEvent.SEND)
        return result

    def plain_request(self, message: Message) -> tuple[int, bytes]:
        """(SEQ, frame bytes) of a request without MAC: only DEVICE_INFO, in any state."""
        if message.response or message.op is not Op.DEVICE_INFO:
            raise InvalidMessage("only DEVICE_INFO may be sent outside a session")
        return self._frame(message, mac=False)

    def close(self) -> bytes:
        """The MAC'd SESSION_CLOSE request; its SEQ is :attr:`last_seq`.

        The session counts as closed at once (the pump also expires abandoned
        sessions); its answer may still be checked with :meth:`receive`.
        """
        self._require(ProgrammerState.ESTABLISHED, "close")
        _seq, data = self._frame(SessionCloseRequest(), mac=True)
        self._fire(ProgrammerEvent.CLOSE)
        return data

    def _check_answer(self, frame: Frame, seq: int, op: Op) -> None:
        if not frame.is_response or frame.is_notify:
            raise UnexpectedResponseError(f"frame SEQ {frame.seq} is not a response")
        if frame.seq != seq:
            raise UnexpectedResponseError(f"frame answers SEQ {frame.seq}, waiting for {seq}")
        if frame.op not in (op, Op.NAK):
            raise UnexpectedResponseError(f"opcode 0x{frame.op:02X} does not answer {op.name}")

    def receive(self, frame: Frame, seq: int) -> Message:
        """The response to the request sent with ``seq``.

        Raises:
            NakError: the pump refused (``authenticated`` False for the
                session-less refusals, after which the session is CLOSED).
            BadMacError: a missing or wrong MAC.
            MalformedPayload: the payload does not parse.
            UnexpectedResponseError: the frame answers another request (a late
                duplicate: ignore it and keep waiting).
        """
        expected = self._outstanding.get(seq)
        if expected is None:
            raise UnexpectedResponseError(f"no request with SEQ {seq} is waiting")
        op, authenticated = expected
        self._check_answer(frame, seq, op)
        if authenticated and frame.mac is None:
            if frame.op != Op.NAK:
                raise BadMacError(f"the answer to SEQ {seq} carries no MAC")
            nak = decode_response(frame.op, frame.payload)
            assert isinstance(nak, Nak)
            if nak.code not in SESSIONLESS_NAK_CODES:
                raise BadMacError(f"a {nak.code.name} NAK without MAC")
            del self._outstanding[seq]
            if self._state is ProgrammerState.ESTABLISHED:
                self._fire(ProgrammerEvent.LOST)
            raise NakError(nak.code, nak.reason, authenticated=False)
        if authenticated:
            assert self._key is not None
            if not verify_mac(self._key, frame):
                raise BadMacError(f"the answer to SEQ {seq} has a MAC that does not verify")
        elif frame.mac is not None:
            raise UnexpectedResponseError(f"the answer to plain SEQ {seq} carries a MAC")
        message = decode_response(frame.op, frame.payload)
        del self._outstanding[seq]
        if isinstance(message, Nak):
            displaced = message.code is ErrorCode.SESSION_DISPLACED
            if displaced and authenticated and self._state is ProgrammerState.ESTABLISHED:
                self._fire(ProgrammerEvent.LOST)  # a newer handshake took the link over
            raise NakError(message.code, message.reason, authenticated=authenticated)
        return message
