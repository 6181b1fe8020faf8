"""The session's rules as data: the roles' opcodes, the link states and what moves them
(:data:`DEVICE_TRANSITIONS`, :data:`PROGRAMMER_TRANSITIONS`), what the device side hands
back (:class:`Accepted`, :class:`Reply`, :class:`SessionEvent`), and the pump-wide policy
every link shares (:class:`DeviceSecurity`: keys, timeouts, back-off and pressure).

Part of :mod:`protocol.session` (which says how the pieces fit); import from there.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

from protocol.enums import ErrorCode, EventCode, Op, Role
from protocol.errors import (
    InvalidMessage,
)
from protocol.frozen import frozen
from protocol.keys import key_problem
from protocol.messages import (
    Message,
)
from protocol.session_crypto import (
    check_key,
)

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


# --- results of the device side ---------------------------------------------


class SessionEventKind(enum.Enum):
    """What happened to a session, for the pump's event log."""

    OPENED = "opened"
    CLOSED = "closed"
    SECURITY = "security"
    """A failed proof or MAC, a replay, a forbidden command, a lockout."""


@frozen
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


@frozen
class Accepted:
    """A request the application must execute, then answer with
    :meth:`DeviceSession.respond` or :meth:`DeviceSession.refuse`.

    ``role`` is None only for a DEVICE_INFO sent outside a session.
    """

    seq: int
    op: Op
    request: Message
    role: Role | None


@frozen
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


# --- the pump-wide policy ---------------------------------------------------


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
        self._keys = {Role(role): check_key(f"the {role!r} key", key) for role, key in keys.items()}
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
