"""Fuzz targets for the wire and the pump's request handling, and the runner that drives them.

Three targets, each a function of one input ``bytes`` that raises
:class:`InvariantViolation` (or lets a defect's own exception through) when an
invariant breaks:

``deframer``
    :class:`~protocol.codec.Deframer` fed the input in chunks. It never raises;
    every byte is accounted for (frames + dropped + held), it never holds a whole
    maximum frame, every frame it returns is a run of the input, the chunking does
    not change what comes out, and ``decode_frame`` raises nothing but ``FrameError``.
``messages``
    ``decode_request`` / ``decode_response`` of any opcode and payload raise nothing
    but the protocol's typed peer errors, and what decodes re-encodes to itself.
``device``
    A fresh pump (preset "default") with a real :class:`TelemetryLink` and a
    clinician session opened by a real handshake, fed the input as raw bytes, as
    two chunks, as a frame MAC'd with the session key (fuzzed opcode, payload,
    SEQ and flags: it reaches the payload parsers and the command handlers) or as
    such a frame with a bit-flipped MAC. Invariants: the link raises nothing (a
    defect would), everything it sends is whole response frames that decode,
    the volume is conserved exactly, therapy (prescription checksum, mode,
    stop, halts, bolus, concentration, the bridge, the implant record and drug lot,
    alarm volume, patient settings, the reservoir accounting, the RTC) changes only
    when the pump acknowledged a
    therapy command MAC'd with the session key, and afterwards the pump still
    answers a valid STATUS (in the same session, or in a new one if the input
    legitimately ended it).

The corpus is seeded from the real captures in ``examples/captures/`` and the
example messages of ``docs/protocol.md``.

Run::

    python -m tests.hardening.fuzz                       # atheris, 1,000,000 inputs per target
    python -m tests.hardening.fuzz --engine random -n 20000 --target device

The atheris engine instruments every loaded module for coverage
(``atheris.instrument_all``); the random engine (also what ``make test``
uses, a few thousand inputs) mutates the same seeds with a seeded generator.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator.capture import CaptureReader, Direction
from emulator.presets import PRESETS, PumpSetup
from firmware_model.pump import Pump
from firmware_model.telemetry import RX_SILENCE_RESET_S, PumpTelemetry
from protocol import docgen
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import MAX_PAYLOAD, Flags, Op, Role
from protocol.errors import FrameError, PeerError
from protocol.frames import MAX_FRAME_SIZE, Frame, decode_frame, encode_frame
from protocol.session import (
    MAX_SEQ,
    DeviceSecurity,
    build_frame,
    frame_mac,
    programmer_proof,
    pump_proof,
    session_key,
    verify_mac,
)
from tests.support import DEMO_KEYS, T0

CAPTURE_DIR = Path(__file__).resolve().parents[2] / "examples" / "captures"

THERAPY_OPS = frozenset(
    {
        Op.COMMIT_PRESCRIPTION,
        Op.START_BOLUS,
        Op.CANCEL_BOLUS,
        Op.STOP_PUMP,
        Op.RESUME_PUMP,
        Op.CANCEL_BRIDGE,
        Op.COMMIT_REFILL,
        Op.SET_IMPLANT,
        Op.SET_ALARM_VOLUME,
        Op.CLEAR_ALARM,
        Op.SET_CLOCK,
        Op.SET_PATIENT_SETTINGS,
        Op.PATIENT_DOSE,
    }
)
"""Commands whose acknowledgement may change therapy; nothing else may (STAGE_PRESCRIPTION
and STAGE_REFILL only stage: the commit names the checksum)."""


class InvariantViolation(AssertionError):  # noqa: N818 - reads as what it is
    """A fuzz input broke an invariant of the code under test."""


# --------------------------------------------------------------------------- seeds


def capture_chunks() -> list[tuple[Direction, bytes]]:
    """Every chunk of every capture in ``examples/captures``, in order."""
    chunks: list[tuple[Direction, bytes]] = []
    for path in sorted(CAPTURE_DIR.glob("*.jsonl")):
        reader = CaptureReader(path)
        try:
            chunks.extend((chunk.direction, chunk.data) for chunk in reader)
        finally:
            reader.close()
    return chunks


def _captured_frames() -> list[Frame]:
    frames: list[Frame] = []
    for direction in Direction:
        stream = b"".join(data for d, data in capture_chunks() if d is direction)
        frames += Deframer().feed(stream)
    return frames


def _example_requests() -> list[m.Message]:
    return [request for request, _ in docgen.EXAMPLES.values() if request is not None]


def seeds(target: str) -> list[bytes]:
    """The starting corpus of ``target``: real captured bytes and example messages."""
    chunks = capture_chunks()
    to_pump = [data for d, data in chunks if d is Direction.TO_PUMP]
    if target == "deframer":
        out = [b"\x00" + data for _, data in chunks]
        out.append(b"\x00" + b"".join(to_pump))
        out.append(b"\x07" + b"".join(data for _, data in chunks))
        return out
    if target == "messages":
        out = [bytes([f.op, int(f.is_response)]) + f.payload for f in _captured_frames()]
        for request, response in docgen.EXAMPLES.values():
            if request is not None:
                out.append(bytes([request.op, 0]) + m.encode_payload(request))
            out.append(bytes([response.op, 1]) + m.encode_payload(response))
        return out
    if target == "device":
        out = [b"\x00" + data for data in to_pump]
        out.append(b"\x00" + b"".join(to_pump))
        out.append(b"\x01\x80" + b"".join(to_pump))
        for frame in _captured_frames():
            if not frame.is_response and frame.mac is not None:
                out.append(bytes([2, frame.op, 0]) + frame.payload)
        for request in _example_requests():
            payload = m.encode_payload(request)
            out.append(bytes([2, request.op, 0]) + payload)
            out.append(bytes([3, request.op, 0, 5]) + payload)
        return out
    raise ValueError(f"unknown target {target!r}")


# --------------------------------------------------------------------------- deframer


def check_deframer(data: bytes) -> int:
    """Run the deframer target on ``data``; returns the number of frames found."""
    if not data:
        return 0
    size, body = data[0], data[1:]
    deframer = Deframer()
    frames: list[Frame] = []
    step = size or len(body) or 1
    for start in range(0, len(body), step):
        frames += deframer.feed(body[start : start + step])
    encoded = [encode_frame(frame) for frame in frames]
    accounted = sum(map(len, encoded)) + deframer.dropped_bytes + deframer.buffered
    if accounted != len(body):
        raise InvariantViolation(f"{len(body)} bytes in, {accounted} accounted for")
    if deframer.buffered >= MAX_FRAME_SIZE:
        raise InvariantViolation(f"the deframer holds {deframer.buffered} bytes")
    for frame_bytes in encoded:
        if frame_bytes not in body:
            raise InvariantViolation(f"frame {frame_bytes.hex()} is not in the input")
    if [encode_frame(f) for f in Deframer().feed(body)] != encoded:
        raise InvariantViolation("feeding in chunks changed the frames found")
    try:
        frame = decode_frame(body)
    except FrameError:
        pass
    else:
        if encode_frame(frame) != body:
            raise InvariantViolation("decode_frame accepted bytes that do not re-encode")
    return len(frames)


# --------------------------------------------------------------------------- messages


def check_messages(data: bytes) -> int:
    """Run the payload-decoder target on ``data``; returns 1 if the payload decoded."""
    if len(data) < 2:
        return 0
    op, response, payload = data[0], bool(data[1] & 1), data[2:]
    decode = m.decode_response if response else m.decode_request
    try:
        message = decode(op, payload)
    except PeerError:
        return 0
    again = decode(op, m.encode_payload(message))
    if again != message:
        raise InvariantViolation(f"{message!r} re-encodes to {again!r}")
    return 1


# --------------------------------------------------------------------------- device


def therapy(pump: Pump, head: PumpTelemetry) -> tuple[object, ...]:
    """Everything a command could change about the patient's therapy."""
    s = pump.status()
    return (
        head.active_prescription()[1],
        s.mode,
        s.stop_reason,
        s.halted_by,
        s.bolus_kind,
        s.bolus_volume_nl,
        s.concentration_ug_per_ml,
        s.bridge_remaining_nl,
        s.bridge_concentration_ug_per_ml,
        s.alarm_volume_nl,
        pump.prescription,
        pump.bridge,
        pump.implant,
        pump.drug_lot,
        pump.last_refill_clock_s,
        pump.patient_settings,
        pump.estimated_reservoir_nl,
        pump.reservoir_nl,
        pump.total_filled_nl,
        pump.total_delivered_nl,
        pump.total_removed_nl,
        pump.clock(pump.t),
    )


