"""The emulator as one object: pumps, their world, the clock, the ports and the controls.

:class:`Emulator` is what tests, the GUI's demo mode and ``pump-emulator
serve`` use. It owns a :class:`~emulator.clock.PumpClock`, one or more
:class:`EmulatedPump` (a :class:`~emulator.device.VirtualPump` plus its link
faults, catheter fluid path and patient model) and a
:class:`~emulator.server.Server` that drives the ports. Its methods are the
simulation controls (speed, pause, advance, faults, link impairment, the true
state, reset); they are never reachable from the clinical link, only from this
object or the separate control channel (:mod:`emulator.control`).

Usage::

    with Emulator.single(preset="default", manual_clock=True) as emu:
        url = emu.register_inproc()          # pumpsim://... for PumpClient
        emu.advance(90 * 86400)
        print(emu.state()["pump"]["reservoir_nl"])
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.clock import PumpClock
from emulator.device import TICK_INTERVAL_S
from emulator.emulated_pump import (
    DEFAULT_CATHETER_LENGTH_CM,
    FORMER_STATE_KEYS,
    RESPONSE_CHANGES_KEPT,
    EmulatedPump,
    true_catheter_cm,
)
from emulator.errors import ControlError, MriControlError
from emulator.link_faults import LinkImpairment
from emulator.mri import MriExit
from emulator.persistence import StateFileError
from emulator.presets import PRESETS, PumpSetup
from emulator.server import Server
from emulator.transports.base import FailureSink, Transport
from emulator.transports.pty import PtyTransport
from firmware_model.errors import FirmwareError
from firmware_model.pump import Pump
from protocol.enums import AlarmCode, Role
from protocol.frozen import mutable
from protocol.keys import DEMO_KEY_FILE, load_keys

if TYPE_CHECKING:
    from emulator.transports import inproc
    from emulator.transports.rfc2217 import Rfc2217Transport
    from emulator.transports.tcp import TcpTransport

# The transports other than the pty (and the captures) are imported when first used, so a
# ``serve`` that does not use them starts without them (pyserial's RFC 2217 among them).

__all__ = [
    "DEFAULT_CATHETER_LENGTH_CM",
    "FORMER_STATE_KEYS",
    "RESPONSE_CHANGES_KEPT",
    "SWEEP_SLICE",
    "ControlError",
    "EmulatedPump",
    "Emulator",
    "MriControlError",
    "check_exposure",
    "derive_keys",
    "fleet_setups",
    "is_loopback",
    "numbered_port",
    "true_catheter_cm",
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(host: str, *, allow_remote: bool, keys: Mapping[Role, bytes]) -> None:
    """The rule for every listening transport: loopback, or ``allow_remote`` (``serve
    --allow-remote``) with a key of one's own: the demo key is public, and a fleet derives its
    per-pump keys from the key it is given. Raises ControlError."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ControlError(
            f"--tcp {host}: not a loopback address; give --allow-remote (and a key file of "
            "your own) to listen there"
        )
    if dict(keys) == load_keys(DEMO_KEY_FILE):
        raise ControlError(
            f"--tcp {host} with the public demo key: give --key with a key file of your own"
        )


def derive_keys(master: Mapping[Role, bytes], serial: str) -> dict[Role, bytes]:
    """Per-pump keys for a fleet: HMAC-SHA256(master role key, serial), per role."""
    return {
        role: hmac.new(key, b"vpump/pump-key/" + serial.encode(), hashlib.sha256).digest()
        for role, key in master.items()
    }


SWEEP_FRESH_S = TICK_INTERVAL_S
"""A pump a request advanced this recently (wall seconds), after the sweep's last visit, is
passed over by the sweep."""

SWEEP_SLICE = 16
"""Pumps the 1 Hz sweep advances per loop iteration at most: a fleet of 2000 is swept in
125 slices a second, so no request waits behind the whole fleet's sweep."""


@mutable(kw_only=False)
class _Served:
    pty: list[str | None] = field(default_factory=list)
    tcp: list[str | None] = field(default_factory=list)
    inproc: list[str | None] = field(default_factory=list)
    rfc2217: list[str | None] = field(default_factory=list)


_inproc_names = itertools.count()


