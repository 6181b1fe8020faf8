"""The simulation control channel: words in, JSON out, apart from the clinical link.

Commands (one line of words each; ``--pump N`` picks a pump, default 0)::

    speed N                          pump seconds per wall second, 1 to 1,000,000
    pause | resume | manual          stop the clock, restart it, or move it only by `advance`
    advance DURATION                 e.g. 90d, 12h, 30min, 45s (whole seconds)
    fault motor-stall on|off
    fault memory-error critical|noncritical
    fault battery PERCENT
    fault low-battery-reset          the pump resets: minimum rate (keep-open) until reprogrammed
    mri start                        the pump enters an MRI field: the rotor stops (motor stall)
    mri end [OPTIONS]                it leaves the field now
    mri DURATION [OPTIONS]           an exposure from now, e.g. 45m: ends on its pump second
        OPTIONS: --delay 4h | --delay 2h..24h (seeded uniform)   recovery delay, 0 to 24 h
                 --telemetry-trap on|off|seeded                  wait for an interrogation
                 --log-recovery-at-second-interrogation
    valve-reset                      reopen a closed flow-activated valve (valve pump models)
    link [drop=P] [corrupt=P] [delay=MS] [baud=N|off] [disconnect|reconnect]
    state                            the full true state (JSON)
    pumps                            where each pump is served
    reset                            every pump (or --pump N) back to its starting state

Out of process the channel is JSON lines over a local socket (``--control
127.0.0.1:7100`` or a unix socket path): each request is
``{"id": ..., "command": ["speed", "100"]}`` and each answer
``{"id": ..., "ok": true, "result": ...}`` or ``{"id": ..., "ok": false,
"error": "..."}``. A bad command gets a clear error and changes nothing, and
the channel survives any command: every value is range-checked (numbers are
ASCII decimal and finite; ``delay`` 0 to 60,000 ms, ``baud`` 300 to 1,000,000,
``speed`` 1 to 1,000,000, durations at most 12 digits and a century, ``--pump``
an existing pump), and an ``id`` must be a string, an integer or null.
``pump-emulator ctl --control ADDR WORDS...`` is the client.

The channel has no credentials: it is for the person running the simulation,
so it listens only on loopback (``127.0.0.1``, ``::1``) or on a unix socket
created 0600 (readable and writable by its owner only).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from emulator.clock import MAX_SPEED, MIN_SPEED
from emulator.emulator import ControlError, Emulator, MriControlError
from emulator.errors import PortInUseError
from emulator.link_faults import MAX_BAUD, MAX_DELAY_MS, MIN_BAUD
from emulator.mri import MriExit, MriValueError, Trap, parse_delay, parse_mri_duration, parse_trap
from emulator.transports.base import (
    EVENT_READ,
    EVENT_WRITE,
    OUT_OF_DESCRIPTORS,
    AcceptBackoff,
    Transport,
    Watch,
)
from protocol import units

MAX_LINE_BYTES = 4096
"""A control request longer than this is refused (and the connection closed)."""
MAX_PENDING_ANSWER_BYTES = 256 * 1024
"""Answers waiting for a control client; past this its requests are not read until it
reads (back-pressure), so a client that never reads cannot grow the emulator's memory."""

_UNITS_S = {"s": 1, "min": 60, "h": 3600, "d": 86_400}
MAX_DURATION_CHARS = 64
"""Longest duration text read (a compound one such as ``4d 16h 30min`` fits easily)."""
_DECIMAL = re.compile(r"[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?")
_INDEX = re.compile(r"[0-9]{1,6}")
MAX_ID_CHARS = 200
"""Longest string ``id`` echoed back."""