def check_conservation(pump: Pump) -> None:
    """filled = delivered + in the reservoir + removed, exactly."""
    filled = pump.total_filled_nl
    rest = pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
    if filled != rest:
        raise InvariantViolation(f"volume not conserved: filled {filled} nL, accounted {rest} nL")


class DeviceHarness:
    """One pump behind a real telemetry link, with a clinician session opened by a real
    handshake (built from the public session functions, so the harness holds the session
    key and can MAC any frame it likes)."""

    def __init__(self, *, seed: int = 0, setup: PumpSetup | None = None) -> None:
        self._rng = random.Random(seed)
        self.pump = (setup or PRESETS["default"]).build(t=T0)
        self.security = DeviceSecurity(
            keys=DEMO_KEYS, random_bytes=random.Random(seed + 1).randbytes
        )
        # No on_defect: a defect in a handler raises out of receive() and fails the input.
        self.head = PumpTelemetry(self.pump, self.security)
        self.link = self.head.open_link()
        self.t = T0
        self.now_s = 0.0
        self.role = Role.CLINICIAN
        self.key: bytes | None = None
        self.seq = 0
        self.sessions_opened = 0
        self.open_session()

    def send(self, data: bytes) -> list[Frame]:
        """Feed bytes to the pump; its answer must be whole response frames."""
        deframer = Deframer()
        frames = deframer.feed(self.link.receive(data, t=self.t, now_s=self.now_s))
        if deframer.dropped_bytes or deframer.buffered:
            raise InvariantViolation("the pump sent bytes that are not whole frames")
        for frame in frames:
            if not frame.is_response or frame.is_notify:
                raise InvariantViolation(f"the pump sent a frame that is not a response: {frame}")
            m.decode_response(frame.op, frame.payload)  # the pump's own frames must decode
        return frames

    def _silence(self) -> None:
        # A moment of silence: the link drops any partial frame a fuzz input left behind.
        self.now_s += RX_SILENCE_RESET_S + 0.1

    def open_session(self) -> None:
        """A fresh clinician session (waiting out a lockout the input may have caused)."""
        self._silence()
        self.now_s += self.security.lockout_remaining_s(self.now_s)
        role, key = self.role, DEMO_KEYS[self.role]
        cn = self._rng.randbytes(m.NONCE_SIZE)
        opening = m.SessionOpenRequest(role=role, client_nonce=cn)
        frames = self.send(self._plain(1, opening))
        answer = self._only(frames, Op.SESSION_OPEN)
        opened = m.decode_response(answer.op, answer.payload)
        assert isinstance(opened, m.SessionOpenResponse)
        if opened.pump_proof != pump_proof(key, role, cn, opened.pump_nonce):
            raise InvariantViolation("the pump's proof does not verify")
        proof = programmer_proof(key, role, opened.pump_nonce, cn)
        frames = self.send(self._plain(2, m.SessionAuthRequest(client_proof=proof)))
        answer = self._only(frames, Op.SESSION_AUTH)
        self.key = session_key(key, role, cn, opened.pump_nonce)
        if not verify_mac(self.key, answer):
            raise InvariantViolation("the SESSION_AUTH answer's MAC does not verify")
        self.seq = 2
        self.sessions_opened += 1

    @staticmethod
    def _plain(seq: int, message: m.Message) -> bytes:
        payload = m.encode_payload(message)
        return encode_frame(build_frame(response=False, seq=seq, op=message.op, payload=payload))

    @staticmethod
    def _only(frames: list[Frame], op: Op) -> Frame:
        if len(frames) != 1 or frames[0].op != op:
            raise InvariantViolation(f"expected one {op.name} answer, got {frames}")
        return frames[0]

    def maced(self, *, op: int, payload: bytes, seq: int, flags: Flags = Flags.NONE) -> Frame:
        """A request frame MAC'd with the session key (any opcode, payload, SEQ, flags)."""
        assert self.key is not None
        flags |= Flags.MAC
        mac = frame_mac(self.key, flags=flags, seq=seq, op=op, payload=payload)
        return Frame(flags=flags, seq=seq, op=op, payload=payload, mac=mac)

    def request(self, message: m.Message) -> list[Frame]:
        """Send a valid in-session request with the next SEQ."""
        self.seq += 1
        payload = m.encode_payload(message)
        return self.send(encode_frame(self.maced(op=message.op, payload=payload, seq=self.seq)))

    def probe(self) -> m.StatusResponse:
        """A valid STATUS must be answered (in a new session if the input ended this one)."""
        for _ in range(2):
            self._silence()
            if self.key is None or self.seq >= MAX_SEQ:
                self.open_session()
            frames = self.request(m.StatusRequest())
            key = self.key
            if len(frames) == 1 and frames[0].op == Op.STATUS and key is not None:
                if not verify_mac(key, frames[0]):
                    raise InvariantViolation("a STATUS answer with a bad MAC")
                status = m.decode_response(Op.STATUS, frames[0].payload)
                assert isinstance(status, m.StatusResponse)
                return status
            # The input closed, replaced or expired the session, or used its SEQs up.
            self.key = None
        raise InvariantViolation("the pump no longer answers a valid STATUS in a new session")

    def run(self, data: bytes) -> list[Frame]:
        """Apply one fuzz input (see the module docstring) and check every invariant."""
        before = therapy(self.pump, self.head)
        mode = data[0] & 3 if data else 0
        keyed = False
        if mode == 0:
            answers = self.send(data[1:])
        elif mode == 1:
            rest = data[2:]
            cut = (data[1] if len(data) > 1 else 0) * len(rest) // 256
            answers = self.send(rest[:cut]) + self.send(rest[cut:])
        else:
            op = data[1] if len(data) > 1 else 0
            control = data[2] if len(data) > 2 else 0
            payload = data[3:][:MAX_PAYLOAD]
            choice = control & 3
            if choice == 0:
                self.seq = min(self.seq + 1, MAX_SEQ)
            seq = (self.seq, self.seq, MAX_SEQ, 0)[choice]
            flags = Flags.RESPONSE if control & 4 else Flags.NONE
            if control & 8:
                flags |= Flags.NOTIFY
            frame = self.maced(op=op, payload=payload, seq=seq, flags=flags)
            if mode == 3:
                assert frame.mac is not None
                spot = (data[3] if len(data) > 3 else 0) % len(frame.mac)
                mac = bytearray(frame.mac)
                mac[spot] ^= 1 << (control >> 5)
                frame = Frame(flags=frame.flags, seq=seq, op=op, payload=payload, mac=bytes(mac))
            keyed = mode == 2
            answers = self.send(encode_frame(frame))
        check_conservation(self.pump)
        after = therapy(self.pump, self.head)
        if after != before:
            acknowledged = [a.op for a in answers if a.op in THERAPY_OPS]
            if not (keyed and acknowledged):
                raise InvariantViolation(
                    f"therapy changed without an acknowledged command: {before} -> {after}"
                )
        self.probe()
        return answers


