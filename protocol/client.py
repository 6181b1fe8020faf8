"""The programmer's blocking client over any pyserial URL.

``PumpClient`` is the thin I/O adapter around the sans-IO
:class:`~protocol.session.ProgrammerSession`: it opens the port (a pty path,
``socket://host:port``, or an in-process ``pumpsim://name``), runs the
handshake, sends requests and waits for their responses with a deadline.
A request that times out is retransmitted byte for byte with the same SEQ, so
the pump answers it from its cache and never runs it twice (a retried bolus is
delivered once). It never sleep-polls: reads block on the port until bytes
arrive or the deadline passes. On a native POSIX port (a pty or a tty) it waits
with one ``poll`` on the descriptor per chunk of answer and reads what is there,
without pyserial's per-read ``select`` or any tty reconfiguration. On a port with a
``read_available(timeout_s)`` method (the emulator's in-process ``pumpsim://`` port) it
reads with that: what is queued, or the first bytes within the time left, in one call.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
import zlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

import serial

from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import AlarmCode, BolusKind, ErrorCode, Flags, Op, Role, StopReason
from protocol.errors import LinkClosed, LinkTimeout, NakError, PeerError, ProtocolError
from protocol.frames import Frame
from protocol.session import ProgrammerSession

M = TypeVar("M", bound=m.Message)

DEFAULT_TIMEOUT_S = 1.0
"""How long one attempt waits for its response, in seconds."""

DEFAULT_RETRIES = 3
"""Retransmissions after the first attempt before giving up."""

_READ_CHUNK = 4096
_NOTIFY_BIT = int(Flags.NOTIFY)
_STATUS_REQUEST = m.StatusRequest()
"""The STATUS request (it has no fields, and records are frozen: one serves every poll)."""
_WRITE_TIMEOUT_S = 5.0

try:  # pyserial's POSIX ports raise termios.error (not an OSError) when the tty goes away.
    import termios

    _PORT_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - not POSIX
    _PORT_ERRORS = (serial.SerialException, OSError)
_POSIX_SERIAL: type[serial.SerialBase] | None
try:  # The native POSIX port: its descriptor can be waited on directly.
    from serial.serialposix import Serial as _PosixSerial

    _POSIX_SERIAL = _PosixSerial
except ImportError:  # pragma: no cover - not POSIX
    _POSIX_SERIAL = None
_OPEN_ERRORS: tuple[type[Exception], ...] = (*_PORT_ERRORS, ValueError)


class ProgrammingError(PeerError):
    """The pump did not confirm a new prescription; its old one is still running."""


class PumpClient:
    """A programmer's connection to one pump.

    Use as a context manager::

        with PumpClient("/tmp/ttyPUMP0", key=key) as pump:
            print(pump.status().reservoir_nl)

    With ``key`` given the session is opened on entry; without it only
    :meth:`device_info` (which needs no session) is available until
    :meth:`open_session` is called.
    """

    def __init__(
        self,
        url: str,
        *,
        key: bytes | None = None,
        role: Role = Role.CLINICIAN,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        baudrate: int = 115200,
        random_bytes: Callable[[int], bytes] = os.urandom,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0 s, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.url = url
        self.role = role
        self.timeout_s = timeout_s
        self.retries = retries
        self._key = key
        self._baudrate = baudrate
        self._random_bytes = random_bytes
        self._monotonic = monotonic
        self._port: serial.SerialBase | None = None
        self._fd = -1
        self._poller: select.poll | None = None
        self._read_available: Callable[[float], bytes] | None = None
        self._deframer = Deframer()
        self._pending: list[Frame] = []
        self._session: ProgrammerSession | None = None
        self._plain_seq = 0
        self.retransmissions = 0
        """Requests sent again after a timeout (each reused its SEQ)."""
        self.stale_frames = 0
        """Frames received that answered no outstanding request (late duplicates)."""

    # -- connection ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the port (and the session when a key was given)."""
        if self._port is not None:
            return
        # pyserial's RFC 2217 client refuses a write timeout (its socket has its own).
        rfc2217 = self.url.lower().startswith("rfc2217://")
        try:
            self._port = serial.serial_for_url(
                self.url,
                baudrate=self._baudrate,
                timeout=self.timeout_s,
                write_timeout=None if rfc2217 else _WRITE_TIMEOUT_S,
            )
        except _OPEN_ERRORS as exc:
            raise LinkClosed(f"cannot open {self.url}: {exc}") from exc
        self._watch_descriptor(self._port)
        if self._key is not None:
            try:
                self.open_session()
            except BaseException:
                self._close_port()
                raise

    def close(self) -> None:
        """Close the session (best effort: the pump also times it out) and the port."""
        if self._session is not None and self._session.established and self._port is not None:
            # Best effort: the pump expires an abandoned session by itself.
            with contextlib.suppress(ProtocolError):
                self._exchange(self._session.close(), expect_op=Op.SESSION_CLOSE, attempts=1)
        self._session = None
        self._close_port()

    def _watch_descriptor(self, port: serial.SerialBase) -> None:
        """Wait on the port's descriptor directly when it is a native POSIX port; read with
        the port's ``read_available`` when it has one (the emulator's in-process port)."""
        self._fd, self._poller = -1, None
        read_available = getattr(port, "read_available", None)
        self._read_available = read_available if callable(read_available) else None
        if _POSIX_SERIAL is None or not isinstance(port, _POSIX_SERIAL):
            return
        fd = port.fileno()
        if not isinstance(fd, int) or fd < 0:
            return
        # poll, not select (nor pyserial's read and write, which use it): select cannot take
        # descriptors above 1023, and a programmer polling a big fleet has them.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        self._fd, self._poller = fd, poller

    def _close_port(self) -> None:
        self._fd, self._poller, self._read_available = -1, None, None
        if self._port is not None:
            try:
                self._port.close()
            except _PORT_ERRORS:
                pass  # The port is gone already; closing it has nothing left to do.
            finally:
                self._port = None

    def __enter__(self) -> PumpClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def in_session(self) -> bool:
        return self._session is not None and self._session.established

    def open_session(self, key: bytes | None = None, role: Role | None = None) -> None:
        """Run the mutual challenge-response handshake."""
        if key is not None:
            self._key = key
        if role is not None:
            self.role = role
        if self._key is None:
            raise ValueError("open_session needs a key")
        session = ProgrammerSession(
            key=self._key,
            role=self.role,
            random_bytes=self._random_bytes,
            first_seq=self._next_plain_seq(),
        )
        auth = self._handshake_step(session.start(), session.receive_open)
        self._handshake_step(auth, session.receive_auth)
        self._session = session

    def _handshake_step(self, data: bytes, receive: Callable[[Frame], bytes | None]) -> bytes:
        frame = self._exchange_frame(data, attempts=1 + self.retries)
        return receive(frame) or b""

    def _next_plain_seq(self) -> int:
        # Requests outside a session need fresh SEQs too, so a late answer to one is never
        # taken for another's.
        self._plain_seq = (self._plain_seq + 1) & 0xFFFF
        return self._plain_seq

    # -- request / response -------------------------------------------------------------------

    def call(self, request: m.Message, response_type: type[M]) -> M:
        """Send one request and return its typed response (NAK -> NakError)."""
        session = self._session
        if session is None or not session.established:
            if request.op is not Op.DEVICE_INFO:
                raise NakError(ErrorCode.NO_SESSION, f"{request.op.name} needs a session")
            session = ProgrammerSession(
                key=b"\0" * 32,
                role=self.role,
                random_bytes=self._random_bytes,
                first_seq=self._next_plain_seq(),
            )
            seq, data = session.plain_request(request)
            frame = self._exchange_frame(data, attempts=1 + self.retries)
            response = session.receive(frame, seq)
        else:
            seq, data = session.request(request)
            frame = self._exchange_frame(data, attempts=1 + self.retries, seq=seq)
            response = session.receive(frame, seq)
        if not isinstance(response, response_type):
            raise ProgrammingError(
                f"{request.op.name}: expected {response_type.__name__}, "
                f"got {type(response).__name__}"
            )
        return response

    def _exchange(self, data: bytes, *, expect_op: Op, attempts: int) -> Frame:
        frame = self._exchange_frame(data, attempts=attempts)
        if frame.op not in (expect_op, Op.NAK):
            raise ProgrammingError(f"expected {expect_op.name}, got opcode 0x{frame.op:02x}")
        return frame

    def _exchange_frame(self, data: bytes, *, attempts: int, seq: int | None = None) -> Frame:
        """Write a request and wait for the frame answering its SEQ (read from ``data``
        unless given), retransmitting on timeout."""
        if seq is None:
            seq = int.from_bytes(data[4:6], "big")
        for attempt in range(attempts):
            if attempt:
                self.retransmissions += 1
                # A partial frame that outlived a whole timeout is garbage (e.g. a LEN field
                # hit by noise) and would swallow the retransmission's answer.
                self._deframer.reset()
            self._write(data)
            frame = self._wait_for(seq, self._monotonic() + self.timeout_s)
            if frame is not None:
                return frame
        raise LinkTimeout(
            f"no answer from {self.url} to SEQ {seq} after {attempts} attempt(s) "
            f"of {self.timeout_s:g} s"
        )

    def _write(self, data: bytes) -> None:
        port = self._require_port()
        try:
            if self._poller is not None:
                self._write_descriptor(data)
            else:
                port.write(data)
            port.flush()
        except _PORT_ERRORS as exc:
            raise LinkClosed(f"link to {self.url} lost while writing: {exc}") from exc

    def _write_descriptor(self, data: bytes) -> None:
        """Write straight to the descriptor (pyserial's write selects on it, and select cannot
        take descriptors above 1023), waiting with poll while the tty is full."""
        view = memoryview(data)
        deadline = self._monotonic() + _WRITE_TIMEOUT_S
        writable: select.poll | None = None
        while view:
            try:
                view = view[os.write(self._fd, view) :]
                continue
            except BlockingIOError:
                pass
            if writable is None:
                writable = select.poll()
                writable.register(self._fd, select.POLLOUT)
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise LinkClosed(f"{self.url} took no bytes for {_WRITE_TIMEOUT_S:g} s")
            writable.poll(remaining * 1000.0)

    def _wait_for(self, seq: int, deadline: float) -> Frame | None:
        port = self._require_port()
        pending = self._pending
        poller, read_available = self._poller, self._read_available
        deframer = self._deframer
        while True:
            while pending:
                frame = pending.pop(0)
                if frame.seq == seq and not frame.flags._value_ & _NOTIFY_BIT:
                    return frame
                self.stale_frames += 1
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return None
            if poller is not None:
                chunk = self._read_descriptor(poller, remaining)
            elif read_available is not None:
                try:
                    chunk = read_available(remaining)
                except _PORT_ERRORS as exc:
                    raise LinkClosed(f"link to {self.url} lost while reading: {exc}") from exc
            else:
                chunk = self._read_port(port, remaining)
            if chunk:
                # What Deframer.feed does first: the chunk exactly one good frame, the usual
                # answer. Taken at once when it is the one awaited (pending is empty here).
                whole = deframer.whole_frame(chunk)
                if whole is None:
                    pending += deframer.feed(chunk)
                elif whole.seq == seq and not whole.flags._value_ & _NOTIFY_BIT:
                    return whole
                else:
                    pending.append(whole)

    def _read_descriptor(self, poller: select.poll, remaining_s: float) -> bytes:
        """One ``poll`` until bytes arrive or ``remaining_s`` passes, then one read of what
        is there (b"" when nothing came)."""
        try:
            if not poller.poll(remaining_s * 1000.0):
                return b""
            chunk = os.read(self._fd, _READ_CHUNK)
        except BlockingIOError:
            return b""  # woken, but someone else took the bytes; wait again
        except OSError as exc:  # EIO: the pty's other end is gone; EBADF: the port closed
            raise LinkClosed(f"link to {self.url} lost while reading: {exc}") from exc
        if not chunk:
            raise LinkClosed(f"link to {self.url} lost while reading: end of file")
        return chunk

    def _read_port(self, port: serial.SerialBase, remaining_s: float) -> bytes:
        """Any other pyserial port (socket://, in-process URLs): a read with a timeout."""
        try:
            # Setting the timeout may reconfigure the port (a syscall pair on a tty), so it
            # is only reset when it strays more than 10 % from the time left: once per
            # attempt, and near the deadline.
            current = port.timeout
            if current is None or not 0.9 * remaining_s <= current <= 1.1 * remaining_s:
                port.timeout = remaining_s
            waiting = int(getattr(port, "in_waiting", 0))
            chunk: bytes = port.read(max(1, min(waiting, _READ_CHUNK)))
        except _PORT_ERRORS as exc:
            raise LinkClosed(f"link to {self.url} lost while reading: {exc}") from exc
        return chunk

    def _require_port(self) -> serial.SerialBase:
        if self._port is None:
            raise LinkClosed("the client is not connected (use it as a context manager)")
        return self._port

    # -- the commands, typed ------------------------------------------------------------------

    def device_info(self) -> m.DeviceInfoResponse:
        """Model, serial, firmware, capacity and limits; needs no session."""
        return self.call(m.DeviceInfoRequest(), m.DeviceInfoResponse)

    def limits(self) -> m.LimitsResponse:
        """The limits the pump enforces (alarm volume, boluses, patient doses, concentrations,
        flex steps), to check values before sending them."""
        return self.call(m.LimitsRequest(), m.LimitsResponse)

    def status(self) -> m.StatusResponse:
        """The interrogation summary."""
        return self.call(_STATUS_REQUEST, m.StatusResponse)

    def read_delivery(self) -> m.ReadDeliveryResponse:
        """Delivering or not, since when, and the last refill (patient role too)."""
        return self.call(m.ReadDeliveryRequest(), m.ReadDeliveryResponse)

    def read_prescription(self) -> m.ReadPrescriptionResponse:
        return self.call(m.ReadPrescriptionRequest(), m.ReadPrescriptionResponse)

    def stage(self, spec: m.PrescriptionSpec) -> int:
        """Stage a prescription; returns the checksum the pump computed for it."""
        return self.call(
            m.StagePrescriptionRequest(prescription=spec), m.StagePrescriptionResponse
        ).checksum

    def commit(self, checksum: int) -> int:
        return self.call(
            m.CommitPrescriptionRequest(checksum=checksum), m.CommitPrescriptionResponse
        ).checksum

    def program(self, spec: m.PrescriptionSpec) -> m.ReadPrescriptionResponse:
        """Stage, verify the read-back checksum, commit, and confirm by reading back.

        Atomic on the pump: until COMMIT succeeds the old prescription runs.
        Raises ProgrammingError if the pump's checksum or read-back differs.
        """
        expected = m.prescription_checksum(spec)
        staged = self.stage(spec)
        if staged != expected:
            raise ProgrammingError(
                f"the pump staged checksum 0x{staged:08x}, expected 0x{expected:08x}; "
                "nothing was committed"
            )
        self.commit(staged)
        active = self.read_prescription()
        if active.checksum != expected or active.prescription != spec:
            raise ProgrammingError("the pump reports a prescription other than the one committed")
        return active

    def start_bolus(self, *, dose_ng: int, duration_s: int) -> m.StartBolusResponse:
        """A therapeutic bolus: ``dose_ng`` over ``duration_s``."""
        return self.call(
            m.StartBolusRequest(
                kind=BolusKind.THERAPEUTIC, dose_ng=dose_ng, volume_nl=0, duration_s=duration_s
            ),
            m.StartBolusResponse,
        )

    def start_priming(self, *, volume_nl: int) -> m.StartBolusResponse:
        """A priming bolus of ``volume_nl`` at the maximum rate."""
        return self.call(
            m.StartBolusRequest(
                kind=BolusKind.PRIMING, dose_ng=0, volume_nl=volume_nl, duration_s=0
            ),
            m.StartBolusResponse,
        )

    def cancel_bridge(self) -> m.CancelBridgeResponse:
        """End a running bridge now (rates at the new concentration from this second)."""
        return self.call(m.CancelBridgeRequest(), m.CancelBridgeResponse)

    def read_valve(self) -> m.ReadValveResponse:
        """The valve model (motor or valve pump) and whether a flow-activated valve closed."""
        return self.call(m.ReadValveRequest(), m.ReadValveResponse)

    def reset_valve(self) -> int:
        """Reopen a closed flow-activated valve; returns the seconds it was closed."""
        return self.call(m.ResetValveRequest(), m.ResetValveResponse).closed_for_s

    def cancel_bolus(self) -> int:
        """Cancel the running bolus; returns the volume it delivered, nL."""
        return self.call(m.CancelBolusRequest(), m.CancelBolusResponse).delivered_nl

    def stop(self, reason: StopReason) -> None:
        self.call(m.StopPumpRequest(reason=reason), m.StopPumpResponse)

    def resume(self) -> m.ResumePumpResponse:
        return self.call(m.ResumePumpRequest(), m.ResumePumpResponse)

    def stage_refill(self, request: m.StageRefillRequest) -> m.StageRefillResponse:
        return self.call(request, m.StageRefillResponse)

    def commit_refill(self, checksum: int) -> m.CommitRefillResponse:
        return self.call(m.CommitRefillRequest(checksum=checksum), m.CommitRefillResponse)

    def refill(
        self,
        *,
        removed_nl: int,
        added_nl: int,
        concentration_ug_per_ml: int,
        prescription: m.PrescriptionSpec,
        bridge: bool,
        drug_lot: str = "",
        allow_nonstandard: bool = False,
    ) -> m.CommitRefillResponse:
        """A refill as one transaction: staged, its checksum verified, committed.

        ``prescription`` is what runs on the new drug (it must name
        ``concentration_ug_per_ml``); ``bridge`` runs the bridge after a concentration
        change. Raises ProgrammingError (nothing applied) if the pump staged something else.
        """
        request = m.StageRefillRequest(
            removed_nl=removed_nl,
            added_nl=added_nl,
            concentration_ug_per_ml=concentration_ug_per_ml,
            allow_nonstandard=allow_nonstandard,
            bridge=bridge,
            drug_lot=drug_lot,
            prescription=prescription,
        )
        expected = zlib.crc32(m.encode_payload(request))
        staged = self.stage_refill(request)
        if staged.checksum != expected:
            raise ProgrammingError(
                f"the pump staged refill checksum 0x{staged.checksum:08x}, expected "
                f"0x{expected:08x}; nothing was applied"
            )
        return self.commit_refill(staged.checksum)

    def implant(self) -> m.ReadImplantResponse:
        """The implant record and the drug in the pump."""
        return self.call(m.ReadImplantRequest(), m.ReadImplantResponse)

    def set_implant(self, implant: m.ImplantFields) -> m.ImplantFields:
        return self.call(m.SetImplantRequest(implant=implant), m.SetImplantResponse).implant

    def set_alarm_volume(self, volume_nl: int) -> int:
        return self.call(
            m.SetAlarmVolumeRequest(volume_nl=volume_nl), m.SetAlarmVolumeResponse
        ).volume_nl

    def alarms(self) -> m.ReadAlarmsResponse:
        return self.call(m.ReadAlarmsRequest(), m.ReadAlarmsResponse)

    def silence_alarm(self, code: AlarmCode) -> None:
        self.call(m.SilenceAlarmRequest(code=code), m.SilenceAlarmResponse)

    def clear_alarm(self, code: AlarmCode) -> None:
        self.call(m.ClearAlarmRequest(code=code), m.ClearAlarmResponse)

    def event_log_page(self, first_index: int, max_count: int = 32) -> m.ReadEventLogResponse:
        return self.call(
            m.ReadEventLogRequest(first_index=first_index, max_count=max_count),
            m.ReadEventLogResponse,
        )

    def event_log(self, first_index: int = 0) -> Iterator[m.LogEntry]:
        """Every retained log entry from ``first_index`` on, page by page."""
        index = first_index
        while True:
            page = self.event_log_page(index)
            index = max(index, page.overwritten)
            if not page.entries:
                return
            yield from page.entries
            index = page.entries[-1].index + 1
            if index >= page.total_written:
                return

    def read_clock(self) -> int:
        return self.call(m.ReadClockRequest(), m.ReadClockResponse).clock_s

    def set_clock(self, clock_s: int) -> int:
        return self.call(m.SetClockRequest(clock_s=clock_s), m.SetClockResponse).clock_s

    def patient_settings(self) -> m.ReadPatientSettingsResponse:
        return self.call(m.ReadPatientSettingsRequest(), m.ReadPatientSettingsResponse)

    def set_patient_settings(
        self, *, enabled: bool, dose_ng: int, duration_s: int, lockout_s: int, max_per_24h: int
    ) -> m.SetPatientSettingsResponse:
        return self.call(
            m.SetPatientSettingsRequest(
                enabled=enabled,
                dose_ng=dose_ng,
                duration_s=duration_s,
                lockout_s=lockout_s,
                max_per_24h=max_per_24h,
            ),
            m.SetPatientSettingsResponse,
        )

    def patient_dose(self) -> m.PatientDoseResponse:
        return self.call(m.PatientDoseRequest(), m.PatientDoseResponse)
