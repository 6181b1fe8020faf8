"""``pump-emulator``: serve virtual pumps on serial ports, and control them.

``pump-emulator serve`` opens a pseudo-terminal per pump with a stable
symlink (default ``/tmp/ttyPUMP0``; a fleet gets ``/tmp/ttyPUMP0..N-1``) and
optionally TCP ports for pyserial's ``socket://``, prints one JSON line
``{"event": "ready", ...}`` once it accepts frames, and serves until SIGINT or
SIGTERM, removing its symlinks on the way out. A programmer connecting twice,
vanishing mid-session or sending garbage never stops it.

``pump-emulator ctl --control ADDR COMMAND...`` drives a running emulator's
simulation controls (time, faults, link impairment, true state); see
``pump-emulator ctl --help``.

``pump-emulator run FILE...`` runs scenario files (``*.scenario.yaml``) against
in-process pumps, with a progress line per step; exit status 0 when every
scenario passed, 1 when one failed, 2 for a bad file. See ``docs/scenarios.md``.

``pump-emulator tones --out DIR`` writes each model's alarm tone patterns as WAV files.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib
import ipaddress
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while open (as it was before, after). Importing the
    emulator's modules allocates many objects and frees few: the three dozen collections
    the allocations set off found a few hundred objects to free (the next collection frees
    them now) and cost about 4 % of the instructions ``serve`` spent starting (#16)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


with _collector_paused():
    from emulator.clock import PumpClock
    from emulator.emulator import (
        ControlError,
        Emulator,
        fleet_setups,
        numbered_port,
    )
    from emulator.errors import EmulatorError, EmulatorUsageError
    from emulator.mri import VALVE_WORDS, ScheduledMriEnd
    from emulator.persistence import StateFile, catch_up_s
    from emulator.presets import PRESETS
    from emulator.transports.base import LinkFailure
    from emulator.transports.pty import DEFAULT_LINK_PATH
    from firmware_model.errors import FirmwareError
    from firmware_model.pump import Pump
    from protocol.keys import DEMO_KEY_FILE, KeyFileError, format_keys, load_keys

if TYPE_CHECKING:
    from emulator.capture import CaptureWriter, PcapngSink, PcapngWriter

# Each command imports only what it uses (``serve`` starts in a fraction of the time the
# scenario runner's schema validator, the decoder and the control channel would add):
# emulator.control, emulator.decode, emulator.capture and emulator.scenarios are imported
# where they are needed, and the parser builds the arguments of the command given only.

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_START = 3
EXIT_REFUSED = 5


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:7000)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(option: str, host: str, *, allow_remote: bool, key: str | Path) -> None:
    """The exposure rule of the network transports: loopback, unless ``--allow-remote`` and
    a key that is not the public demo key. Raises EmulatorError saying what is missing."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise EmulatorError(
            f"{option} {host}: listening beyond loopback needs --allow-remote "
            "(and a key of your own: the demo key is public)"
        )
    demo = load_keys(DEMO_KEY_FILE)
    keys = load_keys(key)
    if any(demo.get(role) == value for role, value in keys.items()):
        raise EmulatorError(
            f"{option} {host}: the public demo key never leaves loopback: give --key FILE "
            "with keys of your own"
        )


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"speed {text} is outside 1 to 1,000,000 (x real time)")
    return value


MAX_COUNT = 10_000
"""Pumps one ``serve`` may run (over all its processes). Over ptys the kernel's limit caps
it first: ``/proc/sys/kernel/pty/max`` (4096 by default) for the whole system."""


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"--count {text!r}: a whole number from 1 to {MAX_COUNT}")
    return int(text)


MAX_PROCESSES = 64
"""Processes one ``serve --processes`` starts, at most."""


def _processes(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(
            f"--processes {text!r}: a whole number from 1 to {MAX_PROCESSES}"
        )
    return int(text)


def _first_index(text: str) -> int:
    if not text.isdigit() or int(text) >= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"--first-index {text!r}: a whole number from 0 to {MAX_COUNT - 1}"
        )
    return int(text)


