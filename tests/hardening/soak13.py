"""The long runs of issue 13 (hardening, round two), each printing one line of figures.

* ``attack``: 10 attacking links send bad handshakes every 50 ms of link time for an hour
  while a clinician stops and resumes the pump every 5 s on its own session (injected link
  time; the acceptance criteria of item 1 are checked throughout).
* ``attack-tcp``: the same in real time over real TCP connections to a running emulator:
  10 threads send bad handshakes as fast as the pump answers them while a clinician's
  STOP_PUMP / RESUME_PUMP are timed on the wall clock; then a fresh clinician handshake.
* ``full-disk``: a state file on a disk that fills and frees at random while a clinician
  changes the alarm volume: every acknowledged change is on disk, every refused one
  (STORAGE_FAILED) was not applied.
* ``sigkill-controls``: ``pump-emulator serve --state --clock manual --control SOCK`` is
  SIGKILLed at random moments while controls (pause, advance, battery) stream in; after
  each restart the pump stands where the last acknowledged control left it (or the one
  in flight).
* ``dropped``: 100,000 connections opened and dropped on the control channel and on TCP;
  resident memory before and after, and the failures kept.

Run::

    python -m tests.hardening.soak13               # everything
    python -m tests.hardening.soak13 attack-tcp    # one of them
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator.control import ControlTransport
from emulator.control import send as control_send
from emulator.emulator import Emulator
from emulator.persistence import StateFile
from firmware_model.pump import Pump
from protocol import messages as m
from protocol.client import PumpClient
from protocol.codec import Deframer
from protocol.enums import ErrorCode, Role, StopReason
from protocol.errors import NakError
from tests.hardening.test_durability import FullDisk
from tests.hardening.test_lockout import _bad_handshake, attack_while_the_clinician_works
from tests.support import DEMO_KEYS, T0

BIN = Path(sys.executable).parent


class SoakError(AssertionError):
    """An acceptance criterion of issue 13 failed in a long run."""


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def attack(minutes: float) -> str:
    started = time.perf_counter()
    figures = attack_while_the_clinician_works(minutes=minutes, round_s=0.05)
    return (
        f"attack link_minutes={minutes:g} handshakes={figures['handshakes']:,} "
        f"proofs_evaluated={figures['evaluated']:,} "
        f"most_tries_a_minute_per_link={figures['most_tries_a_minute']} "
        f"clinician_calls={figures['clinician_calls']} all_answered=yes "
        f"slowest_call_ms={figures['slowest_call_s'] * 1000:.1f} "
        f"security_log_entries={figures['security_entries']} "
        f"log_entries={figures['log_entries']} therapy_entries_lost=0 "
        f"seconds={time.perf_counter() - started:.1f}"
    )


def _attacker(address: tuple[str, int], stop: threading.Event, tries: list[float]) -> None:
    """Bad handshakes on one TCP connection, each sent when the last was answered."""
    rng = random.Random(address[1] + threading.get_ident())
    with socket.create_connection(address, timeout=10) as sock:
        deframer = Deframer()
        while not stop.is_set():
            sock.sendall(_bad_handshake(rng, Role.CLINICIAN))
            answers: list[m.Message] = []
            while len(answers) < 2:
                frames = deframer.feed(sock.recv(4096))
                answers += [m.decode_response(f.op, f.payload) for f in frames]
            last = answers[-1]
            if isinstance(last, m.Nak) and "proof did not verify" in last.reason:
                tries.append(time.monotonic())


def attack_tcp(seconds: float) -> str:
    with Emulator.single(preset="default") as emu:
        transport = emu.serve_tcp(0, "127.0.0.1", 0)
        stop = threading.Event()
        tries: list[list[float]] = [[] for _ in range(10)]
        threads = [
            threading.Thread(target=_attacker, args=(transport.address, stop, t), daemon=True)
            for t in tries
        ]
        latencies: list[float] = []
        url = transport.url
        with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=2.0, retries=0) as client:
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + seconds
            stopped = False
            while time.monotonic() < deadline:
                began = time.monotonic()
                if stopped:
                    client.resume()
                else:
                    client.stop(StopReason.CLINICIAN_DECISION)
                stopped = not stopped
                latencies.append(time.monotonic() - began)
                time.sleep(0.25)
            with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=2.0) as fresh:
                fresh.status()
        stop.set()
        for thread in threads:
            thread.join(10)
        emu.check()
    worst = 0
    for link in tries:
        later = link[5:]
        for j, t in enumerate(later):
            worst = max(worst, sum(1 for u in later[j:] if u < t + 60))
    if max(latencies) >= 1.0 or worst > 5:
        raise SoakError(f"slowest call {max(latencies):.3f} s, {worst} tries in a minute")
    return (
        f"attack-tcp wall_seconds={seconds:g} attacking_links=10 "
        f"proofs_evaluated={sum(len(t) for t in tries)} most_tries_a_minute_per_link={worst} "
        f"clinician_calls={len(latencies)} all_answered=yes "
        f"median_call_ms={sorted(latencies)[len(latencies) // 2] * 1000:.1f} "
        f"slowest_call_ms={max(latencies) * 1000:.1f} fresh_handshake=ok"
    )


def full_disk(changes: int) -> str:
    rng = random.Random(13)
    started = time.perf_counter()
    acknowledged = refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        disk = FullDisk(Path(tmp) / "pump.vpst")
        with Emulator.single(manual_clock=True, start_pump_s=T0) as emu:
            emu.pumps[0].persist_to(disk)
            url = emu.register_inproc()
            with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN], timeout_s=2.0) as client:
                for n in range(changes):
                    disk.full = rng.random() < 0.3
                    before = emu.pumps[0].pump.alarm_volume_nl
                    volume = 1_500_000 + (n * 7919) % 3_500_000
                    if volume == before:
                        volume += 1
                    try:
                        client.set_alarm_volume(volume)
                    except NakError as error:
                        if error.code is not ErrorCode.STORAGE_FAILED:
                            raise
                        refused += 1
                        if emu.pumps[0].pump.alarm_volume_nl != before:
                            raise SoakError(f"change {n} refused but applied") from None
                        continue
                    acknowledged += 1
                    on_disk = Pump.from_bytes(disk.load().pump_image).alarm_volume_nl
                    if on_disk != volume:
                        raise SoakError(f"change {n} acknowledged but not on disk")
                disk.full = False
    return (
        f"full-disk changes={changes:,} acknowledged_and_on_disk={acknowledged:,} "
        f"refused_storage_failed_and_not_applied={refused:,} violations=0 "
        f"seconds={time.perf_counter() - started:.1f}"
    )


def _serve(workdir: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(BIN / "pump-emulator"),
            "serve",
            "--no-pty",
            "--tcp",
            "127.0.0.1:0",
            "--state",
            str(workdir / "pump.state"),
            "--clock",
            "manual",
            "--control",
            str(workdir / "ctl.sock"),
        ],
        bufsize=0,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    if not proc.stdout.readline():
        raise SoakError(f"the emulator did not start: {proc.communicate(timeout=10)[1]!r}")
    return proc


def sigkill_controls(kills: int) -> str:
    rng = random.Random(5)
    started = time.perf_counter()
    acknowledged = in_flight_kept = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sock = str(workdir / "ctl.sock")
        for _ in range(kills):
            proc = _serve(workdir)
            pump_t = StateFile(workdir / "pump.state").load().pump_t
            last_acked, in_flight = pump_t, pump_t
            timer = threading.Timer(rng.uniform(0.02, 0.3), proc.send_signal, (signal.SIGKILL,))
            timer.start()
            try:
                while proc.poll() is None:
                    word = rng.choice(("advance", "advance", "pause", "battery"))
                    if word == "advance":
                        step = rng.randint(1, 86_400)
                        in_flight = last_acked + step
                        command = ["advance", f"{step}s"]
                    elif word == "pause":
                        in_flight, command = last_acked, ["pause"]
                    else:
                        in_flight, command = last_acked, ["fault", "battery", "80"]
                    reply = control_send(sock, command, timeout_s=5)
                    if not reply.get("ok"):
                        raise SoakError(f"{command}: {reply}")
                    acknowledged += 1
                    last_acked = in_flight
            except (OSError, ValueError):
                pass  # the kill came mid-command (or before it was sent)
            finally:
                timer.cancel()
                proc.wait(10)
                proc.communicate()
            saved = StateFile(workdir / "pump.state").load().pump_t
            if saved not in (last_acked, in_flight):
                raise SoakError(
                    f"saved t={saved}, acknowledged {last_acked}, in flight {in_flight}"
                )
            in_flight_kept += saved == in_flight != last_acked
            (workdir / "ctl.sock").unlink(missing_ok=True)
    return (
        f"sigkill-controls kills={kills} controls_acknowledged={acknowledged:,} lost=0 "
        f"in_flight_kept={in_flight_kept} seconds={time.perf_counter() - started:.1f}"
    )


def dropped(connections: int) -> str:
    started = time.perf_counter()
    emu = Emulator.single(manual_clock=True).start()  # closed below without check(): the
    with tempfile.TemporaryDirectory() as tmp:  # resets and dropped links are the point
        path = Path(tmp) / "ctl.sock"
        emu.add_transport(ControlTransport(emu, path))
        tcp = emu.serve_tcp(0, "127.0.0.1", 0)
        start = _rss_mb()
        before = start
        for n in range(connections):
            if n == connections // 5:
                time.sleep(0.5)
                before = _rss_mb()  # warmed up: the failures kept have reached their bound
            if n % 2:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.connect(str(path))
                    # A whole request, gone before its answer: the answer cannot be sent.
                    sock.sendall(b'{"command": ["state"]}\n' * 4)
            else:
                with socket.create_connection(tcp.address) as sock:
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )  # a reset, not a clean close
            if n % 1000 == 0:
                time.sleep(0.01)  # let the loop catch up
        time.sleep(0.5)
        after = _rss_mb()
        kept = len(emu.server.failures)
        counted = sum(emu.server.failure_counts.values())
        connected = tcp.connection_count
        emu.close()
    if after - before > 5 or kept > 1000 or connected > 1:
        raise SoakError(f"RSS {before:.1f} -> {after:.1f} MB, {kept} failures kept")
    return (
        f"dropped connections={connections:,} rss_start_mb={start:.1f} "
        f"rss_after_first_fifth_mb={before:.1f} rss_end_mb={after:.1f} "
        f"failures_kept={kept} failures_counted={counted} "
        f"seconds={time.perf_counter() - started:.1f}"
    )


RUNS: dict[str, tuple[Callable[[float], str], float]] = {
    "attack": (attack, 60),
    "attack-tcp": (attack_tcp, 30),
    "full-disk": (lambda n: full_disk(int(n)), 5000),
    "sigkill-controls": (lambda n: sigkill_controls(int(n)), 100),
    "dropped": (lambda n: dropped(int(n)), 100_000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.soak13", description=__doc__)
    parser.add_argument("runs", nargs="*", metavar="RUN", help=f"one of {', '.join(RUNS)}")
    parser.add_argument("--size", type=float, help="the run's size (minutes, seconds, count)")
    args = parser.parse_args(argv)
    unknown = [r for r in args.runs if r not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; runs: {', '.join(RUNS)}")
    for name in args.runs or list(RUNS):
        run, size = RUNS[name]
        print(run(args.size or size), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
