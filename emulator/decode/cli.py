"""``pump-emulator decode``: its command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from emulator.capture import (
    CaptureFileError,
    export_pcapng,
)
from emulator.decode.text import decode_file
from protocol.keys import KeyFileError, load_keys

# --- the command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``decode`` subcommand's arguments to ``parser``."""
    parser.add_argument("capture", type=Path, help="a capture file (JSON lines) to decode")
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        metavar="KEYFILE",
        help="the pump's key file: check the handshake proofs and every MAC "
        "(examples/keys/demo.key for the demo pump)",
    )
    parser.add_argument("--link", default=None, help="decode only this link (e.g. pty#1)")
    parser.add_argument("--no-hex", action="store_true", help="leave out the bytes in hex")
    parser.add_argument(
        "--summary-only", action="store_true", help="print only the header and the totals"
    )
    parser.add_argument(
        "--pcapng",
        "--pcap",
        dest="pcap",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the capture as pcapng for Wireshark: one interface per link, one "
        "packet per frame (decode it with -X lua_script:protocol/data/vpump.lua)",
    )


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``decode`` with parsed ``args``: 0 when decoded, 2 when a file is unusable."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        keys = None if args.keys is None else load_keys(args.keys)
        decode_file(
            args.capture,
            keys=keys,
            out=out,
            show_hex=not args.no_hex,
            frames=not args.summary_only,
            link=args.link,
        )
        if args.pcap is not None:
            packets = export_pcapng(args.capture, args.pcap, link=args.link)
            out.write(f"wrote {packets} packets to {args.pcap}\n")
    except (CaptureFileError, KeyFileError) as exc:
        err.write(f"decode: error: {exc}\n")
        return 2
    return 0
