"""A minimal programmer written from docs/protocol.md ALONE, with the standard library only.

It deliberately imports nothing of the project (no ``protocol``, ``firmware_model``,
``emulator`` or ``programmer_gui``): every byte layout, code and formula below is read off
the document (section names in the comments), so where the pump and the document disagree
the tests built on it fail. The server is started as README.md and docs/emulator.md say
(``pump-emulator serve --no-pty --tcp 127.0.0.1:0 --clock manual --control PATH``), its
ready line read, and its documented control channel (JSON lines on a unix socket) moves the
pump clock.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --- Framing ("## Framing") ---------------------------------------------------------------
SYNC = b"\xa5\x5a"
VER = 0x01
F_RESPONSE, F_MAC, F_NOTIFY = 0x01, 0x02, 0x04
MAX_PAYLOAD = 1024
MAC_LEN = 16

# --- Opcodes ("## Opcodes") ---------------------------------------------------------------
DEVICE_INFO, SESSION_OPEN, SESSION_AUTH, SESSION_CLOSE, LIMITS = 0x01, 0x02, 0x03, 0x04, 0x08
STATUS, READ_PRESCRIPTION, STAGE_PRESCRIPTION, COMMIT_PRESCRIPTION = 0x10, 0x11, 0x12, 0x13
READ_DELIVERY, READ_VALVE = 0x14, 0x15
START_BOLUS, CANCEL_BOLUS, STOP_PUMP, RESUME_PUMP = 0x20, 0x21, 0x22, 0x23
CANCEL_BRIDGE, RESET_VALVE = 0x24, 0x25
STAGE_REFILL, SET_ALARM_VOLUME, COMMIT_REFILL, READ_IMPLANT, SET_IMPLANT = (
    0x30,
    0x31,
    0x32,
    0x33,
    0x34,
)
READ_ALARMS, SILENCE_ALARM, CLEAR_ALARM = 0x40, 0x41, 0x42
READ_EVENT_LOG, READ_CLOCK, SET_CLOCK = 0x50, 0x60, 0x61
READ_PATIENT_SETTINGS, SET_PATIENT_SETTINGS, PATIENT_DOSE = 0x70, 0x71, 0x72
NAK = 0x7F

# --- Codes ("## Codes") -------------------------------------------------------------------
MALFORMED, UNKNOWN_OPCODE, NO_SESSION, AUTH_FAILED, LOCKED_OUT = 1, 2, 3, 4, 5
BAD_MAC, REPLAY, FORBIDDEN, SESSION_EXPIRED, BAD_HANDSHAKE = 6, 7, 8, 9, 10
OUT_OF_RANGE, INVALID_STATE, CHECKSUM_MISMATCH, OVERFILL, CONDITION_PERSISTS = 16, 17, 18, 19, 20
PATIENT_DOSE_LOCKOUT, PATIENT_DOSE_LIMIT, PUMP_HALTED, NOT_ENABLED = 21, 22, 23, 24
CONCENTRATION_MISMATCH, SESSION_DISPLACED = 25, 32

CLINICIAN, PATIENT = 1, 2  # Role
M_STOPPED, M_SIMPLE, M_FLEX, M_MINIMUM_RATE = 0, 1, 2, 3  # Mode
B_NONE, B_THERAPEUTIC, B_BRIDGE, B_PRIMING, B_PATIENT = 0, 1, 2, 3, 4  # BolusKind
SR_NONE, SR_CLINICIAN_DECISION, SR_MRI = 0, 1, 2  # StopReason
NON_CRITICAL, CRITICAL = 1, 2  # AlarmClass
A_LOW_RESERVOIR, A_ERI, A_MEMORY_NC, A_EMPTY, A_EOS, A_MOTOR_STALL = 0, 1, 2, 3, 4, 5  # AlarmCode
A_MEMORY_CRITICAL, A_LOW_BATTERY_RESET = 6, 7
EV_REFILLED, EV_BOLUS_CANCELLED, EV_MOTOR_STALL, EV_STOPPED, EV_RESUMED = 3, 6, 10, 13, 14
EV_SECURITY, EV_BRIDGE_STARTED, EV_BRIDGE_ENDED, EV_IMPLANT_RECORDED = 24, 25, 26, 28
V_MOTOR = 0  # ValveModel
O_SPINAL = 1  # Origin


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE as the Framing section gives it (check value of b"123456789" 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


def build_frame(
    seq: int, op: int, payload: bytes, *, key: bytes | None = None, flags: int = 0
) -> bytes:
    """SYNC VER FLAGS SEQ OP LEN PAYLOAD [MAC] CRC; the MAC (when ``key``) is the first 16 bytes
    of HMAC-SHA256(session key, VER .. end of PAYLOAD); the CRC covers VER .. end of MAC."""
    if key is not None:
        flags |= F_MAC
    body = struct.pack(">BBHBH", VER, flags, seq, op, len(payload)) + payload
    if key is not None:
        body += hmac.new(key, body, hashlib.sha256).digest()[:MAC_LEN]
    return SYNC + body + struct.pack(">H", crc16(body))


@dataclass(frozen=True)
class Frame:
    flags: int
    seq: int
    op: int
    payload: bytes
    mac: bytes | None
    signed: bytes  # VER .. end of PAYLOAD, what the MAC covers


class ProtocolViolationError(AssertionError):
    """The pump sent something the document says it never sends."""


class NakError(Exception):
    """A NAK (OP 0x7F): its error code and its UTF-8 reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"NAK {code}: {reason}")
        self.code = code
        self.reason = reason


