"""``pump-emulator serve --count N --processes P``: one fleet served from P processes.

One emulator process runs one server loop on one core. Every pump is independent of the
others (its own clock reading, keys, ports and world), so a fleet splits into slices
without any coordination: this parent starts P ``pump-emulator serve`` children, child
``k`` serving pumps ``first_k .. first_k + count_k - 1`` of the fleet (``--first-index``),
with the same serials, per-pump keys, pty paths and TCP ports the fleet would have had in
one process. The parent waits for every child's ready line and prints one ready line of
its own, listing every pump (``index`` over the whole fleet) and the children's ``pids``;
it relays what the children print afterwards (link errors), and on SIGINT or SIGTERM stops
them all and prints ``{"event": "stopped", ...}``.

A child that dies takes its pumps with it; the parent then stops the others and exits
with status 3, so a process supervisor restarts the fleet as a whole.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from emulator.errors import EmulatorError

__all__ = ["child_argv", "serve_processes", "slices"]

READY_TIMEOUT_S = 600.0
"""How long a child may take to open its ports (thousands of ptys take seconds)."""

_NOT_WITH_PROCESSES = ("control", "state", "capture", "capture_pcap")
_VALUE_OPTIONS = ("--processes", "--count", "--first-index", "--key-dir")


def slices(count: int, processes: int) -> list[tuple[int, int]]:
    """(first index, count) of each process's share: as even as can be, in order."""
    if not 1 <= processes <= count:
        raise EmulatorError(
            f"--processes {processes}: give at most one process per pump (--count {count})"
        )
    base, extra = divmod(count, processes)
    result = []
    first = 0
    for k in range(processes):
        share = base + (1 if k < extra else 0)
        result.append((first, share))
        first += share
    return result


def child_argv(argv: Sequence[str], *, first: int, count: int, key_dir: Path) -> list[str]:
    """The parent's ``serve`` arguments for one child: its slice and the shared key dir,
    without ``--processes``."""
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        name = word.split("=", 1)[0]
        if name in _VALUE_OPTIONS:
            skip = "=" not in word
            continue
        out.append(word)
    return [*out, "--count", str(count), "--first-index", str(first), "--key-dir", str(key_dir)]


def _emit(event: dict[str, object]) -> None:
    print(json.dumps(event, sort_keys=True, default=str), flush=True)


def _relay(stream: IO[str], process: int) -> None:
    for line in stream:
        try:
            event = json.loads(line)
        except ValueError:
            event = {"event": "output", "line": line.rstrip("\n")}
        if isinstance(event, dict):
            event["process"] = process
            _emit(event)


def serve_processes(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the fleet ``args`` describes from ``args.processes`` children (see the module)."""
    refused = [f"--{o.replace('_', '-')}" for o in _NOT_WITH_PROCESSES if getattr(args, o)]
    if refused:
        raise EmulatorError(
            f"--processes does not take {', '.join(refused)}: start one serve per slice "
            "with --first-index instead, each with its own"
        )
    if args.first_index is not None:
        raise EmulatorError("--processes splits a whole fleet: drop --first-index")
    shares = slices(args.count, args.processes)
    key_dir = args.key_dir or Path(tempfile.mkdtemp(prefix="vpump-keys-"))
    key_dir.mkdir(parents=True, exist_ok=True)
    words = list(argv)
    if words and words[0] == "serve":
        words = words[1:]
    children: list[subprocess.Popen[str]] = []
    stopping = threading.Event()
    relays: list[threading.Thread] = []

    signalled: set[int] = set()

    def stop_all() -> None:
        # Once per child: a second SIGTERM reaching a child while its interpreter shuts
        # down (its handler already gone) would kill it mid-way.
        for child in children:
            if child.pid not in signalled and child.poll() is None:
                signalled.add(child.pid)
                child.send_signal(signal.SIGTERM)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        stop_all()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = 0
    try:
        for first, count in shares:
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "emulator.cli",
                        "serve",
                        *child_argv(words, first=first, count=count, key_dir=key_dir),
                    ],
                    stdout=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    text=True,
                )
            )
        pumps: list[object] = []
        for k, child in enumerate(children):
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line:
                raise EmulatorError(f"process {k} (pid {child.pid}) exited before it was ready")
            ready = json.loads(line)
            pumps.extend(ready["pumps"])
        relays += [
            threading.Thread(target=_relay, args=(child.stdout, k), daemon=True)
            for k, child in enumerate(children)
        ]
        for relay in relays:
            relay.start()
        _emit(
            {
                "event": "ready",
                "pid": os.getpid(),
                "pids": [child.pid for child in children],
                "processes": len(children),
                "speed": args.speed,
                "clock": args.clock,
                "key_dir": str(key_dir),
                "pumps": pumps,
            }
        )
        # Wait for a stop, or for a child to end by itself (then stop the rest).
        while not stopping.is_set():
            if any(child.poll() is not None for child in children):
                status = 3
                break
            stopping.wait(0.5)
    finally:
        stop_all()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for relay in relays:
            relay.join(timeout=5)  # the children's last lines come before ours
    _emit({"event": "stopped", "exit_codes": [child.returncode for child in children]})
    return status
