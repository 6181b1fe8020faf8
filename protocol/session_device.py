"""The pump's end of a session (:class:`DeviceSession`, one per link): frames in, answers
out, with the handshake, MAC, SEQ, role, idle-timeout, back-off and displaced-session rules
of :mod:`protocol.session`, and the answer cache for retransmissions.

Part of :mod:`protocol.session` (which says how the pieces fit); import from there.
"""

from __future__ import annotations

import hmac
import math
import re
from typing import Final

from protocol.enums import ErrorCode, Flags, Op, Role
from protocol.errors import (
    InvalidMessage,
    MalformedPayload,
    StateError,
    UnexpectedMessageError,
    UnknownOpcodeError,
)
from protocol.frames import Frame
from protocol.messages import (
    MAX_NAK_REASON_BYTES,
    Message,
    Nak,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionCloseResponse,
    SessionOpenRequest,
    SessionOpenResponse,
    decode_payload,
    decode_request,
    encode_payload,
    request_class,
)
from protocol.session_crypto import (
    answer_bytes,
    new_nonce,
    programmer_proof,
    pump_proof,
    session_key,
    verify_mac,
)
from protocol.session_rules import (
    DEVICE_REFUSALS,
    DEVICE_TRANSITIONS,
    ROLE_OPS,
    Accepted,
    DeviceEvent,
    DeviceSecurity,
    DeviceState,
    Reply,
    SessionEvent,
    SessionEventKind,
)

_HANDSHAKE_OPS: Final = frozenset({Op.SESSION_OPEN, Op.SESSION_AUTH})
_NOT_REQUEST_BITS: Final = int(Flags.RESPONSE | Flags.NOTIFY)
_command_ops_of: dict[Role, dict[int, tuple[Op, type[Message]]]] = {}


def _command_ops(role: Role) -> dict[int, tuple[Op, type[Message]]]:
    """Opcode -> (Op, request class) of every command ``role`` may send in a session: those
    with a request class, in :data:`ROLE_OPS`, and not a handshake step (any other opcode
    is refused: UNKNOWN_OPCODE, FORBIDDEN or BAD_HANDSHAKE). Made on first use, from the
    registry."""
    ops = _command_ops_of.get(role)
    if ops is None:
        ops = {}
        for op in sorted(ROLE_OPS[role] - _HANDSHAKE_OPS):
            try:
                request = request_class(op)
            except UnknownOpcodeError:
                continue
            ops[int(op)] = (op, request)
        _command_ops_of[role] = ops
    return ops


# Patterns, not compiled ones: re compiles (and caches) each with the first MALFORMED
# reason, instead of every start paying for it (#16).
_PARSER_PATH = r"Error in path \(parsing\)((?:\s*->\s*\w+)*)\s*"
_SHORT_READ = r"stream read less than specified amount, expected (\d+), found (\d+)"


def malformed_reason(error: MalformedPayload) -> str:
    """A MALFORMED NAK's reason: one line naming the message and field, without the parser's
    internals (its path syntax, stream wording or newlines)."""
    text = str(error)
    found = re.search(_PARSER_PATH, text)
    if found is not None:
        field = ".".join(part.strip() for part in found[1].split("->") if part.strip())
        rest = text[found.end() :]
        short = re.search(_SHORT_READ, rest)
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


_new_object: Final = object.__new__
_set_attribute: Final = object.__setattr__


def accepted(seq: int, op: Op, request: Message, role: Role | None) -> Accepted:
    """``Accepted(seq=seq, op=op, request=request, role=role)``, made without its generated
    ``__init__`` (a frozen record's four ``object.__setattr__`` calls): the fields' dict
    built whole (tests/protocol/test_session_fastpath.py proves it equal)."""
    made = _new_object(Accepted)
    _set_attribute(made, "__dict__", {"seq": seq, "op": op, "request": request, "role": role})
    return made


_Pending = tuple[Accepted, Frame, bytes | None]
"""The Accepted request awaiting its answer: it, the frame it came in, the key to MAC with."""


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
        if (
            self._state is DeviceState.ESTABLISHED
            and self._backoff_until_s is None
            and now_s - self._last_activity_s < self.security.idle_timeout_s
        ):
            # The usual case, what the checks below find then: not backing off (so not
            # locked), and a live session not idle for its timeout.
            return None
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
        if frame.flags._value_ & _NOT_REQUEST_BITS:
            # Not a request. Never answered, so two ends can never NAK each other forever.
            return Reply(data=b"")
        cache = self._cache
        if cache is not None and frame.seq == cache[0].seq and frame == cache[0]:
            _request, data, error, mac = cache
            return Reply(data=data, error=error, mac=mac)
        if frame.mac is None and frame.op == Op.DEVICE_INFO:
            return self._accept_plain(frame)
        if (
            self._state is DeviceState.ESTABLISHED
            and self._backoff_until_s is None
            and now_s - self._last_activity_s < self.security.idle_timeout_s
        ):
            event = None  # poll's usual case (it would find nothing to do), without the call
        else:
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
        self._pending = (accepted, frame, None)
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
        self._pump_nonce = new_nonce(self.security.random_bytes)
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
        command = _command_ops(role).get(frame.op)
        if command is None:  # not a command this role may send in a session: refused below
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
        op, request_type = command
        try:
            request = decode_payload(request_type, frame.payload)  # decode_request(op, ...)
        except MalformedPayload as error:
            return self._nak(
                frame, ErrorCode.MALFORMED, malformed_reason(error), key=key, cache=True
            )
        if isinstance(request, SessionCloseRequest):
            data = self._answer(frame, SessionCloseResponse(), key=key, cache=True)
            closed = self._end_session(DeviceEvent.CLOSE, "closed by the programmer")
            return Reply(data=data, event=closed, mac=True)
        # The session is ESTABLISHED here (checked above), where COMMAND leaves it as it is:
        # no _fire (its table lookup hashes two Enums in Python), tested against the table.
        pending = accepted(frame.seq, op, request, role)
        self._pending = (pending, frame, key)
        return pending

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
        if pending is None or pending[0] is not accepted:
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
        pending = self._pending
        if pending is None or pending[0] is not accepted:
            self._take_pending(accepted, "respond")  # raises the StateError
        assert pending is not None
        self._pending = None  # _take_pending, written out
        _accepted, frame, key = pending
        # _answer for a success (no NAK code to cache), packed here.
        data = answer_bytes(frame.seq, response.op, encode_payload(response), key)
        if key is not None:
            self._cache = (frame, data, None, True)
        return data

    def refuse(self, accepted: Accepted, code: ErrorCode, reason: str) -> bytes:
        """The NAK frame refusing ``accepted`` (cached like a success).

        ``reason`` is cut to 200 UTF-8 bytes.
        """
        _accepted, frame, key = self._take_pending(accepted, "refuse")
        nak = Nak(code=ErrorCode(code), reason=_truncate_reason(reason))
        return self._answer(frame, nak, key=key, cache=key is not None)