class Reader:
    """Big-endian fields off a payload ("## Payload conventions"); ``done`` refuses trailing
    bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def u8(self) -> int:
        return self._take("B")

    def u16(self) -> int:
        return self._take("H")

    def u32(self) -> int:
        return self._take("I")

    def i32(self) -> int:
        return self._take("i")

    def u64(self) -> int:
        return self._take("Q")

    def bool(self) -> bool:
        value = self.u8()
        if value not in (0, 1):
            raise ProtocolViolationError(f"u8 bool of {value}")
        return value == 1

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        if len(out) != n:
            raise ProtocolViolationError("short payload")
        self.pos += n
        return out

    def str8(self) -> str:
        return self.raw(self.u8()).decode("utf-8")

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolViolationError(f"{len(self.data) - self.pos} trailing bytes")


def str8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return bytes([len(raw)]) + raw


# --- Nested structures ("## Nested structures") -------------------------------------------
def simple(concentration: int, dose_ng_per_day: int) -> bytes:
    return struct.pack(">BII", M_SIMPLE, concentration, dose_ng_per_day)


def flex(concentration: int, steps: list[tuple[int, int]]) -> bytes:
    """One profile for every day (``weekly`` 0): steps of (start_min, dose_ng_per_day)."""
    out = struct.pack(">BIBBB", M_FLEX, concentration, 0, 1, len(steps))
    for start_min, dose in steps:
        out += struct.pack(">HI", start_min, dose)
    return out


def stopped(concentration: int) -> bytes:
    return struct.pack(">BI", M_STOPPED, concentration)


def minimum_rate(concentration: int) -> bytes:
    return struct.pack(">BI", M_MINIMUM_RATE, concentration)


def implant_fields(
    *,
    model: str = "AUDIT-CATH",
    nl_per_cm: int,
    length_mm: int,
    uncertainty_mm: int = 0,
    implanted_at_s: int = 0,
    patient_id: str = "AUDIT-1",
    origin: int = O_SPINAL,
    physician: str = "Dr Audit",
) -> bytes:
    return (
        str8(model)
        + struct.pack(">IHHQ", nl_per_cm, length_mm, uncertainty_mm, implanted_at_s)
        + str8(patient_id)
        + bytes([origin])
        + str8(physician)
    )


def decode_device_info(p: bytes) -> dict[str, Any]:
    r = Reader(p)
    out: dict[str, Any] = {
        "model": r.u8(),
        "serial": r.str8(),
        "firmware_version": r.str8(),
        "capacity_nl": r.u32(),
        "protocol_version": r.u8(),
        "min_rate_nl_per_day": r.u32(),
        "max_rate_nl_per_day": r.u32(),
        "minimum_mode_rate_nl_per_day": r.u32(),
        "empty_threshold_nl": r.u32(),
        "tubing_volume_nl": r.u32(),
        "catheter_volume_nl_per_cm": r.u32(),
        "battery_capacity_uc": r.u64(),
        "battery_quiescent_drain_uc_per_s": r.u32(),
        "battery_drain_uc_per_nl": r.u32(),
        "battery_telemetry_drain_uc_per_s": r.u32(),
        "telemetry_s_per_frame": r.u16(),
        "eri_lead_s": r.u32(),
        "forecast_horizon_s": r.u32(),
        "min_bolus_volume_nl": r.u32(),
        "max_bolus_duration_s": r.u32(),
    }
    r.done()
    return out


def decode_limits(p: bytes) -> dict[str, Any]:
    r = Reader(p)
    out: dict[str, Any] = {
        "min_alarm_volume_nl": r.u32(),
        "max_alarm_volume_nl": r.u32(),
        "min_bolus_volume_nl": r.u32(),
        "max_bolus_volume_nl": r.u32(),
        "max_bolus_duration_s": r.u32(),
        "max_patient_dose_volume_nl": r.u32(),
        "min_patient_lockout_s": r.u32(),
        "max_patient_lockout_s": r.u32(),
        "max_patient_doses_per_24h": r.u8(),
        "min_concentration_ug_per_ml": r.u32(),
        "max_concentration_ug_per_ml": r.u32(),
    }
    out["standard_concentrations_ug_per_ml"] = [r.u32() for _ in range(r.u8())]
    out["max_flex_steps"] = r.u8()
    out["flex_step_granularity_min"] = r.u8()
    r.done()
    return out


STATUS_FIXED = [  # (offset, name, struct code) from the STATUS response table
    (0, "clock_s", "Q"),
    (8, "mode", "B"),
    (9, "stop_reason", "B"),
    (10, "delivering", "B"),
    (11, "halted_by", "H"),
    (13, "bolus_kind", "B"),
    (14, "bolus_dose_ng", "I"),
    (18, "bolus_volume_nl", "I"),
    (22, "bolus_duration_s", "I"),
    (26, "bolus_started_at_s", "Q"),
    (34, "bolus_remaining_nl", "I"),
    (38, "bolus_ends_at_s", "Q"),
    (46, "basal_rate_nl_per_day", "I"),
    (50, "current_rate_nl_per_day", "I"),
    (54, "daily_dose_ng", "I"),
    (58, "daily_volume_nl", "I"),
    (62, "concentration_ug_per_ml", "I"),
    (66, "bridge_remaining_nl", "I"),
    (70, "bridge_concentration_ug_per_ml", "I"),
    (74, "bridge_ends_at_s", "Q"),
    (82, "basal_remainder", "I"),
    (86, "reservoir_nl", "I"),
    (90, "capacity_nl", "I"),
    (94, "alarm_volume_nl", "I"),
    (98, "alarms_active", "H"),
    (100, "alarms_silenced", "H"),
    (102, "low_reservoir_alarm_at_s", "Q"),
    (110, "empty_at_s", "Q"),
    (118, "battery_permille", "H"),
    (120, "battery_uc", "Q"),
    (128, "eri_at_s", "Q"),
    (136, "prescription_checksum", "I"),
]


def decode_status(p: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for offset, name, code in STATUS_FIXED:
        (out[name],) = struct.unpack_from(">" + code, p, offset)
    if out["delivering"] not in (0, 1):
        raise ProtocolViolationError(f"delivering {out['delivering']}")
    r = Reader(p)
    r.pos = 140
    out["recent_doses"] = [r.u64() for _ in range(r.u8())]
    r.done()
    return out


def decode_start_bolus(p: bytes) -> dict[str, int]:
    r = Reader(p)
    out = {"dose_ng": r.u32(), "volume_nl": r.u32(), "duration_s": r.u32(), "ends_at_s": r.u64()}
    r.done()
    return out


def decode_stage_refill(p: bytes) -> dict[str, int]:
    r = Reader(p)
    out = {
        "checksum": r.u32(),
        "expected_nl": r.u32(),
        "discrepancy_nl": r.i32(),
        "discrepancy_flagged": int(r.bool()),
        "bridge_volume_nl": r.u32(),
    }
    r.done()
    return out


def decode_commit_refill(p: bytes) -> dict[str, int]:
    r = Reader(p)
    out = {
        "expected_nl": r.u32(),
        "discrepancy_nl": r.i32(),
        "discrepancy_flagged": int(r.bool()),
        "reservoir_nl": r.u32(),
        "prescription_checksum": r.u32(),
        "bridge_volume_nl": r.u32(),
        "bridge_ends_at_s": r.u64(),
        "low_reservoir_alarm_at_s": r.u64(),
    }
    r.done()
    return out


def decode_alarms(p: bytes) -> dict[int, dict[str, int]]:
    r = Reader(p)
    out: dict[int, dict[str, int]] = {}
    for _ in range(r.u8()):
        code = r.u8()
        out[code] = {
            "alarm_class": r.u8(),
            "raised_at_s": r.u64(),
            "silenced": int(r.bool()),
            "condition_present": int(r.bool()),
        }
    r.done()
    return out


def decode_event_log(p: bytes) -> tuple[int, int, list[dict[str, int]]]:
    r = Reader(p)
    total, overwritten = r.u32(), r.u32()
    entries = [
        {"index": r.u32(), "clock_s": r.u64(), "code": r.u16(), "a": r.i32(), "b": r.i32()}
        for _ in range(r.u8())
    ]
    r.done()
    return total, overwritten, entries


def last_entries(session: Session, count: int = 32) -> list[dict[str, int]]:
    """The newest ``count`` (at most 32) entries of the event log, oldest first."""
    total = decode_event_log(session.request(READ_EVENT_LOG, struct.pack(">IB", 0, 1)))[0]
    first = max(0, total - count)
    entries = decode_event_log(session.request(READ_EVENT_LOG, struct.pack(">IB", first, count)))[2]
    return entries


def decode_patient_settings(p: bytes) -> dict[str, int]:
    r = Reader(p)
    out = {
        "enabled": int(r.bool()),
        "dose_ng": r.u32(),
        "duration_s": r.u32(),
        "lockout_s": r.u32(),
        "max_per_24h": r.u8(),
    }
    r.done()
    return out


def patient_settings(
    enabled: bool, dose_ng: int, duration_s: int, lockout_s: int, max_per_24h: int
) -> bytes:
    return struct.pack(">BIIIB", int(enabled), dose_ng, duration_s, lockout_s, max_per_24h)


# --- Handshake ("## Handshake") -----------------------------------------------------------
def pump_proof(key: bytes, role: int, cn: bytes, pn: bytes) -> bytes:
    return hmac.new(key, b"vpump/pump" + bytes([role]) + cn + pn, hashlib.sha256).digest()


def client_proof(key: bytes, role: int, cn: bytes, pn: bytes) -> bytes:
    return hmac.new(key, b"vpump/prog" + bytes([role]) + pn + cn, hashlib.sha256).digest()


def session_key(key: bytes, role: int, cn: bytes, pn: bytes) -> bytes:
    return hmac.new(key, b"vpump/session" + bytes([role]) + cn + pn, hashlib.sha256).digest()


def load_demo_keys(path: Path) -> dict[int, bytes]:
    """The demo key file README.md documents: ``clinician = HEX`` and ``patient = HEX`` lines."""
    keys: dict[int, bytes] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            keys[{"clinician": CLINICIAN, "patient": PATIENT}[name.strip()]] = bytes.fromhex(
                value.strip()
            )
    return keys


class Link:
    """One TCP connection to the pump: frames out, frames in (hunting for SYNC)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5.0)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_frame(self, timeout_s: float = 5.0) -> Frame | None:
        """The next frame with a good CRC, or None when nothing arrives in ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("pump closed the link")
            self.buf += chunk

    def _parse(self) -> Frame | None:
        while True:
            start = self.buf.find(SYNC)
            if start < 0:
                self.buf = self.buf[-1:]
                return None
            self.buf = self.buf[start:]
            if len(self.buf) < 11:
                return None
            ver, flags, seq, op, length = struct.unpack_from(">BBHBH", self.buf, 2)
            if ver != VER or flags & ~0x07 or length > MAX_PAYLOAD:
                self.buf = self.buf[1:]
                continue
            total = 9 + length + (MAC_LEN if flags & F_MAC else 0) + 2
            if len(self.buf) < total:
                return None
            body = self.buf[2 : total - 2]
            (crc,) = struct.unpack_from(">H", self.buf, total - 2)
            if crc != crc16(body):
                self.buf = self.buf[1:]
                continue
            self.buf = self.buf[total:]
            payload = body[7 : 7 + length]
            mac = body[7 + length :] if flags & F_MAC else None
            return Frame(flags, seq, op, payload, mac, body[: 7 + length])


class Session:
    """A programmer's conversation with one pump over one link (handshake, MAC, SEQ)."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.key: bytes | None = None
        self.seq = 0
        self.idle_timeout_s = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def exchange(self, op: int, payload: bytes = b"", *, mac: bool | None = None) -> Frame:
        """Send one request (MAC'd when a session is open, unless ``mac`` says otherwise) and
        return the pump's answer, checked as the Security rules require."""
        use_mac = self.key is not None if mac is None else mac
        seq = self.next_seq()
        self.link.send_raw(build_frame(seq, op, payload, key=self.key if use_mac else None))
        frame = self.link.recv_frame()
        if frame is None:
            raise ProtocolViolationError(f"no answer to OP 0x{op:02X}")
        return self.check(frame, seq)

    def check(self, frame: Frame, seq: int) -> Frame:
        if not frame.flags & F_RESPONSE:
            raise ProtocolViolationError("answer without RESPONSE")
        if frame.seq != seq:
            raise ProtocolViolationError(f"answer SEQ {frame.seq} to request SEQ {seq}")
        if frame.mac is not None:
            if self.key is None:
                raise ProtocolViolationError("a MAC'd answer outside a session")
            want = hmac.new(self.key, frame.signed, hashlib.sha256).digest()[:MAC_LEN]
            if not hmac.compare_digest(want, frame.mac):
                raise ProtocolViolationError("answer MAC does not verify")
        return frame

    def request(self, op: int, payload: bytes = b"") -> bytes:
        """The answer's payload; a NAK raises :class:`NakError`; a wrong OP is a violation."""
        frame = self.exchange(op, payload)
        if frame.op == NAK:
            raise nak_of(frame.payload)
        if frame.op != op:
            raise ProtocolViolationError(f"answer OP 0x{frame.op:02X} to 0x{op:02X}")
        if self.key is not None and frame.mac is None:
            raise ProtocolViolationError("a success without MAC inside a session")
        return frame.payload

    def open(self, role: int, key: bytes) -> None:
        """The four-step handshake of the document; raises :class:`NakError` on a refusal."""
        self.key = None
        cn = os.urandom(16)
        answer = self.exchange(SESSION_OPEN, bytes([role]) + cn)
        if answer.op == NAK:
            raise nak_of(answer.payload)
        r = Reader(answer.payload)
        pn, proof = r.raw(16), r.raw(32)
        r.done()
        if not hmac.compare_digest(proof, pump_proof(key, role, cn, pn)):
            raise ProtocolViolationError("pump proof does not verify: fake pump or wrong key")
        sk = session_key(key, role, cn, pn)
        seq = self.next_seq()
        self.link.send_raw(build_frame(seq, SESSION_AUTH, client_proof(key, role, cn, pn)))
        frame = self.link.recv_frame()
        if frame is None:
            raise ProtocolViolationError("no answer to SESSION_AUTH")
        if frame.op == NAK:
            self.check(frame, seq)
            raise nak_of(frame.payload)
        self.key = sk
        self.check(frame, seq)
        if frame.mac is None:
            raise ProtocolViolationError("SESSION_AUTH response without MAC")
        r = Reader(frame.payload)
        if r.u8() != role:
            raise ProtocolViolationError("SESSION_AUTH response names another role")
        self.idle_timeout_s = r.u16()
        r.done()


