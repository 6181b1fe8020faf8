"""The pump a test gets from the vpump pytest plugin: :class:`PumpUnderTest` (the emulator,
its URL, clients, time, faults, the last frames decoded), how a configuration builds or
resets its emulator, and the one emulator of a session (``vpump_scope = session``)."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from emulator.capture import RingCapture
from emulator.clock import ClockMode, PumpClock
from emulator.decode import Decoder, FrameEvent, format_event
from emulator.emulator import Emulator
from emulator.link_faults import LinkImpairment
from emulator.mri import MriExit
from emulator.plugin_config import VirtualPumpConfig, VpumpConfigError
from emulator.presets import PumpSetup
from emulator.quantities import dose
from emulator.response_reading import ResponseReading, read_response
from emulator.scenarios.executor import SilentLinkClock
from emulator.scenarios.units import Kind, parse_quantity, whole
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import PrescriptionSpec
from protocol.timebase import SECONDS_PER_WEEK

__all__ = [
    "PumpUnderTest",
    "SessionPump",
    "configure_emulator",
    "new_emulator",
    "plugin_names",
    "temp_prefix",
    "unique_number",
    "worker",
]


_names = itertools.count()
plugin_names: set[str] = set()
"""Every in-process port name the plugin registered (the leak check looks them up)."""


def unique_number() -> int:
    """A number no other port name or pty link of this process has used."""
    return next(_names)


def temp_prefix() -> str:
    """Temp dirs of this process only (other pytest runs may share the machine)."""
    return f"vpump-{worker()}-{os.getpid()}-"


def worker() -> str:
    """The pytest-xdist worker id (``gw0``...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class PumpUnderTest:
    """What ``virtual_pump`` hands a test: the emulator, its URL, and helpers.

    ``emulator`` is the :class:`~emulator.emulator.Emulator` (controls: faults,
    ``set_link``, ``state``); ``url`` opens the pump from any
    :class:`~protocol.client.PumpClient`; ``capture`` holds the last chunks on the
    wire. Clients made with :meth:`client` are closed after the test.
    """

    def __init__(
        self,
        *,
        emulator: Emulator,
        url: str,
        config: VirtualPumpConfig,
        start_s: int,
        capture: RingCapture,
        tmp_dir: Path,
    ) -> None:
        self.emulator = emulator
        self.url = url
        self.config = config
        self.start_s = start_s
        """Pump clock at the start of this test, Unix seconds."""
        self.capture = capture
        self.keys = load_keys(DEMO_KEY_FILE)
        self._tmp_dir = tmp_dir
        self._clients: list[PumpClient] = []
        self._rng = random.Random(config.seed)

    def client(self, role: Role = Role.CLINICIAN, *, connect: bool = True) -> PumpClient:
        """A new client in a session of ``role`` (closed at teardown)."""
        holder: list[PumpClient] = []
        client = PumpClient(
            self.url,
            key=self.keys[role],
            role=role,
            timeout_s=self.config.timeout_s,
            retries=self.config.retries,
            random_bytes=random.Random(self._rng.getrandbits(64)).randbytes,
            # An in-process link: while it is cut, waiting for an answer costs no wall time.
            monotonic=SilentLinkClock(self.emulator.pumps[0].faults, lambda: holder[0].timeout_s),
        )
        holder.append(client)
        self._clients.append(client)
        if connect:
            client.connect()
        return client

    def advance(self, duration: int | str) -> int:
        """Move pump time forward (``"90d"``, ``"6h"`` or whole seconds); returns the clock."""
        if isinstance(duration, str):
            duration = whole(parse_quantity(duration, Kind.DURATION), duration, "seconds")
        return self.emulator.advance(duration)

    def prescription(self, daily_dose: str) -> PrescriptionSpec:
        """A simple prescription of ``daily_dose`` (``"150 mcg/day"``) of the drug the pump
        holds now, ready for ``pump_client.program(...)``; a flow (mL/day) is refused."""
        if not daily_dose.strip().endswith("mcg/day"):
            raise VpumpConfigError(
                f"{daily_dose!r}: a prescription is a daily dose of the drug in the pump, e.g. "
                "'150 mcg/day' (the pump computes the rate from the dose)"
            )
        concentration = int(self.emulator.state()["pump"]["concentration_ug_per_ml"])
        return PrescriptionSpec.simple(dose(daily_dose), concentration_ug_per_ml=concentration)

    @property
    def now_s(self) -> int:
        """The pump clock now."""
        return self.emulator.clock.now()

    def state(self) -> dict[str, Any]:
        """The full true state (``Emulator.state()``)."""
        return self.emulator.state()

    def low_battery_reset(self) -> None:
        """Inject the low battery reset: critical LOW_BATTERY_RESET alarm, the keep-open
        minimum rate until a prescription is programmed."""
        self.emulator.fault_low_battery_reset()

    def mri(
        self,
        duration: int | str | None = None,
        *,
        recovery_delay: int | str | tuple[int, int] = 0,
        telemetry_trap: bool | Literal["seeded"] = False,
        recovery_logged_at_second_interrogation: bool = False,
    ) -> dict[str, Any]:
        """An MRI exposure (pump time). With ``duration`` (``"45 min"``, ``"2h"`` or whole
        seconds): the pump enters the field now and leaves it that long after, on that
        second, while the test advances time; without it: the pump leaves the field now
        (after :meth:`mri_start`). ``recovery_delay``: ``"4h"``, seconds, or a range
        ``"2h..24h"`` / ``(lo_s, hi_s)`` drawn seeded and uniform; ``telemetry_trap``:
        True, False or ``"seeded"``. Returns the exposure's true state (with the drawn
        values)."""
        exit_ = MriExit(
            recovery_delay_s=_mri_delay(recovery_delay),
            telemetry_trap=telemetry_trap,
            recovery_logged_at_second_interrogation=recovery_logged_at_second_interrogation,
        )
        if duration is None:
            return self.emulator.mri_end(exit_)
        if isinstance(duration, str):
            duration = whole(parse_quantity(duration, Kind.DURATION), duration, "seconds")
        return self.emulator.mri(duration, exit_)

    def mri_start(self) -> dict[str, Any]:
        """The pump enters an MRI field now; :meth:`mri` (without a duration) ends it."""
        return self.emulator.mri_start()

    def mri_end(self, **options: Any) -> dict[str, Any]:
        """The pump leaves the field now (the options of :meth:`mri`)."""
        return self.mri(None, **options)

    def valve_reset(self) -> dict[str, Any]:
        """Reopen the pump's closed flow-activated valve (a ``kind="valve-flow-activated"``
        pump); returns ``{"closed_for_s": ...}``."""
        return self.emulator.valve_reset()

    def check(self) -> None:
        """Re-raise anything that failed inside the emulator so far."""
        self.emulator.check()

    def response(self) -> ResponseReading:
        """The patient model's response now: its ``share`` of the established level, its
        ``progress`` through the last dose change, and that change's onset and full effect
        on the pump clock (``onset_at_clock_s``, ``full_effect_at_clock_s``)."""
        return read_response(self.emulator.state())

    def serve_pty(self) -> str:
        """Also serve the pump on a pty; returns the symlink (in a per-test directory)."""
        link = self._tmp_dir / f"ttyPUMP-{worker()}-{unique_number()}"
        self.emulator.serve_pty(0, link)
        if not self.emulator.server.running:
            self.emulator.start()
        return str(link)

    def decoded_frames(self, count: int = 12) -> list[str]:
        """The last ``count`` frames on this pump's links, decoded (as ``pump-emulator
        decode`` shows them); a failing test's report shows them."""
        decoder = Decoder(keys=self.keys)
        events = []
        for chunk in self.capture.chunks():
            events += decoder.feed(chunk)
        events += decoder.finish()
        texts = [format_event(e, show_hex=not isinstance(e, FrameEvent)) for e in events]
        return texts[-count:] if count > 0 else []

    def close_clients(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):  # the test may have broken the link on purpose
                client.close()
        self._clients.clear()


def _mri_delay(value: int | str | tuple[int, int]) -> int | tuple[int, int]:
    """A recovery delay as :class:`MriExit` takes it: seconds, or a (shortest, longest)."""
    if isinstance(value, str):
        low, sep, high = value.partition("..")
        seconds = [
            whole(parse_quantity(t, Kind.DURATION), t, "seconds")
            for t in (low, high)[: 1 + bool(sep)]
        ]
        return (seconds[0], seconds[1]) if sep else seconds[0]
    return value


def new_emulator(config: VirtualPumpConfig, setup: PumpSetup) -> Emulator:
    # Tests start at a fixed pump time, never the wall clock's.
    clock = PumpClock(start_pump_s=config.start_s)
    clock.set_manual()
    return Emulator(
        [setup],
        keys=load_keys(DEMO_KEY_FILE),
        clock=clock,
        catheter_length_cm=config.true_catheter_cm,
        seed=config.seed,
        random_bytes=random.Random(config.seed).randbytes,
    )


def configure_emulator(emu: Emulator, config: VirtualPumpConfig, start_s: int) -> None:
    """Bring a (new or reused) emulator to ``config``: the pump rebuilt at ``start_s``."""
    if emu.clock.snapshot().mode is not ClockMode.MANUAL:
        emu.set_manual()
    now = emu.clock.now()
    if start_s > now:
        emu.clock.advance(start_s - now)
    p = emu.pumps[0]
    p.setup = config.setup()
    p.catheter_length_cm = config.true_catheter_cm
    # The clock moved without the old pump being integrated: it is replaced right here.
    emu.reset(0)
    with p.virtual.lock:
        if config.alarm_volume_nl is not None:
            p.pump.set_alarm_volume(start_s, config.alarm_volume_nl)
    emu.set_link(0, **_impairment_fields(config.link))
    if config.motor_stall:
        emu.fault_motor_stall(True)
    if config.memory_error is not None:
        emu.fault_memory_error(config.memory_error == "critical")
    if config.low_battery_reset:
        emu.fault_low_battery_reset()
    if config.clock == "running":
        emu.set_speed(config.speed)
        emu.resume()


def _impairment_fields(link: LinkImpairment) -> dict[str, object]:
    return {f.name: getattr(link, f.name) for f in fields(link)}


class SessionPump:
    """The one emulator of a session (``vpump_scope = session``), reset before each test."""

    def __init__(self, tmp_dir: Path) -> None:
        base = VirtualPumpConfig()
        self.emulator = new_emulator(base, base.setup())
        self.capture = RingCapture(pump_clock=self.emulator.clock.now)
        self.emulator.pumps[0].capture_to(self.capture)
        self.name = f"vpump-{worker()}-session"
        plugin_names.add(self.name)
        self.url = self.emulator.register_inproc(0, self.name)
        self.tmp_dir = tmp_dir
        self.emulator.start()

    def next_start(self, start_s: int) -> int:
        """The first second at or after now that has ``start_s``'s weekday and time of day."""
        now = self.emulator.clock.now()
        if now <= start_s:
            return start_s
        return start_s + math.ceil((now - start_s) / SECONDS_PER_WEEK) * SECONDS_PER_WEEK

    def close(self) -> None:
        self.emulator.close()