def check_device(data: bytes) -> int:
    """Run the device target on ``data`` with a fresh pump; returns the answers sent."""
    return len(DeviceHarness().run(data))


TARGETS: dict[str, Callable[[bytes], int]] = {
    "deframer": check_deframer,
    "messages": check_messages,
    "device": check_device,
}


# --------------------------------------------------------------------------- random engine


def mutate(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """One to four random edits: bit flips, byte sets, cuts, insertions, duplications,
    splices with another corpus entry."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        i = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            j = min(i, len(out) - 1)
            out[j] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            out[min(i, len(out) - 1)] = rng.randrange(256)
        elif choice == 2:
            del out[i : i + rng.randint(1, 32)]
        elif choice == 3:
            out[i:i] = rng.randbytes(rng.randint(1, 16))
        elif choice == 4:
            out[i:i] = out[i : i + rng.randint(1, 64)]
        elif choice == 5:
            other = rng.choice(corpus)
            k = rng.randrange(len(other) + 1)
            out[i:] = other[k:]
        else:
            del out[i:]
    return bytes(out[: 1 + MAX_FRAME_SIZE * 2])


def random_inputs(target: str, count: int, seed: int) -> Iterator[bytes]:
    """``count`` inputs for ``target``: its seeds first, then mutations of them and random
    bytes, from a generator seeded with ``seed``."""
    rng = random.Random(seed)
    corpus = seeds(target)
    yield from corpus[:count]
    for _ in range(count - min(count, len(corpus))):
        if rng.random() < 0.1:
            yield rng.randbytes(rng.randint(0, 300))
        else:
            yield mutate(rng.choice(corpus), rng, corpus)


@dataclass
class Figures:
    """What one fuzz run did."""

    target: str
    engine: str
    inputs: int
    seconds: float
    found: int
    """Frames, decoded payloads or answers the inputs produced (shows the inputs got deep)."""

    def line(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        return (
            f"fuzz {self.target:<8} engine={self.engine:<7} inputs={self.inputs:,} "
            f"seconds={self.seconds:.1f} inputs/s={rate:,.0f} found={self.found:,} "
            f"peak_rss_mb={peak_rss_mb():.0f}"
        )


def peak_rss_mb() -> float:
    """This process's peak resident set size, MB (Linux ru_maxrss is in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_random(target: str, count: int, seed: int) -> Figures:
    """Drive ``target`` with :func:`random_inputs`; an invariant violation propagates,
    with the offending input attached as a note."""
    check = TARGETS[target]
    found = 0
    started = time.perf_counter()
    for data in random_inputs(target, count, seed):
        try:
            found += check(data)
        except Exception as exc:
            exc.add_note(f"fuzz target {target}, input {data.hex()}")
            raise
    return Figures(target, "random", count, time.perf_counter() - started, found)


# --------------------------------------------------------------------------- atheris engine


def run_atheris(target: str, count: int, workdir: Path) -> None:
    """Run ``target`` under atheris (libFuzzer) for ``count`` inputs; never returns.

    Call it from :data:`_ATHERIS_CHILD`, which imports this module with ``protocol`` and
    ``firmware_model`` instrumented for coverage.
    """
    import atheris  # noqa: PLC0415 - only the fuzz run needs it, after instrumentation

    corpus = workdir / f"corpus-{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(seeds(target)):
        (corpus / f"seed-{i:04d}").write_bytes(data)
    state = {"inputs": 0, "found": 0}
    started = time.perf_counter()

    def one(data: bytes) -> None:
        state["found"] += TARGETS[target](data)
        state["inputs"] += 1
        if state["inputs"] % 100_000 == 0 or state["inputs"] == count:
            seconds = time.perf_counter() - started
            figures = Figures(target, "atheris", state["inputs"], seconds, state["found"])
            print(figures.line(), flush=True)

    argv = [
        sys.argv[0],
        f"-runs={count}",
        "-max_len=2100",
        f"-artifact_prefix={workdir}/crash-{target}-",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(argv, one)
    atheris.Fuzz()


_ATHERIS_CHILD = """
import sys
from pathlib import Path
import atheris
with atheris.instrument_imports(include=["protocol", "firmware_model"]):
    from tests.hardening import fuzz
fuzz.run_atheris(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
"""
"""A fresh interpreter per target: libFuzzer exits the process when done, and the code under
test must be imported inside ``instrument_imports`` to be instrumented."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.fuzz", description=__doc__)
    parser.add_argument("--engine", choices=["atheris", "random"], default="atheris")
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("-n", "--inputs", type=int, default=1_000_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random engine")
    parser.add_argument("--workdir", type=Path, help="corpus and crash files (default: a temp dir)")
    args = parser.parse_args(argv)
    targets = list(TARGETS) if args.target == "all" else [args.target]
    if args.engine == "random":
        for target in targets:
            print(run_random(target, args.inputs, args.seed).line(), flush=True)
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vpump-fuzz-"))
    print(f"fuzz: corpus and crash files in {workdir}", flush=True)
    status = 0
    for target in targets:
        command = [sys.executable, "-c", _ATHERIS_CHILD, target, str(args.inputs), str(workdir)]
        code = subprocess.call(command, env={**os.environ, "PYTHONHASHSEED": "0"})
        if code:
            print(f"fuzz {target}: FAILED (exit {code}); see the crash file in {workdir}")
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