def nak_of(payload: bytes) -> NakError:
    if not payload:
        raise ProtocolViolationError("empty NAK")
    reason = payload[1:].decode("utf-8")
    if len(payload) - 1 > 200:
        raise ProtocolViolationError("NAK reason over 200 bytes")
    return NakError(payload[0], reason)


def nak_code(session: Session, op: int, payload: bytes = b"") -> int:
    """The NAK code a request gets (a success is a test failure)."""
    try:
        session.request(op, payload)
    except NakError as nak:
        return nak.code
    raise AssertionError(f"OP 0x{op:02X} was accepted")


# --- The server, as README.md and docs/emulator.md start it --------------------------------
BIN = Path(sys.executable).parent
DEMO_KEY = Path(__file__).resolve().parents[2] / "examples" / "keys" / "demo.key"
START = "2026-03-07T08:00:00Z"
START_S = 1772870400  # 2026-03-07 08:00:00 UTC (a Saturday), in Unix seconds


@dataclass
class Pump:
    """A ``pump-emulator serve`` process: its TCP address and its control socket."""

    proc: subprocess.Popen[str]
    address: tuple[str, int]
    control_path: str
    keys: dict[int, bytes] = field(default_factory=dict)
    _control_id: int = 0

    def control(self, *command: str) -> Any:
        """One command on the control channel (``{"id", "command"}`` -> ``{"id", "ok", ...}``)."""
        self._control_id += 1
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10.0)
            sock.connect(self.control_path)
            sock.sendall(
                json.dumps({"id": self._control_id, "command": list(command)}).encode() + b"\n"
            )
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
        assert reply["id"] == self._control_id
        return reply

    def advance(self, seconds: int) -> None:
        reply = self.control("advance", f"{seconds}s")
        assert reply["ok"], reply

    def session(self, role: int = CLINICIAN) -> Session:
        session = Session(Link(self.address))
        session.open(role, self.keys[role])
        return session


@contextmanager
def serve(*extra: str) -> Iterator[Pump]:
    """Start one pump on loopback TCP with a manual clock at ``START`` and a control socket."""
    with tempfile.TemporaryDirectory() as tmp:
        control_path = str(Path(tmp) / "pump.ctl")
        args = ["--no-pty", "--tcp", "127.0.0.1:0", "--clock", "manual", "--start", START]
        proc = subprocess.Popen(
            [str(BIN / "pump-emulator"), "serve", *args, "--control", control_path, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            assert ready["event"] == "ready", ready
            host, _, port = ready["tcp"].removeprefix("socket://").rpartition(":")
            yield Pump(proc, (host, int(port)), control_path, load_demo_keys(DEMO_KEY))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=10)