def is_fleet(args: argparse.Namespace) -> bool:
    """Whether ``serve`` serves (part of) a fleet: numbered serials and ports, derived keys."""
    return bool(args.count > 1 or args.first_index is not None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` only that command's own arguments are built in full
    (the others keep their name and help line), so nothing else is imported."""
    parser = argparse.ArgumentParser(
        prog="pump-emulator",
        description="Virtual intrathecal drug pumps that speak the vpump telemetry protocol.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve virtual pumps on ptys (and optionally TCP)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--port",
        default=str(DEFAULT_LINK_PATH),
        help=f"symlink to the pty (default {DEFAULT_LINK_PATH}; a fleet numbers on from it)",
    )
    serve.add_argument("--no-pty", action="store_true", help="do not open ptys")
    serve.add_argument(
        "--tcp",
        type=_host_port,
        metavar="HOST:PORT",
        help="also listen for socket:// clients (a fleet uses PORT..PORT+N-1; 0: any free port)",
    )
    serve.add_argument(
        "--rfc2217",
        type=_host_port,
        metavar="HOST:PORT",
        help="also serve RFC 2217 (Telnet COM port control) for rfc2217:// clients and "
        "virtual COM ports bridged to it; the negotiated line settings pace the answers "
        "(a fleet uses PORT..PORT+N-1; 0: any free port)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --tcp and --rfc2217 listen on an address other than loopback; refused "
        "with the public demo key (give --key with a key of your own)",
    )
    serve.add_argument(
        "--count",
        type=_count,
        default=1,
        help=f"pumps to serve, 1 to {MAX_COUNT} (default 1; over ptys the system's pty limit, "
        "/proc/sys/kernel/pty/max, caps it first)",
    )
    serve.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="P",
        help="serve the --count pumps from P processes (one core each; default 1): this "
        "process starts them, prints one ready line listing every pump, and stops them on "
        "SIGINT/SIGTERM; not with --control, --state, --capture or --capture-pcap",
    )
    serve.add_argument(
        "--first-index",
        type=_first_index,
        default=None,
        metavar="N",
        help="serve pumps N .. N+count-1 of a larger fleet (serials, pty and TCP ports number "
        "on from N; set by --processes, or to split a fleet over machines by hand)",
    )
    serve.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="starting state: "
        + "; ".join(
            f"{name}: {p.description}".replace("%", "%%") for name, p in sorted(PRESETS.items())
        ),
    )
    serve.add_argument(
        "--model", type=int, choices=[20, 40], help="reservoir model in mL (default: the preset's)"
    )
    serve.add_argument("--serial", help="serial number (default: the preset's)")
    serve.add_argument(
        "--pump-kind",
        choices=sorted(VALVE_WORDS),
        default="motor",
        help="how the pump meters drug, which decides what an MRI does: motor (the default, "
        "SynchroMed-like: the field stalls the rotor), valve-discharge (the original "
        "Prometra-like valve pump: the field discharges a reservoir not emptied at once) or "
        "valve-flow-activated (its flow-activated valve closes after about 10 uL and stops "
        "delivery until ctl valve-reset)",
    )
    serve.add_argument(
        "--key",
        default=str(DEMO_KEY_FILE),
        help="key file (default: the public demo key). A fleet derives one key per pump "
        "from it and writes the pumps' key files to --key-dir",
    )
    serve.add_argument(
        "--key-dir", type=Path, help="where a fleet's per-pump key files go (default: a temp dir)"
    )
    serve.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="pump time per wall second, 1 to 1,000,000 (default 1: real time)",
    )
    serve.add_argument(
        "--clock",
        choices=["running", "paused", "manual"],
        default="running",
        help="start the clock running (default), paused, or manual (moved only by `advance`)",
    )
    serve.add_argument(
        "--start",
        type=_start_time,
        metavar="UTC",
        help="pump clock at the start, e.g. 2026-03-07T08:00:00Z (a Saturday): with "
        "--clock manual a reproducible weekday and time (default: now; refused with a "
        "resumed --state)",
    )
    serve.add_argument(
        "--control",
        metavar="ADDR",
        help="serve simulation controls on 127.0.0.1:PORT or a unix socket path",
    )
    serve.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="keep each pump's non-volatile state in FILE (a fleet: FILE.0, FILE.1, ...): saved "
        "atomically before every acknowledgement and every 5 s, resumed on start; a corrupt "
        "file is refused and left untouched",
    )
    serve.add_argument(
        "--pause-while-off",
        action="store_true",
        help="on resume, do not catch up the time the emulator was off",
    )
    serve.add_argument(
        "--capture",
        type=Path,
        metavar="FILE",
        help="record every byte each pump receives and sends (JSON lines with wall and pump "
        "times; a fleet: FILE.0, FILE.1, ...); read it with `pump-emulator decode FILE`",
    )
    serve.add_argument(
        "--capture-pcap",
        type=Path,
        metavar="FILE",
        help="also write every pump's traffic to FILE as pcapng for Wireshark: one interface "
        "per link (named by pump and link), one packet per frame, the direction in the packet "
        "flags; decode it with -X lua_script:protocol/data/vpump.lua",
    )
    serve.add_argument(
        "--capture-max-mb",
        type=_capture_limit,
        default=DEFAULT_CAPTURE_MAX_MB,
        metavar="N",
        help=f"stop recording a capture at N MiB, with one line on stderr (1 to 65536, default "
        f"{DEFAULT_CAPTURE_MAX_MB})",
    )
    serve.add_argument(
        "--force",
        action="store_true",
        help="let --capture overwrite an existing file (refused without it)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the link faults (default 0)")
    serve.add_argument(
        "--catheter-cm",
        type=int,
        default=None,
        help="the TRUE catheter's length, cm: the emulated fluid path (default: the pump's "
        "implant record, 110 cm for the presets). Differ from the record to stage a mismatch "
        "between what the clinician recorded and what is implanted",
    )

    decoder = sub.add_parser(
        "decode",
        help="print a capture frame by frame, decoded with units",
        description="Decode a --capture file: every frame field by field with units, CRC and "
        "MAC failures flagged, sessions followed (give the key file to check MACs).",
    )
    if command in (None, "decode"):
        from emulator import decode  # noqa: PLC0415 - only for this command

        decode.add_arguments(decoder)

    ctl = sub.add_parser(
        "ctl",
        help="send a simulation control to a running emulator",
        description=_doc("emulator.control") if command in (None, "ctl") else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ctl.add_argument("--control", required=True, metavar="ADDR", help="the emulator's --control")
    ctl.add_argument("words", nargs=argparse.REMAINDER, help="the command, e.g. speed 3600")

    runner = sub.add_parser(
        "run",
        help="run scenario files against in-process pumps (exit 0 passed, 1 failed, 2 bad file)",
        description=_doc("emulator.scenarios.console") if command in (None, "run") else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command in (None, "run"):
        from emulator.scenarios import console  # noqa: PLC0415 - only for this command

        console.add_arguments(runner)

    recorder_parser = sub.add_parser(
        "record",
        help="turn a captured session into a scenario file that replays it",
        description=_doc("emulator.recorder") if command in (None, "record") else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command in (None, "record"):
        from emulator import recorder  # noqa: PLC0415 - only for this command

        recorder.add_arguments(recorder_parser)

    tone_files = sub.add_parser(
        "tones",
        help="write each model's alarm tone patterns as WAV files",
        description=_doc("emulator.tones") if command in (None, "tones") else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command in (None, "tones"):
        from emulator import tones  # noqa: PLC0415 - only for this command

        tones.add_arguments(tone_files)
    return parser


def _doc(module: str) -> str | None:
    return importlib.import_module(module).__doc__


def _start_time(text: str) -> int:
    from emulator.scenarios.errors import UnitError  # noqa: PLC0415 - only for --start
    from emulator.scenarios.units import parse_iso_utc  # noqa: PLC0415

    try:
        return parse_iso_utc(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


DEFAULT_CAPTURE_MAX_MB = 256
"""Largest capture file by default, MiB (about a day of a programmer polling every second)."""


def _capture_limit(text: str) -> int:
    if re.fullmatch(r"[0-9]{1,5}", text, re.ASCII) is None or not 1 <= int(text) <= 65536:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a size in MiB from 1 to 65536")
    return int(text)


def _write_private(path: Path, text: str) -> None:
    """Write a key file readable by its owner only (0600), never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: set it
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _emit(event: dict[str, object]) -> None:
    print(json.dumps(event, sort_keys=True, default=str), flush=True)


def build_emulator(
    args: argparse.Namespace, *, on_failure: Callable[[LinkFailure], None] | None = None
) -> Emulator:
    """The emulator ``serve`` describes (ports not yet opened)."""
    keys = load_keys(args.key)
    base = dataclasses.replace(
        PRESETS[args.preset].with_identity(model=args.model, serial=args.serial),
        valve=VALVE_WORDS[args.pump_kind],
    )
    fleet = is_fleet(args)
    first = args.first_index or 0
    setups = fleet_setups(base, args.count, first=first, fleet=fleet)
    state_files = [
        StateFile(path) for path in numbered_paths(args.state, args.count, first=first, fleet=fleet)
    ]
    for state_file in state_files:
        state_file.acquire()  # two emulators never share a state file
    resumed, catheters, mri_ends = _resume(
        state_files, args.count, pause_while_off=args.pause_while_off
    )
    start = max((p.t for p in resumed if p is not None), default=int(time.time()))
    if getattr(args, "start", None) is not None:
        if any(p is not None for p in resumed):
            for state_file in state_files:
                state_file.release()
            raise EmulatorUsageError(
                "--start cannot move the clock of a pump resumed from --state (its time goes "
                "on from where it was saved): drop one of them"
            )
        start = args.start
    pumps = [
        p if p is not None else setup.build(t=start)
        for p, setup in zip(resumed, setups, strict=True)
    ]
    clock = PumpClock(start_pump_s=start, speed=args.speed)
    if args.clock == "paused":
        clock.pause()
    elif args.clock == "manual":
        clock.set_manual()
    emulator = Emulator(
        setups,
        keys=keys,
        clock=clock,
        catheter_length_cm=args.catheter_cm,
        seed=args.seed,
        on_failure=on_failure,
        pumps=pumps,
        derive_pump_keys=fleet,
    )
    if args.catheter_cm is None:
        # A resumed pump keeps its true catheter (saved with it), whatever its record says.
        for emulated, saved_cm in zip(emulator.pumps, catheters, strict=True):
            if saved_cm is not None and saved_cm != emulated.catheter_length_cm:
                emulated.catheter_length_cm = saved_cm
                emulated.reset_world()
    # An MRI exposure still in progress keeps its scheduled end (pump time).
    for emulated, mri_end in zip(emulator.pumps, mri_ends, strict=True):
        if mri_end is not None:
            emulated.schedule_mri_end(mri_end)
    if state_files:
        for pump, state_file in zip(emulator.pumps, state_files, strict=True):
            pump.persist_to(state_file)
            pump.save_if_changed()
        emulator.resumed = [p is not None for p in resumed]
    return emulator


def numbered_paths(
    base: Path | None, count: int, *, first: int = 0, fleet: bool | None = None
) -> list[Path]:
    """A file per pump: FILE for one pump, FILE.0 .. FILE.N-1 for a fleet (numbered from
    ``first`` for a slice of one)."""
    if base is None:
        return []
    if not (count > 1 if fleet is None else fleet):
        return [base]
    return [base.with_name(f"{base.name}.{i}") for i in range(first, first + count)]


def _resume(
    state_files: Sequence[StateFile], count: int, *, pause_while_off: bool
) -> tuple[list[Pump | None], list[int | None], list[ScheduledMriEnd | None]]:
    """The saved pumps, caught up to now (None where there is no file yet), their true
    catheters (cm, None if not saved) and the scheduled ends of MRI exposures still in
    progress (applied on their second if the catch-up passes them); a corrupt, unreadable
    or older-format file raises and is left as it is."""
    if not state_files:
        return [None] * count, [None] * count, [None] * count
    pumps: list[Pump | None] = []
    catheters: list[int | None] = []
    ends: list[ScheduledMriEnd | None] = []
    for state_file in state_files:
        if not state_file.exists():
            pumps.append(None)
            catheters.append(None)
            ends.append(None)
            continue
        stored = state_file.load()
        saved_cm = stored.extra.get("catheter_length_cm")
        catheters.append(saved_cm if type(saved_cm) is int and saved_cm >= 0 else None)
        pump = Pump.from_bytes(stored.pump_image)
        end = ScheduledMriEnd.from_extra(stored.extra)
        end = _catch_up_to(
            pump,
            pump.t + catch_up_s(stored, now_wall_s=time.time(), pause_while_off=pause_while_off),
            end,
        )
        state_file.remove_stale_temp_files()
        pumps.append(pump)
        ends.append(end)
    # One clock serves the fleet: bring every resumed pump to the latest of them.
    latest = max((p.t for p in pumps if p is not None), default=0)
    for i, p in enumerate(pumps):
        if p is not None:
            ends[i] = _catch_up_to(p, latest, ends[i])
    return pumps, catheters, ends


def _catch_up_to(pump: Pump, t: int, end: ScheduledMriEnd | None) -> ScheduledMriEnd | None:
    """Advance ``pump`` to ``t``, applying a scheduled MRI end on its second on the way;
    returns the end if it is still ahead."""
    if end is not None and end.at_t <= t:
        pump.advance_to(max(end.at_t, pump.t))
        mri = pump.mri
        if mri is not None and mri.in_field:
            pump.mri_leave(
                pump.t,
                recovery_delay_s=end.recovery_delay_s,
                telemetry_trap=end.telemetry_trap,
                recovery_logged_at_second_interrogation=end.recovery_logged_at_second_interrogation,
            )
        end = None
    pump.advance_to(t)
    return end


def serve(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    if args.processes > 1:
        from emulator.processes import serve_processes  # noqa: PLC0415 - only this command

        return serve_processes(args, argv)
    # What is built from here to the ready line lives as long as the process: the cyclic
    # collector's passes over it found nothing to free (two full ones, 49 ms of CPU, while
    # 2000 pumps were built; `python -m bench.fleetpoll --gc`). It is off until the ready
    # line, where what was built is frozen out of its reach and it is switched back on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _serve(args, collecting=collecting)
    finally:
        if collecting:
            gc.enable()


def _serve(args: argparse.Namespace, *, collecting: bool) -> int:
    failures = 0  # counted, not kept: the server keeps the last 1000

    def on_failure(failure: LinkFailure) -> None:
        nonlocal failures
        failures += 1
        _emit(
            {
                "event": "link-error",
                "link": failure.link,
                "where": failure.where,
                "error": repr(failure.error),
            }
        )

    emulator = build_emulator(args, on_failure=on_failure)
    fleet = is_fleet(args)
    first = args.first_index or 0
    writers: list[CaptureWriter | PcapngSink] = []
    pcapng: PcapngWriter | None = None
    ready: dict[str, object] = {
        "event": "ready",
        "pid": os.getpid(),
        "speed": args.speed,
        "clock": args.clock,
    }
    try:
        if args.no_pty and args.tcp is None and args.rfc2217 is None:
            raise EmulatorError("nothing to serve: --no-pty needs --tcp or --rfc2217")
        for option, address in (("--tcp", args.tcp), ("--rfc2217", args.rfc2217)):
            if address is not None:
                check_exposure(option, address[0], allow_remote=args.allow_remote, key=args.key)
        # Capture first: the ports build their endpoint factories when they open.
        if args.capture is not None or args.capture_pcap is not None:
            from emulator.capture import (  # noqa: PLC0415 - only with a capture
                CaptureWriter,
                PcapngSink,
                PcapngWriter,
            )
        if args.capture_pcap is not None:
            pcapng = PcapngWriter(args.capture_pcap, overwrite=args.force)
            ready["capture_pcap"] = str(args.capture_pcap)
        if args.capture is not None or pcapng is not None:
            paths: list[Path | None] = (
                list(numbered_paths(args.capture, args.count, first=first, fleet=fleet))
                if args.capture is not None
                else [None] * args.count
            )
            for pump, path in zip(emulator.pumps, paths, strict=True):
                sink: CaptureWriter | PcapngSink
                if path is not None:
                    sink = CaptureWriter(
                        path,
                        pump_clock=emulator.clock.now,
                        pump_serial=pump.setup.serial,
                        pcap=pcapng,
                        overwrite=args.force,
                        max_bytes=args.capture_max_mb * 1024 * 1024,
                    )
                else:
                    assert pcapng is not None  # one of the two was asked for
                    sink = PcapngSink(pcapng, pump.setup.serial, emulator.clock.now)
                writers.append(sink)
                pump.capture_to(sink)
            if args.capture is not None:
                ready["capture"] = [str(p) for p in paths]
        for i in range(args.count):
            n = first + i  # the pump's number in the fleet
            if not args.no_pty:
                emulator.serve_pty(i, numbered_port(args.port, n, 2 if fleet else 1))
            if args.tcp is not None:
                host, port = args.tcp
                emulator.serve_tcp(i, host, port + n if port else 0, allow_remote=args.allow_remote)
            if args.rfc2217 is not None:
                host, port = args.rfc2217
                emulator.serve_rfc2217(
                    i, host, port + n if port else 0, allow_remote=args.allow_remote
                )
        if args.control:
            from emulator import control  # noqa: PLC0415 - only with --control

            transport = control.ControlTransport(emulator, control.parse_address(args.control))
            emulator.add_transport(transport)
            ready["control"] = transport.address
        if fleet:
            if args.key_dir is None:
                import tempfile  # noqa: PLC0415 - only for a fleet without --key-dir

                key_dir = Path(tempfile.mkdtemp(prefix="vpump-keys-"))
            else:
                key_dir = args.key_dir
            key_dir.mkdir(parents=True, exist_ok=True)
            for p in emulator.pumps:
                _write_private(key_dir / f"{p.setup.serial}.key", format_keys(p.keys))
            ready["key_dir"] = str(key_dir)
        if args.state is not None:
            ready["state"] = [
                str(p) for p in numbered_paths(args.state, args.count, first=first, fleet=fleet)
            ]
            ready["resumed"] = emulator.resumed
        addresses = emulator.addresses()
        for address in addresses:
            address["index"] = first + int(str(address["index"]))
        if not fleet:
            ready.update({k: v for k, v in addresses[0].items() if v is not None})
        else:
            ready["pumps"] = addresses

        def stop(signum: int, frame: FrameType | None) -> None:
            emulator.server.request_stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # The ports are open already, so frames sent from here on are queued by the kernel
        # and answered once the loop runs.
        _emit(ready)
        # What was built so far lives as long as the process: keep it out of the cyclic
        # collector's full passes (at thousands of pumps one took ~0.1-0.4 s, a stall every
        # poll in flight then waited for).
        gc.freeze()
        if collecting:
            gc.enable()
        emulator.server.serve_forever()
    finally:
        emulator.close()
        for writer in writers:
            writer.close()
        if pcapng is not None:
            pcapng.close()
    _emit({"event": "stopped", "link_errors": failures})
    return EXIT_OK


def ctl(args: argparse.Namespace) -> int:
    if not args.words:
        print("pump-emulator ctl: give a command, e.g. `state` or `speed 3600`", file=sys.stderr)
        return EXIT_USAGE
    try:
        from emulator import control  # noqa: PLC0415 - only for this command

        reply = control.send(args.control, args.words)
    except (OSError, ValueError, ControlError) as exc:
        print(f"pump-emulator ctl: cannot reach {args.control}: {exc}", file=sys.stderr)
        return EXIT_START
    if not reply.get("ok"):
        print(f"pump-emulator ctl: {reply.get('error')}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(reply.get("result"), indent=2, sort_keys=True))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pump-emulator`` console script."""
    raw = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in raw if not w.startswith("-")), None)
    args = build_parser(command).parse_args(raw)
    try:
        if args.command == "ctl":
            return ctl(args)
        if args.command == "decode":
            from emulator import decode  # noqa: PLC0415 - only for this command

            return decode.run(args)
        if args.command == "run":
            from emulator.scenarios import console  # noqa: PLC0415 - only for this command

            return console.run(args)
        if args.command == "record":
            from emulator import recorder  # noqa: PLC0415 - only for this command

            return recorder.run(args)
        if args.command == "tones":
            from emulator import tones  # noqa: PLC0415 - only for this command

            return tones.run(args)
        return serve(args, raw)
    except (KeyFileError, FirmwareError, ControlError) as exc:
        print(f"pump-emulator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmulatorError, OSError) as exc:
        print(f"pump-emulator: cannot start: {exc}", file=sys.stderr)
        return EXIT_START


if __name__ == "__main__":
    raise SystemExit(main())
