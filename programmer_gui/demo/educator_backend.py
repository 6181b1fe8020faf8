"""The educator's window over a running :class:`~emulator.emulator.Emulator` (demo mode).

:class:`EmulatorEducatorBackend` implements
:class:`programmer_gui.core.educator.EducatorBackend`: time and speed go to the
emulator's clock controls, faults to its fault controls and link impairment, the true
state comes from :meth:`Emulator.state` (one read per sample), and the wire feed from
an in-memory :class:`~emulator.capture.RingCapture` added to the pump.

Create it **before** the programmer connects: a capture records the links opened after
it was added, so a link opened earlier would not reach the inspector.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QApplication, QWidget

from emulator.capture import Chunk, Direction, RingCapture
from emulator.emulator import ControlError, Emulator
from emulator.errors import EmulatorError
from emulator.fluid_path import FluidPath, dead_volume_nl
from emulator.mri import MriExit
from emulator.mri_lesson import post_scan_check_comparison
from emulator.patient import PatientModel, PatientParams
from programmer_gui.controllers.educator import EducatorController, open_educator_window
from programmer_gui.core.educator import (
    MAX_SPEED_FACTOR,
    MAX_STEP_S,
    BridgeCase,
    BridgeCaseKind,
    BridgeComparison,
    EducatorPeerError,
    EducatorValueError,
    FaultState,
    PathSegment,
    PatientRisk,
    PumpFacts,
    SpeedSetting,
    TonePattern,
    TrueSample,
    WireChunk,
    WireDirection,
)
from programmer_gui.core.response import ResponseChange
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.mri_lesson import MriLessonHour
from protocol.schedule import rate_for_dose
from protocol.units import ml_to_nl

if TYPE_CHECKING:
    from programmer_gui.views.educator import EducatorWindow

__all__ = [
    "LINK_NOISE_CORRUPT",
    "EmulatorEducatorBackend",
    "compute_bridge_comparison",
    "render_educator_screenshots",
]

LESSON_HOURS = 96
"""How long after the refill the bridge lesson follows the patient."""
LESSON_STEP_S = 300
"""The lesson's time step (the fluid path and patient model are exact within each)."""


