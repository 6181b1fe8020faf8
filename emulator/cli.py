"""``pump-emulator``: serve a virtual pump on a serial port.

``pump-emulator serve`` opens a pseudo-terminal with a stable symlink
(default ``/tmp/ttyPUMP0``) and optionally a TCP port for pyserial's
``socket://``, prints one JSON line ``{"event": "ready", ...}`` once it
accepts frames, and serves until SIGINT or SIGTERM, removing its symlink on
the way out. A programmer connecting twice, vanishing mid-session or sending
garbage never stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.errors import EmulatorError
from emulator.presets import PRESETS
from emulator.server import Server
from emulator.transports.base import LinkFailure
from emulator.transports.pty import DEFAULT_LINK_PATH, PtyTransport
from emulator.transports.tcp import TcpTransport
from firmware_model.errors import FirmwareError
from protocol.keys import DEMO_KEY_FILE, KeyFileError, load_keys

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_START = 3


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:7000)")
    return host, int(port)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"speed {text} is outside 1 to 1,000,000 (x real time)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pump-emulator",
        description="A virtual intrathecal drug pump that speaks the vpump telemetry protocol.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve one virtual pump on a pty (and optionally TCP)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--port",
        default=str(DEFAULT_LINK_PATH),
        help=f"symlink to the pty (default {DEFAULT_LINK_PATH})",
    )
    serve.add_argument("--no-pty", action="store_true", help="do not open a pty")
    serve.add_argument(
        "--tcp",
        type=_host_port,
        metavar="HOST:PORT",
        help="also listen for socket:// clients (port 0: any free port)",
    )
    serve.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="starting state: "
        + "; ".join(f"{name}: {p.description}" for name, p in sorted(PRESETS.items())),
    )
    serve.add_argument(
        "--model", type=int, choices=[20, 40], help="reservoir model in mL (default: the preset's)"
    )
    serve.add_argument("--serial", help="serial number (default: the preset's)")
    serve.add_argument(
        "--key",
        default=str(DEMO_KEY_FILE),
        help="the pump's key file (default: the public demo key)",
    )
    serve.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="pump time per wall second, 1 to 1,000,000 (default 1: real time)",
    )
    return parser


def _emit(event: dict[str, object]) -> None:
    print(json.dumps(event, sort_keys=True), flush=True)


def serve(args: argparse.Namespace) -> int:
    keys = load_keys(args.key)
    setup = PRESETS[args.preset].with_identity(model=args.model, serial=args.serial)
    clock = PumpClock(start_pump_s=int(time.time()), speed=args.speed)
    virtual = VirtualPump(pump=setup.build(t=clock.now()), keys=keys, clock=clock)

    def on_failure(failure: LinkFailure) -> None:
        _emit(
            {
                "event": "link-error",
                "link": failure.link,
                "where": failure.where,
                "error": repr(failure.error),
            }
        )

    server = Server(tick=virtual.tick, on_failure=on_failure, name="pump-emulator")
    ready: dict[str, object] = {
        "event": "ready",
        "pid": os.getpid(),
        "serial": setup.serial,
        "model": setup.model,
        "speed": args.speed,
    }
    try:
        if not args.no_pty:
            pty = PtyTransport(virtual.endpoint, link_path=args.port)
            server.add(pty)
            ready["pty"] = pty.port
            ready["device"] = pty.slave_name
        if args.tcp is not None:
            tcp = TcpTransport(virtual.endpoint, host=args.tcp[0], port=args.tcp[1])
            server.add(tcp)
            ready["tcp"] = tcp.url
        if args.no_pty and args.tcp is None:
            raise EmulatorError("nothing to serve: --no-pty needs --tcp")

        def stop(signum: int, frame: FrameType | None) -> None:
            server.request_stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # The pty and the socket are open already, so frames sent from here on are queued
        # by the kernel and answered once the loop runs.
        _emit(ready)
        server.serve_forever()
    finally:
        server.stop()
    _emit({"event": "stopped"})
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pump-emulator`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except (KeyFileError, FirmwareError) as exc:
        print(f"pump-emulator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmulatorError, OSError) as exc:
        print(f"pump-emulator: cannot start: {exc}", file=sys.stderr)
        return EXIT_START


if __name__ == "__main__":
    raise SystemExit(main())
