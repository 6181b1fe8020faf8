"""The capture decoder: one Deframer per (link, direction), sessions followed, MACs
checked, as a receiver would."""

from __future__ import annotations

import enum
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.capture import (
    Chunk,
    Direction,
)
from emulator.decode.events import (
    _HISTORY,
    BadFrame,
    DecodeSummary,
    DecodeUsageError,
    Event,
    FrameEvent,
    IncompleteEvent,
    MacCheck,
    NoiseEvent,
    Note,
    NoteKind,
    _op_name,
)
from protocol import describe
from protocol.codec import Deframer, Dropped, Received, decode_message
from protocol.describe import describe_number
from protocol.enums import (
    Op,
    Role,
)
from protocol.errors import FrameFault, ProtocolError
from protocol.frames import (
    Frame,
)
from protocol.messages import (
    Message,
    Nak,
    Record,
    SessionAuthRequest,
    SessionAuthResponse,
    SessionOpenRequest,
    SessionOpenResponse,
)
from protocol.session import (
    KEY_SIZE,
    SESSIONLESS_NAK_CODES,
    programmer_proof,
    pump_proof,
    session_key,
    verify_mac,
)
from protocol.units import (
    Unit,
    format_clock_iso,
)

# --- formatting values with units --------------------------------------------------------------


def _iso(seconds: float, *, millis: bool = False) -> str:
    return format_clock_iso(seconds, millis=millis)


def _duration(seconds: int) -> str:
    return describe_number(seconds, Unit.S)


def format_fields(record: Record, indent: str = "") -> list[str]:
    """``record``'s fields in wire order, one ``name = value`` line each, with units
    (:func:`protocol.describe.format_fields`, every digit the wire holds)."""
    return describe.format_fields(record, indent)


# --- following links and sessions --------------------------------------------------------------


class _Phase(enum.Enum):
    IDLE = "idle"
    OPENING = "SESSION_OPEN sent"
    PROVEN = "pump proof received"
    AUTHENTICATING = "SESSION_AUTH sent"
    ESTABLISHED = "established"


@dataclass
class _Outstanding:
    number: int
    op: int
    wall_s: float
    retransmission: bool = False


@dataclass
class _Link:
    """What the decoder knows of one link's session."""

    phase: _Phase = _Phase.IDLE
    role: Role | None = None
    role_key: bytes | None = None
    client_nonce: bytes = b""
    pump_nonce: bytes = b""
    open_seq: int | None = None
    auth_seq: int | None = None
    pending_key: bytes | None = None
    key: bytes | None = None
    displaced_key: bytes | None = None
    """The key of the session a new handshake replaced (the pump answers its frames with
    SESSION_DISPLACED, MAC'd with it)."""
    session: int | None = None
    last_seq: int = -1
    last_request: bytes | None = None
    requests: OrderedDict[int, tuple[int, bytes]] = field(default_factory=OrderedDict)
    responses: OrderedDict[int, tuple[int, bytes]] = field(default_factory=OrderedDict)
    outstanding: OrderedDict[int, _Outstanding] = field(default_factory=OrderedDict)

    def end_session(self) -> None:
        self.phase = _Phase.IDLE
        self.key = None
        self.pending_key = None
        self.session = None
        self.last_seq = -1


def _remember(
    table: OrderedDict[int, tuple[int, bytes]], seq: int, number: int, data: bytes
) -> None:
    table[seq] = (number, data)
    table.move_to_end(seq)
    while len(table) > _HISTORY:
        table.popitem(last=False)


@dataclass
class _Stream:
    """One direction of one link: its deframer (which holds a partial frame)."""

    deframer: Deframer = field(default_factory=Deframer)
    last_wall_s: float = 0.0
    last_pump_s: int = 0


