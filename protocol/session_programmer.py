"""The programmer's end of a session (:class:`ProgrammerSession`): the handshake, MAC'd
requests with rising SEQs, and the checks on every answer.

Part of :mod:`protocol.session` (which says how the pieces fit); import from there.
"""

from __future__ import annotations

import hmac
import struct
from binascii import crc_hqx
from collections.abc import Callable
from typing import Final

from protocol.enums import PROTOCOL_VERSION, ErrorCode, Flags, Op, Role
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    NakError,
    PeerError,
    SequenceExhaustedError,
    StateError,
    UnexpectedResponseError,
)
from protocol.frames import SYNC, Frame
from protocol.messages import (
    Message,
    Nak,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionCloseRequest,
    SessionOpenRequest,
    SessionOpenResponse,
    decode_payload,
    decode_response,
    encode_payload,
    response_class,
)
from protocol.session_crypto import (
    check_key,
    new_nonce,
    programmer_proof,
    pump_proof,
    sent_mac,
    session_key,
    verify_mac,
)
from protocol.session_rules import (
    MAX_SEQ,
    PROGRAMMER_TRANSITIONS,
    SESSIONLESS_NAK_CODES,
    ProgrammerEvent,
    ProgrammerState,
)

_OUTSTANDING_LIMIT: Final = 32
_NOT_REQUESTS: Final = frozenset({Op.SESSION_OPEN, Op.SESSION_AUTH, Op.SESSION_CLOSE})
"""Requests that :meth:`ProgrammerSession.request` does not send (the handshake, the close)."""
_AFTER_SEND: Final = PROGRAMMER_TRANSITIONS[(ProgrammerState.ESTABLISHED, ProgrammerEvent.SEND)]
"""Where a request leaves an established session (the transition, looked up once)."""
_RESPONSE_BIT: Final = int(Flags.RESPONSE)
_NOTIFY_BIT: Final = int(Flags.NOTIFY)
_RESPONSE_MAC_BITS: Final = int(Flags.RESPONSE | Flags.MAC)
_RESPONSE_CLASSES: Final = {int(op): response_class(op) for op in Op if op is not Op.NAK}
"""Each request opcode's success answer class (what decode_response decodes it with)."""

_REQUEST_HEAD: Final = struct.Struct("!BBHBH")  # VER, FLAGS, SEQ, OP, LEN
_CRC: Final = struct.Struct("!H")
_PLAIN_FLAGS: Final = int(Flags.NONE)
_MAC_FLAGS: Final = int(Flags.MAC)


def request_bytes(seq: int, op: int, payload: bytes, key: bytes | None) -> bytes:
    """The wire bytes of a programmer's request: the same bytes as
    ``encode_frame(build_frame(response=False, seq=seq, op=op, payload=payload, key=key))``
    (tests/protocol/test_session_fastpath.py), packed at once instead of through a validated
    :class:`Frame`. ``seq`` is bounded by the session (at most :data:`MAX_SEQ`), ``op`` is a
    request's opcode and ``payload`` comes from :func:`~protocol.messages.encode_payload`
    (which bounds it), so they are valid."""
    if key is None:
        body = _REQUEST_HEAD.pack(PROTOCOL_VERSION, _PLAIN_FLAGS, seq, op, len(payload)) + payload
    else:
        body = _REQUEST_HEAD.pack(PROTOCOL_VERSION, _MAC_FLAGS, seq, op, len(payload))
        body += payload
        body += sent_mac(key, body)
    # VER .. MAC packed first: the MAC and the CRC read it whole, without a copy past SYNC.
    return SYNC + body + _CRC.pack(crc_hqx(body, 0xFFFF))


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
        self._role_key = check_key("key", key)
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
        data = request_bytes(seq, message.op, encode_payload(message), key)
        self._next_seq += 1
        self.last_seq = seq
        self._outstanding[seq] = (message.op, mac)
        if len(self._outstanding) > _OUTSTANDING_LIMIT:
            del self._outstanding[next(iter(self._outstanding))]
        return seq, data

    # -- the handshake --------------------------------------------------------

    def start(self) -> bytes:
        """The SESSION_OPEN frame (handshake step 1)."""
        self._require(ProgrammerState.IDLE, "start")
        nonce = new_nonce(self._random_bytes)
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
        if self._state is not ProgrammerState.ESTABLISHED:
            self._require(ProgrammerState.ESTABLISHED, "request")
        if message.response or message.op in _NOT_REQUESTS:
            raise InvalidMessage(f"{type(message).__name__} cannot be sent with request()")
        result = self._frame(message, mac=True)
        # _fire(SEND) in an established session, without hashing the two Enums of its key.
        self._state = _AFTER_SEND
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
        bits = frame.flags._value_
        if not bits & _RESPONSE_BIT or bits & _NOTIFY_BIT:
            raise UnexpectedResponseError(f"frame SEQ {frame.seq} is not a response")
        if frame.seq != seq:
            raise UnexpectedResponseError(f"frame answers SEQ {frame.seq}, waiting for {seq}")
        if frame.op not in (op, Op.NAK):
            raise UnexpectedResponseError(f"opcode 0x{frame.op:02X} does not answer {op.name}")

    def receive(self, frame: Frame, seq: int) -> Message:
        """The response to the request sent with ``seq``.

        The usual answer (a MAC'd success answering an outstanding MAC'd request, its MAC
        good) is taken here at once; any other goes through every check of
        :meth:`_receive_checked` (tests/protocol/test_programmer_fastpath.py proves the
        two give the same message, error and session state).

        Raises:
            NakError: the pump refused (``authenticated`` False for the
                session-less refusals, after which the session is CLOSED).
            BadMacError: a missing or wrong MAC.
            MalformedPayload: the payload does not parse.
            UnexpectedResponseError: the frame answers another request (a late
                duplicate: ignore it and keep waiting).
        """
        expected = self._outstanding.get(seq)
        key = self._key
        if (
            expected is not None
            and expected[1]
            and key is not None
            and frame.seq == seq
            and frame.op == expected[0]
            and frame.flags._value_ == _RESPONSE_MAC_BITS
            and verify_mac(key, frame)
        ):
            # A MAC'd success answer (op is the request's, never NAK's): what the checks
            # below find, then decode_response's class for the op.
            message = decode_payload(_RESPONSE_CLASSES[frame.op], frame.payload)
            del self._outstanding[seq]
            return message
        return self._receive_checked(frame, seq)

    def _receive_checked(self, frame: Frame, seq: int) -> Message:
        """:meth:`receive` one check at a time."""
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