def compute_bridge_comparison(
    *,
    old_concentration_ug_per_ml: int,
    new_concentration_ug_per_ml: int,
    dose_ng_per_day: int,
    dead_volume_nl: int,
    max_rate_nl_per_day: int,
    params: PatientParams,
    hours: int = LESSON_HOURS,
    step_s: int = LESSON_STEP_S,
) -> BridgeComparison:
    """The bridge lesson's three cases, each on a fresh fluid path full of the old drug and a
    patient established on the dose: no bridge (the new rate at once), the bridge (the dose
    at the old concentration until the dead volume is delivered, then at the new one, as the
    pump runs it: :func:`protocol.schedule.rate_for_dose`), and a push of the dead volume at
    the maximum rate followed by the new rate."""
    old, new = old_concentration_ug_per_ml, new_concentration_ug_per_ml
    dose_ug = dose_ng_per_day / 1000
    rate_old = rate_for_dose(dose_ng_per_day, old)
    rate_new = rate_for_dose(dose_ng_per_day, new)
    total_s = hours * 3600
    bridge_s = -(-dead_volume_nl * 86_400 // rate_old) if rate_old else 0
    push_s = -(-dead_volume_nl * 86_400 // max_rate_nl_per_day)

    def flows(kind: BridgeCaseKind) -> list[tuple[int, int, int]]:
        """(duration_s, rate_nl_per_day, concentration pushed in) runs from the refill."""
        if kind is BridgeCaseKind.NO_BRIDGE:
            return [(total_s, rate_new, new)]
        if kind is BridgeCaseKind.BRIDGE:
            return [(bridge_s, rate_old, new), (total_s - bridge_s, rate_new, new)]
        return [(push_s, max_rate_nl_per_day, new), (total_s - push_s, rate_new, new)]

    low = params.withdrawal_threshold_permille / 10
    high = params.overdose_threshold_permille / 10
    cases: list[BridgeCase] = []
    for kind in BridgeCaseKind:
        path = FluidPath(dead_volume_nl, old)
        patient = PatientModel(reference_dose_ug_per_day=dose_ug, params=params)
        hours_x: list[float] = []
        doses: list[float] = []
        levels: list[float] = []
        in_band_s = 0
        hourly: dict[int, float] = {}
        t = 0
        for duration, rate, conc in flows(kind):
            end = t + max(duration, 0)
            while t < end:
                dt = min(step_s, end - t)
                # The volume moved in [t, t+dt] at this rate, exact to the nanolitre.
                volume = (rate * (t + dt)) // 86_400 - (rate * t) // 86_400
                pieces = path.push_over(volume, conc, dt)
                drug = float(sum(p.drug_ug for p in pieces))
                patient.feed(pieces)
                t += dt
                hourly[(t - 1) // 3600] = hourly.get((t - 1) // 3600, 0.0) + drug
                percent = 100 * patient.level_ng_per_ml / patient.reference_level_ng_per_ml
                hours_x.append(t / 3600)
                doses.append(drug * 86_400 / dt)
                levels.append(percent)
                if low <= percent <= high:
                    in_band_s += dt
        cases.append(
            BridgeCase(
                kind=kind,
                hours=tuple(hours_x),
                dose_ug_per_day=tuple(doses),
                level_percent=tuple(levels),
                in_band_hours=in_band_s / 3600,
                max_dose_ug_in_an_hour=max(hourly.values(), default=0.0),
            )
        )
    return BridgeComparison(
        old_concentration_ug_per_ml=old,
        new_concentration_ug_per_ml=new,
        dose_ug_per_day=Fraction(dose_ng_per_day, 1000),
        dead_volume_nl=dead_volume_nl,
        max_rate_nl_per_day=max_rate_nl_per_day,
        bridge_duration_s=bridge_s,
        withdrawal_percent=low,
        overdose_percent=high,
        cases=tuple(cases),
    )


LINK_NOISE_CORRUPT = 0.2
"""Probability that a chunk gets bits flipped while "link noise" is on: enough to see
retransmissions in the inspector, few enough that the programmer's retries get through."""

_WIRE_DIRECTIONS = {
    Direction.TO_PUMP: WireDirection.TO_PUMP,
    Direction.TO_PROGRAMMER: WireDirection.TO_PROGRAMMER,
}


def _wire_chunk(chunk: Chunk) -> WireChunk:
    return WireChunk(
        wall_s=chunk.wall_s,
        pump_s=chunk.pump_s,
        direction=_WIRE_DIRECTIONS[chunk.direction],
        link=chunk.link,
        data=chunk.data,
    )


class EmulatorEducatorBackend:
    """The :class:`~programmer_gui.core.educator.EducatorBackend` of one emulated pump."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        pump_index: int = 0,
        ring: RingCapture | None = None,
        max_chunks: int = 512,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Attach to pump ``pump_index`` of ``emulator``. ``ring``: a capture already added
        to that pump (else one of ``max_chunks`` chunks, stamped by ``wall_clock``, is
        created and added now)."""
        self._emu = emulator
        self._index = pump_index
        emulated = emulator.pumps[pump_index]
        self._emulated = emulated
        self._mri_hours: tuple[MriLessonHour, ...] | None = None
        if ring is None:
            ring = RingCapture(
                pump_clock=emulator.clock.now, wall_clock=wall_clock, max_chunks=max_chunks
            )
            emulated.capture_to(ring)
        self._ring = ring
        self._lock = threading.Lock()
        self._callbacks: dict[Callable[[WireChunk], None], Callable[[Chunk], None]] = {}
        params = emulated.patient_params
        profile = emulated.pump.profile
        self._facts = PumpFacts(
            serial=emulated.setup.serial,
            model=emulated.setup.model,
            start_pump_s=emulator.clock.now(),
            catheter_length_cm=emulated.catheter_length_cm,
            dead_volume_nl=dead_volume_nl(profile, emulated.catheter_length_cm),
            max_rate_nl_per_day=profile.max_rate_nl_per_day,
            withdrawal_threshold_permille=params.withdrawal_threshold_permille,
            overdose_threshold_permille=params.overdose_threshold_permille,
            half_life_s=params.half_life_s,
        )

    @property
    def emulator(self) -> Emulator:
        return self._emu

    @property
    def ring(self) -> RingCapture:
        """The capture feeding the inspector."""
        return self._ring

    # -- reading ------------------------------------------------------------------------------

    @property
    def facts(self) -> PumpFacts:
        return self._facts

    def pump_time_s(self) -> int:
        return self._emu.clock.now()

    def speed(self) -> SpeedSetting:
        snapshot = self._emu.clock.snapshot()
        return self._speed_of(str(snapshot.mode), snapshot.speed)

    @staticmethod
    def _speed_of(mode: str, speed: float) -> SpeedSetting:
        factor = min(MAX_SPEED_FACTOR, max(1, round(speed)))
        return SpeedSetting(paused=mode in ("paused", "manual"), factor=factor)

    def sample(self) -> TrueSample:
        return self._sample(self._emu.state(self._index))

    def _sample(self, state: dict[str, Any]) -> TrueSample:
        pump = state["pump"]
        path = state["fluid_path"]
        patient = state["patient"]
        link = state["link"]["impairment"]
        clock = state["clock"]
        active = tuple(AlarmCode[name] for name in pump["alarms_active"])
        tone = pump["tone"]
        reference = float(patient["reference_ng_per_ml"])
        facts = self._facts
        return TrueSample(
            pump_time_s=int(clock["pump_time_s"]),
            clock_s=int(pump["clock_s"]),
            speed=self._speed_of(clock["mode"], float(clock["speed"])),
            reservoir_nl=int(pump["true_reservoir_nl"]),
            capacity_nl=int(pump["capacity_nl"]),
            alarm_volume_nl=int(pump["alarm_volume_nl"]),
            reservoir_concentration_ug_per_ml=int(pump["concentration_ug_per_ml"]),
            tip_concentration_ug_per_ml=path["concentration_at_tip_ug_per_ml"],
            path=tuple(
                PathSegment(
                    volume_nl=int(s["volume_nl"]),
                    concentration_ug_per_ml=int(s["concentration_ug_per_ml"]),
                )
                for s in path["segments"]
            ),
            delivered_to_patient_ug=float(path["delivered_to_patient_ug"]),
            current_rate_nl_per_day=int(pump["current_rate_nl_per_day"]),
            delivering=bool(pump["delivering"]),
            bolus_kind=BolusKind[pump["bolus_kind"]],
            alarms_active=active,
            silenced_alarms=tuple(AlarmCode[name] for name in pump["silenced_alarms"]),
            tone=None if tone is None else TonePattern(**tone),
            low_reservoir_at_clock_s=pump["low_reservoir_at_clock_s"],
            patient_level_ng_per_ml=float(patient["level_ng_per_ml"]),
            reference_ng_per_ml=reference,
            withdrawal_below_ng_per_ml=reference * facts.withdrawal_threshold_permille / 1000,
            overdose_above_ng_per_ml=reference * facts.overdose_threshold_permille / 1000,
            patient_risk=PatientRisk(patient["state"]),
            patient_response_ng_per_ml=float(patient["response_ng_per_ml"]),
            muscle_tone=float(patient["tone"]),
            response_changes=tuple(ResponseChange(**change) for change in patient["changes"]),
            faults=FaultState(
                motor_stall=any(
                    a["code"] == AlarmCode.MOTOR_STALL.name and a["condition_present"]
                    for a in pump["alarms"]
                ),
                memory_error_non_critical=AlarmCode.MEMORY_NON_CRITICAL in active,
                memory_error_critical=AlarmCode.MEMORY_CRITICAL in active,
                battery_permille=int(pump["battery_permille"]),
                link_dropped=bool(link["disconnected"]),
                link_noise=float(link["corrupt"]) > 0,
            ),
        )

    # -- time ---------------------------------------------------------------------------------

    def set_speed(self, setting: SpeedSetting) -> None:
        if not isinstance(setting, SpeedSetting):
            raise EducatorValueError(f"setting must be a SpeedSetting, got {setting!r}")
        try:
            if setting.paused:
                self._emu.pause()
                self._emu.set_speed(float(setting.factor))
            else:
                self._emu.set_speed(float(setting.factor))
                self._emu.resume()
        except ControlError as exc:
            raise EducatorValueError(str(exc)) from exc

    def step(self, seconds: int, *, samples: int = 1) -> tuple[TrueSample, ...]:
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not 0 < seconds <= MAX_STEP_S
        ):
            raise EducatorValueError(f"a step is 1 s to {MAX_STEP_S} s, got {seconds!r}")
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 1000:
            raise EducatorValueError(f"samples must be 1 to 1000, got {samples!r}")
        out: list[TrueSample] = []
        done = 0
        for i in range(1, samples + 1):
            target = seconds * i // samples
            if target > done:
                self._control(self._emu.advance, target - done)
                done = target
                out.append(self.sample())
        return tuple(out)

    # -- faults -------------------------------------------------------------------------------

    def _control(self, action: Callable[..., object], *args: object, **kwargs: object) -> None:
        try:
            action(*args, **kwargs)
        except ControlError as exc:
            raise EducatorValueError(str(exc)) from exc
        except EmulatorError as exc:
            raise EducatorPeerError(str(exc)) from exc

    def set_motor_stall(self, on: bool) -> None:
        self._control(self._emu.fault_motor_stall, bool(on), self._index)

    def inject_memory_error(self, *, critical: bool) -> None:
        self._control(self._emu.fault_memory_error, bool(critical), self._index)

    def low_battery_reset(self) -> None:
        self._control(self._emu.fault_low_battery_reset, self._index)

    def mri_scan(self, duration_s: int, *, telemetry_trap: bool) -> None:
        exit_ = MriExit(telemetry_trap=bool(telemetry_trap))
        self._control(self._emu.mri, duration_s, exit_, self._index)

    def set_battery_percent(self, percent: float) -> None:
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise EducatorValueError(f"battery level must be a number of %, got {percent!r}")
        self._control(self._emu.fault_battery, float(percent), self._index)

    def set_link_dropped(self, dropped: bool) -> None:
        self._control(self._emu.set_link, self._index, disconnected=bool(dropped))

    def set_link_noise(self, on: bool) -> None:
        self._control(self._emu.set_link, self._index, corrupt=LINK_NOISE_CORRUPT if on else 0.0)

    # -- the wire -----------------------------------------------------------------------------

    def wire_history(self) -> tuple[WireChunk, ...]:
        return tuple(_wire_chunk(c) for c in self._ring.chunks())

    def subscribe_wire(self, callback: Callable[[WireChunk], None]) -> None:
        def relay(chunk: Chunk) -> None:
            callback(_wire_chunk(chunk))

        with self._lock:
            if callback in self._callbacks:
                return
            self._callbacks[callback] = relay
        self._ring.subscribe(relay)

    def bridge_comparison(
        self, *, old_concentration_ug_per_ml: int, new_concentration_ug_per_ml: int
    ) -> BridgeComparison:
        """The three cases for the pump's established dose on its TRUE catheter."""
        emulated = self._emulated
        dose_ng = int(self._emu.state(self._index)["pump"]["daily_dose_ng"])
        return compute_bridge_comparison(
            old_concentration_ug_per_ml=old_concentration_ug_per_ml,
            new_concentration_ug_per_ml=new_concentration_ug_per_ml,
            dose_ng_per_day=max(dose_ng, 1),
            dead_volume_nl=self._facts.dead_volume_nl,
            max_rate_nl_per_day=self._facts.max_rate_nl_per_day,
            params=emulated.patient_params,
        )

    def mri_comparison(self) -> tuple[MriLessonHour, ...]:
        """The MRI lessons' two patients (computed once: a few hundred milliseconds)."""
        if self._mri_hours is None:
            self._mri_hours = post_scan_check_comparison(
                self._emulated.setup, start_s=self._facts.start_pump_s
            )
        return self._mri_hours

    def unsubscribe_wire(self, callback: Callable[[WireChunk], None]) -> None:
        with self._lock:
            relay = self._callbacks.pop(callback, None)
        if relay is not None:
            self._ring.unsubscribe(relay)


# --- screenshots ---------------------------------------------------------------------------

SCREENSHOT_START_PUMP_S = 1_779_100_200
"""2026-05-18 10:30 UTC, as the programmer's own screenshots."""
SCREENSHOT_SIZE = (1600, 1000)


def render_educator_screenshots(out_dir: str | os.PathLike[str], *, first: int = 31) -> list[Path]:
    """Render the educator's window offscreen to ``out_dir/NN-educator-*.png`` (NN from
    ``first``): the bridge-bolus lesson, the low-reservoir alarm, the inspector, a motor stall.

    Deterministic: a demo pump on a manual clock, seeded nonces, dates in UTC. A scripted
    programmer session stands in for the clinician's window.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(["pump-programmer"])
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    keys = load_keys(DEMO_KEY_FILE)

    def settle() -> None:
        for _ in range(5):
            app.processEvents()

    def shoot(window: QWidget, name: str) -> None:
        settle()
        path = target / f"{first + len(paths):02d}-educator-{name}.png"
        if not window.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        paths.append(path)

    def world() -> tuple[Emulator, EmulatorEducatorBackend, str]:
        emulator = Emulator.single(
            preset="demo",
            manual_clock=True,
            start_pump_s=SCREENSHOT_START_PUMP_S,
            random_bytes=random.Random(17).randbytes,
        )
        backend = EmulatorEducatorBackend(emulator, wall_clock=lambda: 0.0)
        return emulator, backend, emulator.register_inproc()

    @contextmanager
    def educator(
        backend: EmulatorEducatorBackend,
    ) -> Iterator[tuple[EducatorWindow, EducatorController]]:
        """The educator's window on ``backend`` at the screenshots' size, closed after."""
        window = open_educator_window(backend, tz=UTC)
        window.resize(*SCREENSHOT_SIZE)
        controller = window.findChild(EducatorController)
        assert controller is not None
        try:
            yield window, controller
        finally:
            window.close()
            window.deleteLater()

    def clinician(url: str) -> PumpClient:
        return PumpClient(
            url,
            key=keys[Role.CLINICIAN],
            timeout_s=0.2,
            retries=8,
            random_bytes=random.Random(23).randbytes,
        )

    # The bridge lesson: refilled at 500 mcg/mL, same dose, with the bridge.
    emulator, backend, url = world()
    with emulator, educator(backend) as (window, controller):
        with clinician(url) as pump:
            controller.step(6 * 3600, samples=24)
            status = pump.status()
            running = pump.read_prescription().prescription
            pump.refill(
                removed_nl=status.reservoir_nl,
                added_nl=ml_to_nl(20),
                concentration_ug_per_ml=500,
                prescription=running.with_concentration(500),
                bridge=True,
                drug_lot="L2026-05",
            )
            backend.set_link_noise(True)
            for _ in range(3):
                controller.step(3600, samples=12)
                pump.status()
            backend.set_link_noise(False)
            controller.step(3600, samples=12)
            pump.read_prescription()
        controller.select_scenario("bridge")
        shoot(window, "bridge-lesson")
        window.tabs.setCurrentIndex(2)
        shoot(window, "bridge-cases")
        window.tabs.setCurrentIndex(1)
        inspector = window.inspector
        row = next(
            r
            for r in range(inspector.model.rowCount())
            if inspector.model.entry(r).op_name == "COMMIT_REFILL"
        )
        inspector.follow.setChecked(False)
        inspector.select_row(row)
        inspector.table.scrollTo(inspector.proxy.index(max(0, row - 3), 0))
        shoot(window, "inspector")

    # What a low-reservoir alarm sounds like.
    emulator, backend, url = world()
    with emulator, educator(backend) as (window, controller):
        controller.set_speed(SpeedSetting.stopped(10_000))
        controller.select_scenario("low_reservoir")
        controller.jump_to_low_reservoir_alarm()
        shoot(window, "low-reservoir-alarm")

    # A motor stall: the critical tone, and withdrawal within the day.
    emulator, backend, url = world()
    with emulator, educator(backend) as (window, controller):
        controller.step(6 * 3600, samples=24)
        window.motor_stall.click()
        controller.step(18 * 3600, samples=72)
        shoot(window, "motor-stall")

    # Titrating a dose: three daily +20 % steps, each judged at its full effect, from a
    # patient settled on a simple 400 mcg/day for two days before the window opens...
    emulator = Emulator.single(
        preset="demo",
        manual_clock=True,
        start_pump_s=SCREENSHOT_START_PUMP_S - 2 * 86_400,
        random_bytes=random.Random(17).randbytes,
    )
    url = emulator.register_inproc()
    with emulator:
        with clinician(url) as pump:
            pump.program(m.PrescriptionSpec.simple(400 * 1000, concentration_ug_per_ml=2000))
        emulator.advance(2 * 86_400)
        backend = EmulatorEducatorBackend(emulator, wall_clock=lambda: 0.0)
        with educator(backend) as (window, controller):
            controller.set_speed(SpeedSetting.stopped(10_000))
            controller.select_scenario("titration")
            with clinician(url) as pump:
                controller.step(6 * 3600, samples=24)
                for dose in (480, 576, 691):
                    spec = m.PrescriptionSpec.simple(dose * 1000, concentration_ug_per_ml=2000)
                    pump.program(spec)
                    controller.step(24 * 3600, samples=96)
            controller.step(6 * 3600, samples=24)
            shoot(window, "titration-lesson")

    # ...and two changes stacked in one afternoon.
    emulator, backend, url = world()
    with emulator, educator(backend) as (window, controller):
        controller.set_speed(SpeedSetting.stopped(10_000))
        controller.select_scenario("titration")
        with clinician(url) as pump:
            controller.step(26 * 3600 + 1800, samples=106)  # to 13:00 the next day
            for dose in (480, 576):  # at 13:00 and 16:00
                pump.program(m.PrescriptionSpec.simple(dose * 1000, concentration_ug_per_ml=2000))
                controller.step(3 * 3600, samples=12)
        controller.step(33 * 3600, samples=132)
        shoot(window, "stacked-changes")
    settle()
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m programmer_gui.demo.educator_backend DIR``: render the screenshots."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m programmer_gui.demo.educator_backend DIR", file=sys.stderr)
        return 2
    for path in render_educator_screenshots(args[0]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