def _check_keys(keys: Mapping[Role, bytes] | None) -> dict[Role, bytes] | None:
    if keys is None:
        return None
    checked: dict[Role, bytes] = {}
    for role, key in keys.items():
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise DecodeUsageError(f"the {role!r} key must be {KEY_SIZE} bytes")
        try:
            checked[Role(role)] = key
        except ValueError:
            raise DecodeUsageError(f"{role!r} is not a Role") from None
    return checked


@dataclass
class _FrameState:
    """Scratch state of one frame while it is being followed."""

    number: int
    chunk: Chunk
    frame: Frame
    data: bytes
    message: Message | None
    session: int | None = None
    answers: int | None = None

    @property
    def wall_s(self) -> float:
        return self.chunk.wall_s

    @property
    def kind(self) -> str:
        return "response" if self.frame.is_response else "request"


class Decoder:
    """Decodes chunks as they come (:meth:`feed`), then :meth:`finish`; see the module doc.

    ``keys`` are the pump's role keys (as in its key file); None checks no MAC.
    """

    def __init__(self, *, keys: Mapping[Role, bytes] | None = None) -> None:
        self._keys = _check_keys(keys)
        self._streams: dict[tuple[str, Direction], _Stream] = {}
        self._links: dict[str, _Link] = {}
        self._frames = 0
        self._sessions = 0
        self._chunks = 0
        self._bytes: Counter[Direction] = Counter()
        self._ops: Counter[str] = Counter()
        self._naks: Counter[str] = Counter()
        self._macs: Counter[MacCheck] = Counter()
        self._tally: Counter[str] = Counter()
        self._finished = False

    # -- the byte streams -----------------------------------------------------------------

    def feed(self, chunk: Chunk) -> list[Event]:
        """Decode one chunk; returns what it completed, in stream order."""
        self._chunks += 1
        self._bytes[chunk.direction] += len(chunk.data)
        link = self._links.setdefault(chunk.link, _Link())
        stream = self._streams.setdefault((chunk.link, chunk.direction), _Stream())
        stream.last_wall_s, stream.last_pump_s = chunk.wall_s, chunk.pump_s
        events: list[Event] = []
        for segment in stream.deframer.follow(chunk.data):
            if isinstance(segment, Received):
                events.append(self._frame(chunk, link, segment.frame, segment.data))
            else:
                events.append(self._noise(chunk, segment))
        return events

    def _noise(self, chunk: Chunk, dropped: Dropped) -> NoiseEvent:
        bad = tuple(
            BadFrame(
                offset=rejected.offset,
                reason=rejected.reason,
                crc=rejected.fault is FrameFault.CRC,
                seq=rejected.seq,
                op=rejected.op,
            )
            for rejected in dropped.rejected
        )
        self._tally["noise_bytes"] += len(dropped.data)
        self._tally["bad_frames"] += len(bad)
        self._tally["crc_failures"] += sum(1 for b in bad if b.crc)
        return NoiseEvent(
            link=chunk.link,
            direction=chunk.direction,
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            data=dropped.data,
            bad_frames=bad,
        )

    def finish(self) -> list[Event]:
        """The end of the capture: report frames left incomplete. Call once."""
        if self._finished:
            return []
        self._finished = True
        events: list[Event] = []
        for (link, direction), stream in self._streams.items():
            held = stream.deframer.held
            if held:
                self._tally["incomplete_bytes"] += len(held)
                events.append(
                    IncompleteEvent(
                        link=link,
                        direction=direction,
                        wall_s=stream.last_wall_s,
                        pump_s=stream.last_pump_s,
                        data=held,
                    )
                )
        return events

    def summary(self, *, truncated_line: int | None = None) -> DecodeSummary:
        """The totals so far."""
        tally = self._tally
        return DecodeSummary(
            links=tuple(self._links),
            chunks=self._chunks,
            bytes_to_pump=self._bytes[Direction.TO_PUMP],
            bytes_to_programmer=self._bytes[Direction.TO_PROGRAMMER],
            frames=self._frames,
            frames_per_op=dict(self._ops),
            naks_per_code=dict(self._naks),
            undecodable_payloads=tally["undecodable"],
            bad_frames=tally["bad_frames"],
            crc_failures=tally["crc_failures"],
            noise_bytes=tally["noise_bytes"],
            incomplete_bytes=tally["incomplete_bytes"],
            macs_verified=self._macs[MacCheck.VERIFIED],
            mac_failures=self._macs[MacCheck.FAILED],
            macs_unchecked=self._macs[MacCheck.NO_KEY] + self._macs[MacCheck.NO_HANDSHAKE],
            sessions=self._sessions,
            handshake_failures=tally["handshake_failures"],
            retransmissions=tally["retransmissions"],
            replays=tally["replays"],
            repeated_responses=tally["repeated_responses"],
            truncated_line=truncated_line,
        )

    # -- frames ---------------------------------------------------------------------------

    def _frame(self, chunk: Chunk, link: _Link, frame: Frame, data: bytes) -> FrameEvent:
        self._frames += 1
        number = self._frames
        self._ops[_op_name(frame.op)] += 1
        message: Message | None = None
        error: str | None = None
        try:
            message = decode_message(frame)
        except (ProtocolError, ValueError) as exc:
            error = str(exc)
            self._tally["undecodable"] += 1
        notes: list[Note] = []
        if error is not None:
            notes.append(Note(kind=NoteKind.ALERT, text=f"payload does not parse: {error}"))
        state = _FrameState(number=number, chunk=chunk, frame=frame, data=data, message=message)
        to_pump = chunk.direction is Direction.TO_PUMP
        if frame.is_notify:
            notes.append(Note(kind=NoteKind.INFO, text="unsolicited notification"))
            mac = self._mac(link, frame, link.key)
        elif frame.is_response != (not to_pump):
            travel = chunk.direction.arrow
            notes.append(Note(kind=NoteKind.ALERT, text=f"a {state.kind} travelling {travel}"))
            mac = self._mac(link, frame, link.key)
        elif to_pump:
            mac = self._request(link, state, notes)
        else:
            mac = self._response(link, state, notes)
        self._macs[mac] += 1
        if mac is MacCheck.FAILED:
            notes.append(Note(kind=NoteKind.ALERT, text="the MAC does not verify"))
        if isinstance(message, Nak):
            self._naks[message.code.name] += 1
            text = f"NAK {message.code.name}" + (f": {message.reason}" if message.reason else "")
            notes.append(Note(kind=NoteKind.ALERT, text=text))
        return FrameEvent(
            number=number,
            link=chunk.link,
            direction=chunk.direction,
            wall_s=chunk.wall_s,
            pump_s=chunk.pump_s,
            frame=frame,
            data=data,
            message=message,
            payload_error=error,
            mac=mac,
            session=state.session if state.session is not None else link.session,
            answers=state.answers,
            notes=tuple(notes),
        )

    def _mac(self, link: _Link, frame: Frame, key: bytes | None) -> MacCheck:
        if frame.mac is None:
            return MacCheck.ABSENT
        displaced = link.displaced_key
        if displaced is not None and verify_mac(displaced, frame):
            return MacCheck.VERIFIED  # a frame of (or the answer to) a displaced session
        if key is not None:
            return MacCheck.VERIFIED if verify_mac(key, frame) else MacCheck.FAILED
        if self._keys is None or (link.role is not None and link.role_key is None):
            return MacCheck.NO_KEY
        return MacCheck.NO_HANDSHAKE

    def _request(self, link: _Link, state: _FrameState, notes: list[Note]) -> MacCheck:
        frame, data, number = state.frame, state.data, state.number
        seen = link.requests.get(frame.seq)
        mac = self._mac(link, frame, link.key)
        link.outstanding[frame.seq] = _Outstanding(number=number, op=frame.op, wall_s=state.wall_s)
        link.outstanding.move_to_end(frame.seq)
        while len(link.outstanding) > _HISTORY:
            link.outstanding.popitem(last=False)
        if seen is not None and seen[1] == data:
            if data == link.last_request:
                link.outstanding[frame.seq].retransmission = True
                self._tally["retransmissions"] += 1
                text = f"retransmission of #{seen[0]} (same SEQ, same bytes)"
                if frame.op != Op.DEVICE_INFO:
                    text += ": the pump answers from its cache and does not run it again"
            else:
                self._tally["replays"] += 1
                text = f"replay: the bytes of #{seen[0]} sent again"
            notes.append(Note(kind=NoteKind.ALERT, text=text))
            return mac
        link.last_request = data
        _remember(link.requests, frame.seq, number, data)
        message = state.message
        if frame.mac is not None:
            displaced = link.displaced_key
            if displaced is not None and verify_mac(displaced, frame):
                text = "MAC'd for a session a newer handshake replaced: SESSION_DISPLACED"
                notes.append(Note(kind=NoteKind.SESSION, text=text))
            elif link.phase is _Phase.ESTABLISHED:
                state.session = link.session
                if mac is MacCheck.FAILED:
                    pass  # the pump refuses it for its MAC before it looks at the SEQ
                elif frame.seq <= link.last_seq:
                    self._tally["replays"] += 1
                    text = f"replay: SEQ {frame.seq} does not move forward (last {link.last_seq})"
                    notes.append(Note(kind=NoteKind.ALERT, text=text))
                else:
                    link.last_seq = frame.seq
                if frame.op == Op.SESSION_CLOSE:
                    text = f"closing session {link.session}"
                    notes.append(Note(kind=NoteKind.SESSION, text=text))
            else:
                text = "a MAC'd request outside a session seen here: the pump refuses it"
                notes.append(Note(kind=NoteKind.INFO, text=text))
        elif isinstance(message, SessionOpenRequest):
            if link.phase is _Phase.ESTABLISHED:
                text = f"a new handshake replaces session {link.session}"
                notes.append(Note(kind=NoteKind.SESSION, text=text))
                link.displaced_key = link.key
            link.end_session()
            link.phase = _Phase.OPENING
            link.role = message.role
            link.role_key = None if self._keys is None else self._keys.get(message.role)
            link.client_nonce = message.client_nonce
            link.open_seq = frame.seq
            text = f"handshake 1/4: the programmer asks for a {message.role.name} session"
            notes.append(Note(kind=NoteKind.SESSION, text=text))
            if self._keys is not None and link.role_key is None:
                text = f"no {message.role.name} key given: proofs and MACs not checked"
                notes.append(Note(kind=NoteKind.INFO, text=text))
        elif isinstance(message, SessionAuthRequest):
            if link.phase is not _Phase.PROVEN or link.role is None:
                text = "SESSION_AUTH out of order: no answered SESSION_OPEN on this link"
                notes.append(Note(kind=NoteKind.ALERT, text=text))
            else:
                link.phase = _Phase.AUTHENTICATING
                link.auth_seq = frame.seq
                notes.append(
                    Note(kind=NoteKind.SESSION, text="handshake 3/4: the programmer's proof")
                )
                if link.role_key is not None:
                    expected = programmer_proof(
                        link.role_key, link.role, link.pump_nonce, link.client_nonce
                    )
                    notes.append(_proof_note("programmer", expected == message.client_proof))
        elif frame.op not in (Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH):
            text = "a command without MAC: the pump refuses it (it needs a session)"
            notes.append(Note(kind=NoteKind.ALERT, text=text))
        return mac

    def _response(self, link: _Link, state: _FrameState, notes: list[Note]) -> MacCheck:
        frame, data, number = state.frame, state.data, state.number
        key = link.key
        if link.phase is _Phase.AUTHENTICATING and frame.seq == link.auth_seq:
            key = link.pending_key  # the first MAC'd frame: the key the handshake derived
        mac = self._mac(link, frame, key)
        request = link.outstanding.pop(frame.seq, None)
        if request is not None:
            state.answers = request.number
            latency_ms = (state.wall_s - request.wall_s) * 1000
            text = f"answers #{request.number} ({_op_name(request.op)}) after {latency_ms:.0f} ms"
            notes.append(Note(kind=NoteKind.INFO, text=text))
            if frame.op not in (request.op, Op.NAK):
                text = f"opcode {_op_name(frame.op)} does not answer {_op_name(request.op)}"
                notes.append(Note(kind=NoteKind.ALERT, text=text))
        else:
            notes.append(Note(kind=NoteKind.ALERT, text="answers no request in this capture"))
        seen = link.responses.get(frame.seq)
        if seen is not None and seen[1] == data:
            self._tally["repeated_responses"] += 1
            text = f"the same bytes as #{seen[0]}"
            if request is not None and request.retransmission:
                text = f"the pump's cached answer: the same bytes as #{seen[0]}"
            notes.append(Note(kind=NoteKind.INFO, text=text))
            return mac
        _remember(link.responses, frame.seq, number, data)
        if link.phase is _Phase.ESTABLISHED:
            state.session = link.session
        message = state.message
        open_answer = link.phase is _Phase.OPENING and frame.seq == link.open_seq
        auth_answer = link.phase is _Phase.AUTHENTICATING and frame.seq == link.auth_seq
        handshake = open_answer or auth_answer
        if isinstance(message, Nak):
            if handshake:
                self._tally["handshake_failures"] += 1
                link.end_session()
                text = f"handshake failed: {message.code.name}"
                notes.append(Note(kind=NoteKind.SESSION, text=text))
            elif (
                frame.mac is None
                and message.code in SESSIONLESS_NAK_CODES
                and link.phase is _Phase.ESTABLISHED
            ):
                text = f"session {link.session} is over at the pump ({message.code.name})"
                notes.append(Note(kind=NoteKind.SESSION, text=text))
                link.end_session()
        elif isinstance(message, SessionOpenResponse) and open_answer:
            link.phase = _Phase.PROVEN
            link.pump_nonce = message.pump_nonce
            notes.append(
                Note(kind=NoteKind.SESSION, text="handshake 2/4: the pump's nonce and proof")
            )
            if link.role_key is not None and link.role is not None:
                expected = pump_proof(link.role_key, link.role, link.client_nonce, link.pump_nonce)
                notes.append(_proof_note("pump", expected == message.pump_proof))
                link.pending_key = session_key(
                    link.role_key, link.role, link.client_nonce, link.pump_nonce
                )
        elif isinstance(message, SessionAuthResponse) and auth_answer:
            self._sessions += 1
            link.phase = _Phase.ESTABLISHED
            link.session = state.session = self._sessions
            link.key = link.pending_key
            link.last_seq = frame.seq
            if message.role is not link.role:
                text = f"the pump opened {message.role.name}, not {_role_name(link.role)}"
                notes.append(Note(kind=NoteKind.ALERT, text=text))
            link.role = message.role
            idle = _duration(message.idle_timeout_s)
            text = (
                f"handshake 4/4: session {link.session} established "
                f"({message.role.name}, idle timeout {idle})"
            )
            notes.append(Note(kind=NoteKind.SESSION, text=text))
        elif frame.op == Op.SESSION_CLOSE and message is not None and link.session is not None:
            notes.append(Note(kind=NoteKind.SESSION, text=f"session {link.session} closed"))
            link.end_session()
        return mac


def _role_name(role: Role | None) -> str:
    return "an unknown role" if role is None else role.name


def _proof_note(who: str, good: bool) -> Note:
    if good:
        return Note(kind=NoteKind.INFO, text=f"the {who}'s proof verifies with the given key")
    return Note(
        kind=NoteKind.ALERT,
        text=f"the {who}'s proof does NOT verify with the given key (wrong key, or not this pump)",
    )