class Emulator:
    """Pumps, clock, ports and controls; a context manager (``with Emulator(...) as emu``)."""

    def __init__(
        self,
        setups: Sequence[PumpSetup],
        *,
        keys: Mapping[Role, bytes],
        clock: PumpClock | None = None,
        wall: Callable[[], float] = time.monotonic,
        catheter_length_cm: int | None = None,
        derive_pump_keys: bool | None = None,
        seed: int = 0,
        random_bytes: Callable[[int], bytes] = os.urandom,
        pumps: Sequence[Pump] | None = None,
        on_failure: FailureSink | None = None,
    ) -> None:
        """``setups`` one per pump. Keys are ``keys`` for a single pump and derived per
        serial (:func:`derive_keys`) for a fleet, unless ``derive_pump_keys`` says otherwise.
        ``pumps`` resumes saved pumps instead of building them from the setups."""
        if not setups:
            raise ControlError("an emulator needs at least one pump")
        serials = [s.serial for s in setups]
        if len(set(serials)) != len(serials):
            raise ControlError(f"serial numbers must differ, got {serials}")
        self.clock = clock or PumpClock(start_pump_s=int(time.time()), wall=wall)
        self.wall = wall
        self._master_keys = dict(keys)
        derive = len(setups) > 1 if derive_pump_keys is None else derive_pump_keys
        self.pumps = [
            EmulatedPump(
                index=i,
                setup=setup,
                keys=derive_keys(keys, setup.serial) if derive else keys,
                clock=self.clock,
                wall=wall,
                catheter_length_cm=catheter_length_cm,
                seed=seed + i,
                random_bytes=random_bytes,
                pump=None if pumps is None else pumps[i],
            )
            for i, setup in enumerate(setups)
        ]
        self.server = Server(
            tick=self._tick, wall=wall, on_failure=on_failure, name="vpump-emulator"
        )
        self._served = _Served(
            pty=[None] * len(setups),
            tcp=[None] * len(setups),
            inproc=[None] * len(setups),
            rfc2217=[None] * len(setups),
        )
        self._registrations: list[inproc.Registration] = []
        # The 1 Hz sweep, spread over the loop's iterations: pumps owed a sweep (credit
        # grows by len(pumps) per TICK_INTERVAL_S), and the next pump to sweep.
        self._sweep_credit = float(len(self.pumps))
        self._sweep_last: float | None = None
        self._sweep_cursor = 0
        # When the sweep last visited each pump (wall): a pump a request advanced since is
        # current, and passed over.
        self._swept_at = [-math.inf] * len(self.pumps)
        # Pumps that may have a scheduled world event (kept apart: no scan of the fleet).
        self._timed_pumps: dict[EmulatedPump, None] = {}
        for p in self.pumps:
            p.on_world_events_changed = self._world_events_changed
            if p.next_world_event_t is not None:
                self._timed_pumps[p] = None
        self._lock = threading.Lock()
        self.resumed: list[bool] = []
        """Which pumps were resumed from a state file (set by whoever resumed them)."""
        self.on_change: Callable[[EmulatedPump], None] | None = None
        """Called after a control changed a pump (the CLI saves the state file then)."""

    @classmethod
    def single(
        cls,
        *,
        preset: str = "default",
        keys: Mapping[Role, bytes] | None = None,
        manual_clock: bool = False,
        start_pump_s: int | None = None,
        wall: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> Emulator:
        """One pump from a preset, with the demo key unless ``keys`` is given."""
        clock = PumpClock(
            start_pump_s=int(time.time()) if start_pump_s is None else start_pump_s, wall=wall
        )
        if manual_clock:
            clock.set_manual()
        return cls(
            [PRESETS[preset]],
            keys=keys or load_keys(DEMO_KEY_FILE),
            clock=clock,
            wall=wall,
            **kwargs,
        )

    # -- serving --------------------------------------------------------------------------

    def serve_pty(self, index: int, path: str | os.PathLike[str] | None) -> PtyTransport:
        transport = PtyTransport(self.pumps[index].endpoint_factory("pty"), link_path=path)
        self._add(transport)
        self._served.pty[index] = transport.port
        return transport

    def serve_tcp(
        self, index: int, host: str, port: int, *, allow_remote: bool = False
    ) -> TcpTransport:
        """Serve pump ``index`` over TCP; a non-loopback ``host`` needs ``allow_remote`` and
        keys other than the demo key (:func:`check_exposure`)."""
        check_exposure(host, allow_remote=allow_remote, keys=self._master_keys)
        from emulator.transports.tcp import TcpTransport  # noqa: PLC0415 - when used

        transport = TcpTransport(self.pumps[index].endpoint_factory("tcp"), host=host, port=port)
        self._add(transport)
        self._served.tcp[index] = transport.url
        return transport

    def serve_rfc2217(
        self, index: int, host: str, port: int, *, allow_remote: bool = False
    ) -> Rfc2217Transport:
        """Serve pump ``index`` to ``rfc2217://`` clients (line settings pace the answers);
        the exposure rule of :meth:`serve_tcp` applies."""
        check_exposure(host, allow_remote=allow_remote, keys=self._master_keys)
        from emulator.transports.rfc2217 import Rfc2217Transport  # noqa: PLC0415 - when used

        transport = Rfc2217Transport(
            self.pumps[index].endpoint_factory("rfc2217"), host=host, port=port
        )
        self._add(transport)
        self._served.rfc2217[index] = transport.url
        return transport

    def add_transport(self, transport: Transport) -> None:
        """Serve another transport (e.g. the control channel) from the same loop."""
        self._add(transport)

    def _add(self, transport: Transport) -> None:
        self.server.add(transport)

    def register_inproc(self, index: int = 0, name: str | None = None) -> str:
        """Make pump ``index`` reachable at ``pumpsim://NAME``; returns the URL."""
        chosen = name or f"vpump-{os.getpid()}-{next(_inproc_names)}"
        from emulator.transports import inproc  # noqa: PLC0415 - when used

        registration = inproc.register(chosen, self.pumps[index].endpoint_factory())
        self._registrations.append(registration)
        self._served.inproc[index] = registration.url
        return registration.url

    def addresses(self) -> list[dict[str, object]]:
        """Where each pump is served, with its serial (for the ready line and ``pumps``)."""
        return [
            {
                "index": p.index,
                "serial": p.setup.serial,
                "model": p.setup.model,
                "pty": self._served.pty[p.index],
                "tcp": self._served.tcp[p.index],
                "pumpsim": self._served.inproc[p.index],
                "rfc2217": self._served.rfc2217[p.index],
            }
            for p in self.pumps
        ]

    def start(self) -> Emulator:
        """Start the server loop on a background thread."""
        self.server.start()
        return self

    def close(self) -> None:
        """Stop the loop, close every port and registration (saving each pump's state one
        last time when it has a state file); idempotent."""
        try:
            self.server.stop()
            for p in self.pumps:
                p.save_if_changed()
        finally:
            for p in self.pumps:
                p.release_state_file()  # another emulator (a restart) may take it now
            for registration in self._registrations:
                registration.close()
            self._registrations.clear()

    def check(self) -> None:
        """Re-raise anything that failed inside the emulator (for tests)."""
        self.server.check()
        for registration in self._registrations:
            registration.check()
        for p in self.pumps:
            p.virtual.check()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.check()
        finally:
            self.close()

    def _world_events_changed(self, pump: EmulatedPump) -> None:
        self._timed_pumps[pump] = None
        self.server.wake()

    def _tick(self) -> float | None:
        """The server's hook, called when the time it last returned has come and after every
        :meth:`Server.wake <emulator.server.Server.wake>` (a world event scheduled, the
        clock's speed changed): apply the world events that came due, sweep the pumps owed
        a sweep, and return when it must run next. The requests between do not call it.
        Its cost does not grow with the fleet: requests advance their own pump; the sweep
        that keeps idle pumps current (fresh alarms, the periodic save) visits every pump
        once per TICK_INTERVAL_S, but at most :data:`SWEEP_SLICE` pumps per call, spread
        over the interval; world events are looked for only on the
        pumps that have one scheduled; answers a link fault holds back wake the loop
        through their transport (``Transport.poll_needed``), not through here."""
        now = self.wall()
        deadlines: list[float] = []
        if self._timed_pumps:
            # A world event that came due (an MRI exposure's end) is applied now, not at the
            # next sweep: exact either way, but the state read meanwhile is already right.
            pump_now = self.clock.now()
            for p in list(self._timed_pumps):
                event_t = p.next_world_event_t
                if event_t is None:
                    self._timed_pumps.pop(p, None)
                    continue
                if event_t <= pump_now:
                    p.virtual.advance()
                    p.save_if_changed()
                    event_t = p.next_world_event_t
                if event_t is not None:
                    at = self.clock.next_wall_deadline(event_t)
                    if at is not None:
                        deadlines.append(at)
        deadlines.append(self._sweep(now))
        return min(deadlines)

    def _sweep(self, now: float) -> float:
        """Advance and save the pumps owed a sweep; returns when the next slice is owed."""
        pumps = self.pumps
        count = len(pumps)
        if self._sweep_last is not None:
            owed = (now - self._sweep_last) * count / TICK_INTERVAL_S
            self._sweep_credit = min(float(count), self._sweep_credit + max(0.0, owed))
        self._sweep_last = now
        batch = min(count, SWEEP_SLICE)
        if self._sweep_credit >= batch:
            swept_at = self._swept_at
            cursor = self._sweep_cursor
            for _ in range(batch):
                p = pumps[cursor]
                # A pump a request advanced since the sweep's last visit, within the last
                # SWEEP_FRESH_S, is current: a fleet polled once a second is not advanced
                # twice a second whatever the phase of the polls against the sweep's (each
                # pump is still brought up to the clock at least every 2 TICK_INTERVAL_S).
                advanced_at = p.advanced_at
                if advanced_at <= swept_at[cursor] or now - advanced_at >= SWEEP_FRESH_S:
                    p.virtual.advance()
                swept_at[cursor] = max(now, p.advanced_at)
                p.maybe_save()
                cursor = (cursor + 1) % count
            self._sweep_cursor = cursor
            self._sweep_credit -= batch
        return now + max(0.0, batch - self._sweep_credit) * TICK_INTERVAL_S / count

    # -- the controls ---------------------------------------------------------------------

    def _pump(self, index: int) -> EmulatedPump:
        if not 0 <= index < len(self.pumps):
            raise ControlError(f"no pump {index}: this emulator has pumps 0..{len(self.pumps) - 1}")
        return self.pumps[index]

    def set_speed(self, speed: float) -> None:
        """Pump seconds per wall second, 1 to 1,000,000 (keeps paused/manual as they are)."""
        self._catch_up()
        try:
            self.clock.set_speed(speed)
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        self.server.wake()
        self._persist_all("speed")

    def pause(self) -> None:
        self._catch_up()
        self.clock.pause()
        self._persist_all("pause")

    def resume(self) -> None:
        self.clock.resume()
        self.server.wake()
        self._persist_all("resume")

    def set_manual(self) -> None:
        self._catch_up()
        self.clock.set_manual()
        self._persist_all("manual")

    def advance(self, seconds: int) -> int:
        """Move pump time forward by ``seconds`` (any mode) and bring every pump up to it."""
        if type(seconds) is not int and (
            isinstance(seconds, bool) or not isinstance(seconds, int)
        ):  # an int (the usual step) is told by its type alone
            raise ControlError(f"advance needs whole seconds >= 0, got {seconds!r}")
        if seconds < 0:
            raise ControlError(f"advance needs whole seconds >= 0, got {seconds!r}")
        clock = self.clock
        try:
            clock.advance(seconds)
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        pumps = self.pumps
        for p in pumps:  # _catch_up, inline
            p.virtual.advance()
        self._persist_all("advance")
        return clock.now()

    def _catch_up(self) -> None:
        for p in self.pumps:
            p.virtual.advance()

    @contextmanager
    def _changing(self, index: int) -> Iterator[EmulatedPump]:
        """A control that changes one pump: undone when its save fails (ControlError)."""
        target = self._pump(index)
        with target.virtual.lock:
            target.virtual.advance()
            before = target.pump.to_bytes()
            yield target
            try:
                target.save_if_changed()
            except StateFileError as exc:
                target.virtual.telemetry.pump = Pump.from_bytes(before)
                raise ControlError(f"not saved, so not applied: {exc}") from exc
        if self.on_change is not None:
            self.on_change(target)

    def _persist_all(self, what: str) -> None:
        """After a clock control: every pump's state on disk before the control returns."""
        failed = []
        for p in self.pumps:
            try:
                p.save_if_changed()
            except StateFileError as exc:
                failed.append(f"pump {p.index}: {exc}")
            if self.on_change is not None:
                self.on_change(p)
        if failed:
            raise ControlError(f"{what} took effect but was not saved: {'; '.join(failed)}")

    def fault_motor_stall(self, on: bool, index: int = 0) -> None:
        with self._changing(index) as p:
            p.pump.set_motor_stall(p.pump.t, on)

    def fault_memory_error(self, critical: bool, index: int = 0) -> None:
        with self._changing(index) as p:
            p.pump.inject_memory_error(p.pump.t, critical)

    def fault_low_battery_reset(self, index: int = 0) -> None:
        """The pump resets on a low battery (a documented SynchroMed II failure): critical
        LOW_BATTERY_RESET alarm, the keep-open minimum rate (0.006 mL/day) until a
        prescription is programmed."""
        with self._changing(index) as p:
            p.pump.low_battery_reset(p.pump.t)

    def fault_pocket_fill(self, index: int = 0) -> None:
        """World fault: the next refill of pump ``index`` is a pocket fill (the drug goes
        under the skin, not into the reservoir; the pump believes it was filled)."""
        with self._changing(index) as p:
            p.arm_pocket_fill()

    def mri_start(self, index: int = 0) -> dict[str, Any]:
        """World event: pump ``index`` enters an MRI field now (pump time); see
        :meth:`EmulatedPump.mri_start`."""
        with self._changing(index) as p:
            return p.mri_start()

    def mri_end(self, exit_: MriExit | None = None, index: int = 0) -> dict[str, Any]:
        """World event: pump ``index`` leaves the field now, as ``exit_`` says."""
        with self._changing(index) as p:
            return p.mri_end(exit_)

    def mri(self, duration_s: int, exit_: MriExit | None = None, index: int = 0) -> dict[str, Any]:
        """World event: an exposure of ``duration_s`` pump seconds from now; its end is
        applied on its exact second at any clock speed."""
        with self._changing(index) as p:
            result = p.mri_for(duration_s, exit_)
        self.server.wake()
        return result

    def valve_reset(self, index: int = 0) -> dict[str, Any]:
        """Control: reopen pump ``index``'s closed flow-activated valve (as RESET_VALVE)."""
        with self._changing(index) as p:
            try:
                closed_for_s = p.pump.reset_valve(p.pump.t)
            except FirmwareError as exc:
                raise MriControlError(f"valve-reset refused: {exc}") from exc
        return {"closed_for_s": closed_for_s}

    def fault_battery(self, percent: float, index: int = 0) -> None:
        if not 0 <= percent <= 100:
            raise ControlError(f"battery level must be 0 to 100 %, got {percent} %")
        with self._changing(index) as p:
            p.pump.set_battery(p.pump.t, round(percent * 10))

    def set_link(self, index: int | None = None, **changes: object) -> LinkImpairment:
        """Change the link impairment of one pump (or all): drop, corrupt, delay_ms, baud,
        disconnected. Validated first: a bad value changes nothing on any pump."""
        targets = self.pumps if index is None else [self._pump(index)]
        try:
            proposed = [p.faults.settings.replace(**changes) for p in targets]
        except (TypeError, ValueError) as exc:
            raise ControlError(str(exc)) from exc
        for p, settings in zip(targets, proposed, strict=True):
            p.faults.set_settings(settings)
        self.server.wake()
        return proposed[0]

    def reset(self, index: int | None = None) -> None:
        """Every pump (or one) back to its starting state at the current pump time."""
        for p in self.pumps if index is None else [self._pump(index)]:
            p.reset()
            try:
                p.save_if_changed()
            except StateFileError as exc:
                raise ControlError(f"pump {p.index} was reset but not saved: {exc}") from exc
            if self.on_change is not None:
                self.on_change(p)

    def state(self, index: int = 0) -> dict[str, Any]:
        """The full true state of one pump, with the clock."""
        result = self._pump(index).state()
        snapshot = self.clock.snapshot()
        result["clock"] = {
            "mode": str(snapshot.mode),
            "speed": snapshot.speed,
            "pump_time_s": snapshot.pump_time_s,
        }
        return result

    def alarms_active(self, index: int = 0) -> tuple[AlarmCode, ...]:
        with self._pump(index).virtual.lock:
            return self._pump(index).pump.status().alarms_active


def fleet_setups(
    base: PumpSetup, count: int, *, first: int = 0, fleet: bool | None = None
) -> list[PumpSetup]:
    """``count`` copies of a setup with serials ``<serial>-000``, ``-001`` ... from ``first``
    (one pump keeps its serial unless ``fleet`` says it is part of one: a slice of a fleet
    served by several processes)."""
    if count < 1:
        raise ControlError(f"--count must be at least 1, got {count}")
    if first < 0:
        raise ControlError(f"the first pump's index must be at least 0, got {first}")
    if not (count > 1 if fleet is None else fleet):
        return [base]
    return [
        base.with_identity(serial=f"{base.serial[:11]}-{i:03d}")
        for i in range(first, first + count)
    ]


def numbered_port(base: str | Path, index: int, count: int) -> str:
    """The pty path of pump ``index``: ``/tmp/ttyPUMP0`` -> ``/tmp/ttyPUMP3`` for a fleet
    (``count`` > 1; ``index`` counts over the whole fleet)."""
    text = str(base)
    if count == 1:
        return text
    stem = text.rstrip("0123456789")
    start = int(text[len(stem) :] or 0)
    return f"{stem}{start + index}"