def parse_duration(text: str) -> int:
    """``90d``, ``4d 16h``, ``12h``, ``30min``, ``45s`` -> whole seconds
    (:func:`protocol.units.parse_duration`: a unit on every part, whole numbers)."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    try:
        if len(text) > MAX_DURATION_CHARS:
            raise ValueError(f"longer than {MAX_DURATION_CHARS} characters")
        return int(units.parse_duration(text, allowed=_UNITS_S, decimals=False))
    except ValueError:
        raise ControlError(
            f"duration {shown!r}: write whole numbers, each with a unit, "
            "e.g. 90d, 4d 16h, 12h, 30min, 45s"
        ) from None


def _probability(name: str, text: str) -> float:
    value = _number(name, text)
    if not 0 <= value <= 1:
        raise ControlError(f"{name}={text}: a probability must be 0 to 1")
    return value


def _number(name: str, text: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite ASCII decimal within ``low``..``high`` (never nan, inf, a full-width digit)."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    if _DECIMAL.fullmatch(text) is None:
        raise ControlError(f"{name} {shown!r}: not a number (write e.g. 12 or 0.5)")
    value = float(text)
    if not math.isfinite(value) or not low <= value <= high:
        raise ControlError(f"{name} {shown}: outside {low:g}..{high:g}")
    return value


def execute(emulator: Emulator, words: Sequence[str]) -> Any:
    """Run one control command; return a JSON-able result or raise ControlError."""
    args = list(words)
    index = 0
    if "--pump" in args:
        at = args.index("--pump")
        word = args[at + 1] if at + 1 < len(args) else ""
        if _INDEX.fullmatch(word) is None or int(word) >= len(emulator.pumps):
            raise ControlError(
                f"--pump needs a pump number 0..{len(emulator.pumps) - 1}, got {word[:20]!r}"
            )
        index = int(word)
        del args[at : at + 2]
    if not args:
        raise ControlError("no command given (try: state, speed 100, advance 1d, ...)")
    command, rest = args[0], args[1:]
    handler = _COMMANDS.get(command)
    if handler is None:
        raise ControlError(f"unknown command {command!r}; commands: {', '.join(sorted(_COMMANDS))}")
    return handler(emulator, rest, index)


def _expect(rest: list[str], count: int, usage: str) -> None:
    if len(rest) != count:
        raise ControlError(f"usage: {usage}")


def _speed(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 1, "speed N (1 to 1,000,000)")
    emu.set_speed(_number("speed", rest[0], MIN_SPEED, MAX_SPEED))
    return _clock(emu)


def _pause(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 0, "pause")
    emu.pause()
    return _clock(emu)


def _resume(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 0, "resume")
    emu.resume()
    return _clock(emu)


def _manual(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 0, "manual")
    emu.set_manual()
    return _clock(emu)


def _advance(emu: Emulator, rest: list[str], index: int) -> Any:
    if not rest:
        raise ControlError("usage: advance DURATION (e.g. 90d, or 4d 16h)")
    emu.advance(parse_duration(" ".join(rest)))
    return _clock(emu)


def _clock(emu: Emulator) -> dict[str, Any]:
    snap = emu.clock.snapshot()
    return {"mode": str(snap.mode), "speed": snap.speed, "pump_time_s": snap.pump_time_s}


def _fault(emu: Emulator, rest: list[str], index: int) -> Any:
    usage = (
        "fault motor-stall on|off | fault memory-error critical|noncritical | fault battery "
        "PERCENT | fault low-battery-reset"
    )
    if rest and rest[0] == "low-battery-reset":
        if len(rest) != 1:
            raise ControlError("usage: fault low-battery-reset (no value)")
        emu.fault_low_battery_reset(index)
        return {"alarms": [a.name for a in emu.alarms_active(index)]}
    if len(rest) != 2:
        raise ControlError(f"usage: {usage}")
    kind, value = rest
    if kind == "motor-stall":
        if value not in ("on", "off"):
            raise ControlError("usage: fault motor-stall on|off")
        emu.fault_motor_stall(value == "on", index)
    elif kind == "memory-error":
        if value not in ("critical", "noncritical"):
            raise ControlError("usage: fault memory-error critical|noncritical")
        emu.fault_memory_error(value == "critical", index)
    elif kind == "battery":
        emu.fault_battery(_number("battery", value.removesuffix("%"), 0, 100), index)
    else:
        raise ControlError(f"unknown fault {kind!r}; usage: {usage}")
    return {"alarms": [a.name for a in emu.alarms_active(index)]}


_MRI_USAGE = (
    "mri start | mri end [OPTIONS] | mri DURATION [OPTIONS] (e.g. mri 45m); OPTIONS: "
    "--delay 4h | --delay 2h..24h, --telemetry-trap on|off|seeded, "
    "--log-recovery-at-second-interrogation"
)


def _mri_exit(words: list[str]) -> MriExit:
    """The options of ``mri end`` and ``mri DURATION``, each at most once."""
    delay: int | tuple[int, int] = 0
    trap: Trap = False
    second = False
    seen: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if word in seen:
            raise MriControlError(f"mri: {word} given twice; usage: {_MRI_USAGE}")
        seen.add(word)
        if word in ("--delay", "--telemetry-trap"):
            if i + 1 >= len(words):
                raise MriControlError(f"mri: {word} needs a value; usage: {_MRI_USAGE}")
            value = words[i + 1]
            if word == "--delay":
                delay = parse_delay(value)
            else:
                trap = parse_trap(value)
            i += 2
        elif word == "--log-recovery-at-second-interrogation":
            second = True
            i += 1
        else:
            raise MriControlError(f"mri: unknown option {word!r}; usage: {_MRI_USAGE}")
    return MriExit(
        recovery_delay_s=delay,
        telemetry_trap=trap,
        recovery_logged_at_second_interrogation=second,
    )


def _mri(emu: Emulator, rest: list[str], index: int) -> Any:
    if not rest:
        raise MriControlError(f"usage: {_MRI_USAGE}")
    what, options = rest[0], rest[1:]
    try:
        if what == "start":
            if options:
                raise MriControlError(
                    "usage: mri start (no options: the delay and the trap belong to the end)"
                )
            return emu.mri_start(index)
        if what == "end":
            return emu.mri_end(_mri_exit(options), index)
        if what.startswith("-"):
            raise MriControlError(f"usage: {_MRI_USAGE}")
        duration = parse_mri_duration(what)
        return emu.mri(duration, _mri_exit(options), index)
    except MriValueError as exc:
        raise MriControlError(str(exc)) from exc


def _valve_reset(emu: Emulator, rest: list[str], index: int) -> Any:
    if rest:
        raise MriControlError("usage: valve-reset (no arguments)")
    return emu.valve_reset(index)


def _link(emu: Emulator, rest: list[str], index: int) -> Any:
    if not rest:
        raise ControlError(
            "usage: link [drop=P] [corrupt=P] [delay=MS] [baud=N|off] [disconnect|reconnect]"
        )
    changes: dict[str, object] = {}
    for word in rest:
        if word in ("disconnect", "reconnect"):
            changes["disconnected"] = word == "disconnect"
            continue
        name, sep, value = word.partition("=")
        if not sep:
            raise ControlError(f"link: {word!r} is not NAME=VALUE, disconnect or reconnect")
        if name in ("drop", "corrupt"):
            changes[name] = _probability(name, value)
        elif name == "delay":
            changes["delay_ms"] = _number("delay", value, 0, MAX_DELAY_MS)
        elif name == "baud":
            if value == "off":
                changes["baud"] = None
            else:
                baud = _number("baud", value, MIN_BAUD, MAX_BAUD)
                if baud != int(baud):
                    raise ControlError(f"baud {value}: a whole number of baud")
                changes["baud"] = int(baud)
        else:
            raise ControlError(f"link: unknown setting {name!r} (drop, corrupt, delay, baud)")
    return asdict(emu.set_link(index, **changes))


def _state(emu: Emulator, rest: list[str], index: int) -> Any:
    if rest not in ([], ["--json"]):
        raise ControlError("usage: state [--json]")
    return emu.state(index)


def _pumps(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 0, "pumps")
    return emu.addresses()


def _reset(emu: Emulator, rest: list[str], index: int) -> Any:
    _expect(rest, 0, "reset")
    emu.reset(index)
    return {"reset": index}


_COMMANDS: dict[str, Callable[[Emulator, list[str], int], Any]] = {
    "speed": _speed,
    "pause": _pause,
    "resume": _resume,
    "manual": _manual,
    "advance": _advance,
    "fault": _fault,
    "mri": _mri,
    "valve-reset": _valve_reset,
    "link": _link,
    "state": _state,
    "pumps": _pumps,
    "reset": _reset,
}


def _reject_constant(name: str) -> Any:
    raise ControlError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ControlError(f"{text[:40]} is too large a number")
    return value


def _request_id(request: dict[str, Any]) -> Any:
    request_id = request.get("id")
    if request_id is None or (type(request_id) is int and abs(request_id) < 2**53):
        return request_id
    if isinstance(request_id, str) and len(request_id) <= MAX_ID_CHARS:
        return request_id
    raise ControlError(
        f"'id' must be a string of at most {MAX_ID_CHARS} characters, an integer or null"
    )


def answer(emulator: Emulator, line: bytes) -> bytes:
    """One JSON-lines request in, one JSON line out (never raises, whatever the input)."""
    request_id: Any = None
    try:
        request = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
        if not isinstance(request, dict):
            raise ControlError("a request is a JSON object with a 'command' list of words")
        request_id = _request_id(request)
        words = request.get("command")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ControlError('\'command\' must be a list of strings, e.g. ["speed", "100"]')
        result = execute(emulator, words)
        reply: dict[str, Any] = {"id": request_id, "ok": True, "result": result}
    except (ControlError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        reply = {"id": request_id, "ok": False, "error": str(exc)}
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A value no check above foresaw: refused, never the end of the channel.
        reply = {"id": request_id, "ok": False, "error": f"refused: {type(exc).__name__}: {exc}"}
    try:
        text = json.dumps(reply, sort_keys=True, default=str, allow_nan=False)
    except ValueError:
        text = json.dumps({"id": request_id, "ok": False, "error": "the result is not valid JSON"})
    return (text + "\n").encode()


# -- the control socket ---------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int] | Path:
    """``HOST:PORT`` (TCP on a local address) or a filesystem path (a unix socket)."""
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and "/" not in text:
        if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            raise ControlError(f"the control channel listens on loopback only, not {host!r}")
        return host.strip("[]"), int(port)
    return Path(text)


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()


class ControlTransport(Transport):
    """Serves the control channel on the emulator's own loop (one thread, no locks held
    across I/O)."""

    def __init__(self, emulator: Emulator, address: tuple[str, int] | Path) -> None:
        super().__init__()
        self._emulator = emulator
        self._closed = False
        self._path: Path | None = None
        self._conns: dict[socket.socket, _Conn] = {}
        self._backoff = AcceptBackoff(time.monotonic)
        if isinstance(address, Path):
            if address.exists() or address.is_symlink():
                if not stat.S_ISSOCK(address.lstat().st_mode):
                    raise PortInUseError(f"{address} exists and is not a socket; not touching it")
                address.unlink()  # a stale socket left by a killed emulator
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # No credentials on this channel: its socket is its owner's alone (0600), from
            # the moment it exists.
            old_umask = os.umask(0o177)
            try:
                self._listener.bind(str(address))
            finally:
                os.umask(old_umask)
            os.chmod(address, 0o600)
            self._path = address
            self.address: str = str(address)
        else:
            family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            self._listener = socket.socket(family, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self._listener.bind(address)
            except OSError as exc:
                self._listener.close()
                raise PortInUseError(f"control address {address[0]}:{address[1]}: {exc}") from exc
            host, port = self._listener.getsockname()[:2]
            self.address = f"{host}:{port}"
        self._listener.listen()
        self._listener.setblocking(False)

    @property
    def label(self) -> str:
        return f"control:{self.address}"

    @property
    def closed(self) -> bool:
        return self._closed

    def watches(self) -> Sequence[Watch]:
        if self._closed:
            return ()
        watches = []
        if not self._backoff.paused:
            watches.append(
                Watch(fd=self._listener.fileno(), events=EVENT_READ, owner=self._listener)
            )
        for conn in self._conns.values():
            # Back-pressure: a client that does not read its answers is not read either.
            reading = EVENT_READ if len(conn.outbuf) < MAX_PENDING_ANSWER_BYTES else 0
            events = reading | (EVENT_WRITE if conn.outbuf else 0)
            watches.append(Watch(fd=conn.sock.fileno(), events=events, owner=conn))
        return watches

    def handle(self, watch: Watch, events: int) -> None:
        if watch.owner is self._listener:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    self._backoff.failed()  # stop watching the listener a while: no spinning
                self.report(link=self.label, where="accept", error=exc)
                return
            self._backoff.succeeded()
            sock.setblocking(False)
            self._conns[sock] = _Conn(sock)
            return
        conn = watch.owner
        assert isinstance(conn, _Conn)
        try:
            if events & EVENT_READ:
                data = conn.sock.recv(65536)
                if not data:
                    self._drop(conn)
                    return
                conn.inbuf += data
                while (end := conn.inbuf.find(b"\n")) >= 0:
                    line = bytes(conn.inbuf[:end])
                    del conn.inbuf[: end + 1]
                    conn.outbuf += answer(self._emulator, line)
                if len(conn.inbuf) > MAX_LINE_BYTES:
                    conn.outbuf += answer(self._emulator, b"request too long")
                    conn.inbuf.clear()
            if conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.report(link=self.label, where="control", error=exc)
            self._drop(conn)

    def poll(self) -> None:
        self._backoff.resume_due()  # watches() is asked every iteration: it sees the change

    def _drop(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock, None)
        conn.sock.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn in list(self._conns.values()):
            self._drop(conn)
        self._listener.close()
        if self._path is not None:
            try:
                if stat.S_ISSOCK(self._path.lstat().st_mode):
                    os.unlink(self._path)
            except FileNotFoundError:
                pass


def send(address: str, words: Sequence[str], *, timeout_s: float = 10.0) -> dict[str, Any]:
    """The client side: send one command, return the decoded answer."""
    target = parse_address(address)
    if isinstance(target, Path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connect_to: Any = str(target)
    else:
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        connect_to = target
    with sock:
        sock.settimeout(timeout_s)
        sock.connect(connect_to)
        sock.sendall((json.dumps({"id": 1, "command": list(words)}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data)
    return reply
