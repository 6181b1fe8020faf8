"""Soak: several pumps for years of pump time under polling, programming, refills and faults.

An :class:`~emulator.emulator.Emulator` with a manual clock serves N pumps; one
:class:`PumpClient` per pump talks to it over the in-process link, through the
pump's link faults. Pump time moves in steps (default 6 h). Every step every
pump is polled, and now and then reprogrammed (simple or flex), refilled
(sometimes at another concentration), given a bolus, stopped and resumed;
link faults (dropped and corrupted chunks) and device faults (motor stalls,
memory errors, a battery run down to end of service and replaced) come and
go. Throughout, on the pump's true state:

* volume is conserved exactly: filled = delivered + in the reservoir + removed;
* no dose beyond the prescription: what the pump commanded over a step is at
  most the peak programmed rate over the step plus the boluses running, and
  with a simple prescription running undisturbed it is the rate times the
  time, to the nanolitre;
* alarms at their crossings: each alarm is active exactly while its condition
  holds, and one raised while time ran is stamped with the second the pump's
  own forecast named when the step began (read from the model after the last
  STATUS: a frame's own radio time drains the battery after its answer, so a
  STATUS's ERI forecast may be a few seconds late by the time the step starts);
* what STATUS reports is the pump's state;
* memory stays flat (RSS sampled, printed).

Run::

    python -m tests.hardening.soak                      # 4 pumps x 8 years, 6 h steps
    python -m tests.hardening.soak --pumps 8 --years 10 --step-h 4
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass, field

import psutil

from emulator.clock import PumpClock
from emulator.emulator import Emulator, fleet_setups
from emulator.presets import PRESETS
from firmware_model.pump import Pump
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, ErrorCode, Mode, Role, StopReason
from protocol.errors import LinkClosed, LinkTimeout, NakError, SequenceExhaustedError
from protocol.timebase import SECONDS_PER_DAY
from tests.support import DEMO_KEYS, T0

YEAR_S = 365 * SECONDS_PER_DAY


class SoakError(AssertionError):
    """An invariant of the pump model broke during the soak."""


@dataclass
class Figures:
    """What a soak run did."""

    pumps: int
    pump_years: float = 0.0
    steps: int = 0
    requests: int = 0
    refused: int = 0
    """Commands the pump refused (expected: boluses while halted, for instance)."""
    reconnects: int = 0
    refills: int = 0
    programs: int = 0
    faults: int = 0
    alarms_checked: int = 0
    exact_dose_checks: int = 0
    seconds: float = 0.0
    rss_mb: list[float] = field(default_factory=list)

    def line(self) -> str:
        rss = self.rss_mb or [0.0]
        quarter = max(1, len(rss) // 4)
        return (
            f"soak pumps={self.pumps} pump_years={self.pump_years:.1f} steps={self.steps:,} "
            f"requests={self.requests:,} refused={self.refused:,} reconnects={self.reconnects} "
            f"refills={self.refills} programs={self.programs} faults={self.faults} "
            f"alarm_crossings={self.alarms_checked} exact_dose_checks={self.exact_dose_checks:,} "
            f"seconds={self.seconds:.1f} pump_years_per_s={self.pump_years / self.seconds:.2f} "
            f"rss_mb_first_quarter={max(rss[:quarter]):.1f} rss_mb_last_quarter="
            f"{max(rss[-quarter:]):.1f} peak_rss_mb={max(rss):.1f}"
        )


def _peak_rate(pump: Pump) -> int:
    """The highest basal rate the pump may run: its prescription at the drug in the pump or,
    during a bridge, at the old drug (whichever is higher)."""
    schedules = (pump.schedule, pump.steady_schedule)
    return max(rate for sched in schedules for day in sched.days for _, rate in day)


_SELF_CLEARING = {
    AlarmCode.LOW_RESERVOIR,
    AlarmCode.EMPTY_RESERVOIR,
    AlarmCode.ERI,
    AlarmCode.EOS,
}


class _Patient:
    """One pump, its client and what the soak knows about it."""

    def __init__(self, emu: Emulator, index: int, rng: random.Random, figures: Figures) -> None:
        self.emu = emu
        self.index = index
        self.rng = rng
        self.figures = figures
        self.url = emu.register_inproc(index)
        self.client: PumpClient | None = None
        self.forecast: m.StatusResponse | None = None
        self.due: dict[AlarmCode, int | None] = {}
        self.stalled_steps = 0
        self.impaired_steps = 0
        self._prescription_at_poll: object = None

    @property
    def pump(self) -> Pump:
        return self.emu.pumps[self.index].pump

    def connect(self) -> PumpClient:
        if self.client is None:
            client = PumpClient(
                self.url,
                key=DEMO_KEYS[Role.CLINICIAN],
                timeout_s=0.05,
                retries=6,
                random_bytes=self.rng.randbytes,
            )
            client.connect()
            self.client = client
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def call(self, what: str, action: object) -> object:
        """Run ``action(client)``; a link failure reconnects and retries, a refusal is counted."""
        assert callable(action)
        for _ in range(20):
            try:
                client = self.connect()
                self.figures.requests += 1
                return action(client)
            except NakError as refusal:
                if refusal.code in (ErrorCode.NO_SESSION, ErrorCode.SESSION_EXPIRED):
                    self.drop()
                    continue
                self.figures.refused += 1
                return refusal
            except (LinkTimeout, LinkClosed, SequenceExhaustedError):
                self.figures.reconnects += 1
                self.drop()
        raise SoakError(f"pump {self.index}: {what} got no answer in 20 attempts")

    # -- invariants ---------------------------------------------------------------------------

    def check_truth(
        self, commanded_before: int, bolus_left_nl: int, step_s: int, peak_before: int
    ) -> None:
        """After time ran: conservation, the dose bound (the highest rate in force during the
        step: a bridge may have ended in it), alarms and their raise times."""
        pump = self.pump
        filled = pump.total_filled_nl
        rest = pump.total_delivered_nl + pump.reservoir_nl + pump.total_removed_nl
        if filled != rest:
            raise SoakError(f"pump {self.index}: filled {filled} nL != accounted {rest} nL")
        delta = pump.total_commanded_nl - commanded_before
        peak = max(peak_before, _peak_rate(pump))
        bound = math.ceil(peak * step_s / SECONDS_PER_DAY) + 1 + bolus_left_nl
        if not 0 <= delta <= bound:
            raise SoakError(f"pump {self.index}: {delta} nL in {step_s} s, at most {bound} nL")
        status = pump.status()
        for code in _SELF_CLEARING:
            if pump.alarm_condition_present(code) != (code in status.alarms_active):
                raise SoakError(f"pump {self.index}: {code.name} active != its condition")
        low = status.reservoir_nl <= status.alarm_volume_nl
        if low and AlarmCode.LOW_RESERVOIR not in status.alarms_active:
            raise SoakError(f"pump {self.index}: low reservoir without its alarm")

    def check_exact(self, before: m.StatusResponse, commanded_before: int, step_s: int) -> None:
        """A simple prescription running undisturbed delivers rate x time, to the nL."""
        pump = self.pump
        prescription = pump.prescription
        status = pump.status()
        if (
            prescription.mode is Mode.SIMPLE
            and before.delivering
            and status.delivering
            and before.bolus_kind is BolusKind.NONE
            and before.bridge_concentration_ug_per_ml == 0
            and pump.bridge is None
            and prescription == self._prescription_at_poll
        ):
            delta = pump.total_commanded_nl - commanded_before
            exact = pump.schedule.rate_at(0) * step_s / SECONDS_PER_DAY
            if abs(delta - exact) > 1:
                raise SoakError(f"pump {self.index}: {delta} nL where {exact:.1f} nL was due")
            self.figures.exact_dose_checks += 1

    def check_crossings(self, start_clock_s: int) -> None:
        """Alarms raised while time ran are stamped with the second forecast when it began."""
        due = self.due
        for view in self.pump.alarms():
            if view.code in due and view.raised_at_clock_s > start_clock_s:
                if view.raised_at_clock_s != due[view.code]:
                    raise SoakError(
                        f"pump {self.index}: {view.code.name} raised at {view.raised_at_clock_s}"
                        f", its forecast said {due[view.code]}"
                    )
                self.figures.alarms_checked += 1

    def poll(self) -> None:
        """STATUS, compared with the truth; kept as the forecast for the next step."""
        result = self.call("status", lambda c: c.status())
        if not isinstance(result, m.StatusResponse):
            raise SoakError(f"pump {self.index}: status refused: {result}")
        pump = self.pump
        truth = pump.status()
        seen = (result.reservoir_nl, result.mode, frozenset(result.alarms_active), result.clock_s)
        real = (truth.reservoir_nl, truth.mode, frozenset(truth.alarms_active), truth.clock_s)
        if seen != real:
            raise SoakError(f"pump {self.index}: STATUS says {seen}, the pump is {real}")
        self.forecast = result
        self.due = {
            AlarmCode.LOW_RESERVOIR: pump.low_reservoir_at(),
            AlarmCode.EMPTY_RESERVOIR: pump.empty_at(),
            AlarmCode.ERI: pump.eri_at(),
        }
        self._prescription_at_poll = pump.prescription

    # -- what happens to a pump ---------------------------------------------------------------

    def act(self) -> None:
        rng, emu, i = self.rng, self.emu, self.index
        status = self.forecast
        assert status is not None
        profile = self.pump.profile
        low = AlarmCode.LOW_RESERVOIR in status.alarms_active
        if low or rng.random() < 0.01:
            removed = max(status.reservoir_nl - rng.randrange(0, 200_000), 0)
            concentration = rng.choice(profile.commercial_concentrations_ug_per_ml)
            if rng.random() < 0.8:
                concentration = status.concentration_ug_per_ml
            added = profile.capacity_nl - (status.reservoir_nl - removed)
            # One transaction: the same doses of the new drug and, if it changes, the bridge
            # (refused while another runs: counted as a refusal).
            same_dose = self.pump.prescription.with_concentration(concentration)
            bridge = concentration != status.concentration_ug_per_ml and rng.random() < 0.7
            self.call(
                "refill",
                lambda c: c.refill(
                    removed_nl=removed,
                    added_nl=added,
                    concentration_ug_per_ml=concentration,
                    prescription=same_dose,
                    bridge=bridge,
                ),
            )
            self.figures.refills += 1
        conc = status.concentration_ug_per_ml

        def dose_ng(low_nl: int, high_nl: int) -> int:
            # A dose whose rate at the drug in the pump is within [low, high) nL/day.
            return rng.randrange(low_nl, high_nl) * conc // 1000

        if rng.random() < 0.02:
            if rng.random() < 0.7:
                spec = m.PrescriptionSpec.simple(
                    dose_ng(48_000, 1_500_000), concentration_ug_per_ml=conc
                )
            else:
                steps = sorted(rng.sample(range(1, 1440), rng.randint(0, 5)))
                spec = m.PrescriptionSpec.flex(
                    tuple(
                        m.FlexStep(start_min=s, dose_ng_per_day=dose_ng(48_000, 1_500_000))
                        for s in [0, *steps]
                    ),
                    concentration_ug_per_ml=conc,
                )
            self.call("program", lambda c: c.program(spec))
            self.figures.programs += 1
        if rng.random() < 0.01:
            bolus_ng = dose_ng(10_000, 200_000)
            self.call("bolus", lambda c: c.start_bolus(dose_ng=bolus_ng, duration_s=3600))
        if rng.random() < 0.004:
            self.call("stop", lambda c: c.stop(StopReason.OTHER))
        if self.pump.stop_reason is not None and rng.random() < 0.3:
            self.call("resume", lambda c: c.resume())
        # Device faults.
        if self.stalled_steps:
            self.stalled_steps -= 1
            if not self.stalled_steps:
                emu.fault_motor_stall(False, i)
        elif rng.random() < 0.005:
            emu.fault_motor_stall(True, i)
            self.stalled_steps = rng.randint(1, 4)
            self.figures.faults += 1
        if rng.random() < 0.003:
            emu.fault_memory_error(rng.random() < 0.5, i)
            self.figures.faults += 1
        for code in (AlarmCode.MEMORY_CRITICAL, AlarmCode.MEMORY_NON_CRITICAL):
            if code in status.alarms_active:
                self.call("clear", lambda c, code=code: c.clear_alarm(code))
        if AlarmCode.EOS in status.alarms_active:
            emu.fault_battery(100, i)  # the pump is replaced
            self.figures.faults += 1
        # Link faults.
        if self.impaired_steps:
            self.impaired_steps -= 1
            if not self.impaired_steps:
                emu.set_link(i, drop=0.0, corrupt=0.0)
        elif rng.random() < 0.01:
            emu.set_link(i, drop=0.05, corrupt=0.05)
            self.impaired_steps = rng.randint(5, 30)
            self.figures.faults += 1


def run_soak(*, pumps: int, years: float, step_s: int, seed: int, rss_every: int = 50) -> Figures:
    """Run the soak; raises :class:`SoakError` on the first broken invariant."""
    figures = Figures(pumps=pumps)
    rng = random.Random(seed)
    setups = fleet_setups(PRESETS["default"], pumps)
    process = psutil.Process()
    started = time.perf_counter()
    clock = PumpClock(start_pump_s=T0)
    clock.set_manual()
    emu = Emulator(setups, keys=DEMO_KEYS, clock=clock, derive_pump_keys=False, seed=seed)
    patients = [_Patient(emu, i, random.Random(rng.random()), figures) for i in range(pumps)]
    try:
        for p in patients:
            p.poll()
        total_steps = int(years * YEAR_S / step_s)
        for step in range(total_steps):
            before = []
            for p in patients:
                bolus = p.pump.bolus
                left = 0 if bolus is None else bolus.volume_nl - bolus.delivered_nl(p.pump.t)
                before.append(
                    (p.pump.total_commanded_nl, left, p.pump.clock(p.pump.t), _peak_rate(p.pump))
                )
            emu.advance(step_s)
            for p, (commanded, left, clock_s, peak) in zip(patients, before, strict=True):
                p.check_truth(commanded, left, step_s, peak)
                assert p.forecast is not None
                p.check_exact(p.forecast, commanded, step_s)
                p.check_crossings(clock_s)
                p.poll()
                p.act()
                p.poll()
            emu.check()
            figures.steps += 1
            if step % rss_every == 0:
                figures.rss_mb.append(process.memory_info().rss / 2**20)
        figures.pump_years = pumps * total_steps * step_s / YEAR_S
    finally:
        for p in patients:
            p.drop()
        emu.close()
    figures.seconds = time.perf_counter() - started
    figures.rss_mb.append(process.memory_info().rss / 2**20)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hardening.soak", description=__doc__)
    parser.add_argument("--pumps", type=int, default=4)
    parser.add_argument("--years", type=float, default=8.0, help="pump years per pump")
    parser.add_argument("--step-h", type=float, default=6.0, help="pump hours per step")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    figures = run_soak(
        pumps=args.pumps, years=args.years, step_s=int(args.step_h * 3600), seed=args.seed
    )
    print(figures.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
