"""The one error hierarchy of the ``protocol`` package.

Every exception raised on purpose by this package derives from
:class:`ProtocolError` and is either a :class:`LocalError` (our own code did
something wrong: built an invalid message, called the session API in the wrong
state) or a :class:`PeerError` (the other end did: sent bytes that do not
parse, a bad proof or MAC, a refusal, or went silent). Builtins are inherited
where they fit, so ``except ValueError`` / ``TimeoutError`` /
``ConnectionError`` keep working for callers that do not know this package.
"""

from __future__ import annotations

import enum

from protocol.enums import ErrorCode


class ProtocolError(Exception):
    """Root of every error raised on purpose by ``protocol``."""


# --- we did something wrong ------------------------------------------------


class LocalError(ProtocolError):
    """Our side did something wrong (a programming error, not the peer's fault)."""


class InvalidMessage(LocalError, ValueError):  # noqa: N818 - the name is part of the API
    """A frame or message was built with a value outside its wire type or rules."""


class StateError(LocalError, RuntimeError):
    """A session API was called in a state that does not allow it.

    Names the state and the event, like h11's ``LocalProtocolError``.
    """

    def __init__(self, *, state: str, event: str, detail: str = "") -> None:
        self.state = state
        self.event = event
        text = f"{event} is not allowed in state {state}"
        super().__init__(f"{text}: {detail}" if detail else text)


class SequenceExhaustedError(LocalError):
    """SEQ reached 0xFFFF: SEQ never wraps, so a new session must be opened."""


# --- the peer did ----------------------------------------------------------


class PeerError(ProtocolError):
    """The other end did something wrong, or failed to answer."""


class FrameFault(enum.StrEnum):
    """What makes bytes not a frame (:attr:`FrameError.reason`)."""

    SYNC = "sync"
    """The bytes do not start with SYNC (0xA5 0x5A)."""
    VERSION = "version"
    """VER is not the protocol version this package speaks."""
    FLAGS = "flags"
    """FLAGS has a bit set that the protocol does not define."""
    LENGTH = "length"
    """LEN is over the maximum, or the bytes are shorter or longer than the frame."""
    CRC = "crc"
    """The CRC does not match the bytes it covers."""


class FrameError(PeerError, ValueError):
    """Bytes that are not exactly one valid frame; ``reason`` says what is wrong."""

    def __init__(self, message: str, *, reason: FrameFault) -> None:
        self.reason = reason
        super().__init__(message)


class MalformedPayload(PeerError, ValueError):  # noqa: N818 - the name is part of the API
    """A payload that does not parse for its opcode (short, trailing bytes,
    a value outside its enum or range)."""


class UnknownOpcodeError(PeerError, ValueError):
    """An opcode that this protocol does not define (for the direction asked)."""

    def __init__(self, op: int) -> None:
        self.op = op
        super().__init__(f"unknown opcode 0x{op:02X}")


class UnexpectedMessageError(PeerError):
    """The peer sent a message that the session's state does not allow.

    ``code`` is what the device answers with when it refuses the message.
    """

    def __init__(self, *, state: str, event: str, code: ErrorCode, detail: str = "") -> None:
        self.state = state
        self.event = event
        self.code = code
        text = f"{event} is not allowed in state {state}"
        super().__init__(f"{text}: {detail}" if detail else text)


class UnexpectedResponseError(PeerError):
    """A response that does not answer the request we are waiting for
    (another SEQ, another opcode, or not a response at all).

    A late duplicate of an earlier response raises this; a client may drop
    the frame and keep waiting.
    """


class AuthenticationError(PeerError):
    """The peer's handshake proof did not verify (a fake pump, or the wrong key)."""


class BadMacError(PeerError):
    """A frame in a session carried no MAC, or a MAC that does not verify."""


class NakError(PeerError):
    """The pump refused a request with a NAK.

    ``authenticated`` is False for the few refusals a pump sends without a
    session key (no session, session expired, locked out).
    """

    def __init__(self, code: ErrorCode, reason: str, *, authenticated: bool = True) -> None:
        self.code = code
        self.reason = reason
        self.authenticated = authenticated
        super().__init__(f"{code.name}: {reason}" if reason else code.name)


class LinkTimeout(PeerError, TimeoutError):  # noqa: N818 - the name is part of the API
    """The peer did not answer in time."""


class LinkClosed(PeerError, ConnectionError):  # noqa: N818 - the name is part of the API
    """The link to the peer is gone."""
