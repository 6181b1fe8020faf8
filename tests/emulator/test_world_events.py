"""The world advanced by events equals the world stepped every 300 s.

The emulator feeds the catheter and the patient each constant-rate stretch of the pump
whole (``Pump.advance_in_stretches``). Before, it stepped the pump every 300 s of pump
time and pushed each step; that loop is kept here, and only here, as the reference
(:func:`stepped_world`, its steps also cut where the pump's rate changes, so that it is
exact to the pump's whole nanolitres every 300 s). Two emulated pumps on one clock, one of
each, get the same seeded random programme (advances of 1 s to 3 days, new simple and
flex prescriptions, boluses, refills at the same or another concentration with and
without the bridge, stops and resumes, MRI exposures, pocket fills; a delivery bias, a
reservoir run dry, valve pumps in a field); after every step:

- the pumps are byte-identical, and so is everything the catheter moved: the volume and
  drug (picograms) in and out of the tip, the catheter's contents, the dry and pocket
  volumes;
- every hour of the ledger is within 2 nL of drug of the stepped one (whose steps end on
  the hour, so its hours are the pump's own whole nanolitres): the stated tolerance of
  :class:`~emulator.fluid_path.HourlyLedger` (measured over 60 seeded programmes, 485
  simulated days: 1.74 nL at worst, 2 with a delivery bias);
- the patient's level and response are within the drug of 2 nL (inside a stretch the
  event world spreads the pump's whole nanolitres evenly, the stepped one per 300 s;
  measured: 1.1 nL), the risk state is the same and began within 5 s of the same time
  (measured: 0.6 s), and the dose changes remembered are the same with their onset and
  full effect within a minute (measured: 13 s).

The event loop as it was before the usual stretch was pushed inline (and a request at an
instant already reached returned at once) is kept here too (:func:`former_event_world`):
the product equals it bit for bit (:class:`ExactTwins`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.clock import PumpClock
from emulator.emulator import EmulatedPump
from emulator.fluid_path import tip_pieces
from emulator.mri import push_instant_delivery
from emulator.presets import PRESETS, PumpSetup, flex_ug, simple_ug
from firmware_model.delivery import PPM
from firmware_model.errors import FirmwareError
from firmware_model.profile import profile_for
from firmware_model.pump import Pump, RefillOrder
from protocol.enums import StopReason, ValveModel
from tests.support import DEMO_KEYS

START_S = 1_789_977_600 + 1_234
"""2026-09-21T08:20:34Z: off the hour and off the 300 s grid."""
STEP_S = 300
HOUR_S = 3_600
DAY_S = 86_400
PG_PER_UG = 1_000_000
LEDGER_NL = 2
"""HourlyLedger's stated tolerance per hour, nL of drug."""
SINCE_S = 5.0
"""The risk state's start, s."""
MILESTONE_S = 60.0
"""A dose change's onset and full effect, s."""


def stepped_world(ep: EmulatedPump, step_s: int = STEP_S) -> None:
    """Make ``ep`` advance its world the old way: the pump stepped every ``step_s`` of pump
    clock (steps end on multiples of it, so none straddles an hour), each step's delivery
    pushed evenly over the step; and, unlike the old loop, each step cut where the pump's
    rate changes (the old loop spread a 60 s bolus over its 300 s step: a reference exact to
    the pump's whole nanolitres every ``step_s`` must not)."""

    def advance(pump: Pump, t: int) -> None:
        world = ep._world  # the reference reaches into the world as the old loop did
        ep.advanced_at = ep.virtual.wall()
        ep._follow_prescription(pump, world)
        ep._follow_fill(pump, world)
        push_instant_delivery(world.fluid, world.patient, world.ledger, pump, dry_nl=world.dry_nl)
        ep._fire_world_events(pump)
        while pump.t < t:
            stop = min(t, pump.t + step_s - pump.clock(pump.t) % step_s)
            event_t = ep.next_world_event_t
            if event_t is not None and pump.t < event_t < stop:
                stop = event_t
            reservoir_nl = pump.reservoir_nl
            for start, end, delivered_nl, _ in pump.advance_in_stretches(stop):
                volume_nl = delivered_nl
                if world.missing_nl:
                    real_nl = max(0, reservoir_nl - world.missing_nl)
                    dry_nl = max(0, delivered_nl - real_nl)
                    world.dry_nl += dry_nl
                    world.missing_nl = max(0, world.missing_nl - dry_nl)
                    volume_nl -= dry_nl
                reservoir_nl -= delivered_nl
                pieces = world.fluid.update_over(
                    world.fluid.last_total_delivered_nl + volume_nl,
                    pump.concentration_ug_per_ml,
                    end - start,
                )
                world.patient.feed(pieces)
                world.ledger.add(pump.clock(start), pieces)
            world.t = pump.t
            ep._fire_world_events(pump)
        ep._follow_prescription(pump, world)

    ep.virtual.on_advance = advance


def former_event_world(ep: EmulatedPump) -> None:
    """Make ``ep`` advance its world with the event loop as it was before the usual stretch
    was pushed inline and a request at the instant already reached returned at once (kept
    here as the reference: :class:`ExactTwins` holds the product to it exactly)."""

    def push_stretch(
        world: Any, start_clock_s: int, duration_s: int, volume_nl: int, concentration: int
    ) -> None:
        if duration_s <= 0:
            return
        fill_nl, out = world.fluid.push_raw(volume_nl, concentration)
        if not fill_nl and len(out) <= 1:
            volume_out_nl, concentration_out = out[0] if out else (0, 0)
            world.ledger.add_even(start_clock_s, duration_s, volume_out_nl, concentration_out)
            world.patient.infuse(duration_s, volume_out_nl * concentration_out / PG_PER_UG)
            return
        pieces = tip_pieces(fill_nl, out, volume_nl, duration_s)
        world.ledger.add(start_clock_s, pieces)
        world.patient.feed(pieces)

    def advance(pump: Pump, t: int) -> None:
        world = ep._world
        ep.advanced_at = ep.virtual.wall()
        if id(pump.prescription) != world.reference_key:
            ep._follow_prescription(pump, world)
        if pump.total_filled_nl != world.filled_nl:
            ep._follow_fill(pump, world)
        if pump.total_delivered_nl - world.dry_nl != world.fluid.last_total_delivered_nl:
            push_instant_delivery(
                world.fluid, world.patient, world.ledger, pump, dry_nl=world.dry_nl
            )
        if ep._mri_end_value is not None:
            ep._fire_world_events(pump)
        while pump.t < t:
            stop = t
            event_t = ep.next_world_event_t
            if event_t is not None and pump.t < event_t < t:
                stop = event_t
            reservoir_nl = pump.reservoir_nl
            concentration = pump.concentration_ug_per_ml
            offset_s = pump.clock(0)
            for start, end, delivered_nl, commanded_nl in pump.advance_in_stretches(stop):
                reservoir_nl -= delivered_nl
                flowing_s = duration_s = end - start
                volume_nl = delivered_nl
                if world.missing_nl and delivered_nl:
                    real_nl = max(0, reservoir_nl + delivered_nl - world.missing_nl)
                    dry_nl = max(0, delivered_nl - real_nl)
                    world.dry_nl += dry_nl
                    world.missing_nl = max(0, world.missing_nl - dry_nl)
                    volume_nl -= dry_nl
                    if dry_nl:
                        flowing_s = -(-duration_s * volume_nl // delivered_nl)
                elif reservoir_nl == 0 and delivered_nl:
                    bias_ppm = pump.profile.delivery_bias_ppm
                    nominal_nl = commanded_nl * (PPM + bias_ppm) // PPM
                    if nominal_nl > delivered_nl:
                        flowing_s = -(-duration_s * delivered_nl // nominal_nl)
                push_stretch(world, start + offset_s, flowing_s, volume_nl, concentration)
                if flowing_s < duration_s:
                    push_stretch(world, start + offset_s + flowing_s, duration_s - flowing_s, 0, 0)
            world.t = pump.t
            ep._fire_world_events(pump)
        if id(pump.prescription) != world.reference_key:
            ep._follow_prescription(pump, world)

    ep.virtual.on_advance = advance


class Twins:
    """The same pump twice on one manual clock: ``event`` (the product) and ``stepped``."""

    def __init__(
        self,
        setup: PumpSetup,
        *,
        bias_ppm: int = 0,
        catheter_cm: int = 50,
        step_s: int = STEP_S,
        tolerance_nl: int = LEDGER_NL,
    ) -> None:
        self.clock = PumpClock(start_pump_s=START_S)
        self.clock.set_manual()
        profile = dataclasses.replace(
            profile_for(setup.model, setup.valve), delivery_bias_ppm=bias_ppm
        )
        self.pumps = [
            EmulatedPump(
                index=0,
                setup=setup,
                keys=DEMO_KEYS,
                clock=self.clock,
                wall=lambda: 0.0,
                catheter_length_cm=catheter_cm,
                pump=Pump.new(
                    profile=profile,
                    serial=setup.serial,
                    t=START_S,
                    reservoir_nl=setup.reservoir_nl,
                    concentration_ug_per_ml=setup.concentration_ug_per_ml,
                    prescription=setup.prescription,
                    implant=setup.implant,
                ),
            )
            for _ in range(2)
        ]
        stepped_world(self.pumps[1], step_s)
        self.tolerance_nl = tolerance_nl
        self.max_concentration = setup.concentration_ug_per_ml

    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        for ep in self.pumps:
            ep.virtual.advance()
        self.check()

    def act(self, do: Callable[[EmulatedPump], object]) -> None:
        """The same action on both, at the same pump second: refused by both or by none."""
        outcomes = []
        for ep in self.pumps:
            with ep.virtual.lock:
                ep.virtual.advance()
                try:
                    do(ep)
                    outcomes.append("done")
                except FirmwareError as exc:
                    outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1]
        self.check()

    def check(self) -> None:
        event, stepped = self.pumps
        assert event.pump.to_bytes() == stepped.pump.to_bytes()
        we, ws = event._world, stepped._world
        pe, ps = we.fluid.path, ws.fluid.path
        # The catheter: exact, nanolitre and picogram.
        assert (pe.volume_out_nl, pe.drug_out_pg) == (ps.volume_out_nl, ps.drug_out_pg)
        assert (pe.volume_in_nl, pe.drug_in_pg) == (ps.volume_in_nl, ps.drug_in_pg)
        assert pe.contents() == ps.contents()
        assert we.fluid.last_total_delivered_nl == ws.fluid.last_total_delivered_nl
        assert (we.dry_nl, we.missing_nl, we.pocket_nl) == (ws.dry_nl, ws.missing_nl, ws.pocket_nl)
        # The ledger: every hour within the tolerance (nL of drug).
        now = event.pump.clock(event.pump.t)
        hour_tolerance = Fraction(self.tolerance_nl * self.max_concentration, PG_PER_UG)
        for (hour, ug_e), (_, ug_s) in zip(
            we.ledger.hours(START_S, now), ws.ledger.hours(START_S, now), strict=True
        ):
            assert abs(ug_e - ug_s) <= hour_tolerance, (hour, float(ug_e), float(ug_s))
        # The patient: within the same drug, the same state from about the same time.
        ae, as_ = we.patient.assess(), ws.patient.assess()
        amount_tolerance = self.tolerance_nl * self.max_concentration / PG_PER_UG + 1e-9 * max(
            we.patient.reference_amount_ug, we.patient.amount_ug
        )
        assert we.patient.t_s == ws.patient.t_s
        assert we.patient.amount_ug == pytest.approx(ws.patient.amount_ug, abs=amount_tolerance)
        assert we.patient.effect_amount_ug == pytest.approx(
            ws.patient.effect_amount_ug, abs=amount_tolerance
        )
        assert ae.state is as_.state
        assert ae.since_s == pytest.approx(as_.since_s, abs=SINCE_S)
        assert len(we.changes) == len(ws.changes)
        for ce, cs in zip(we.changes, ws.changes, strict=True):
            assert (ce.at_s, ce.from_ug_per_day, ce.to_ug_per_day) == (
                cs.at_s,
                cs.from_ug_per_day,
                cs.to_ug_per_day,
            )
            for a, b in (
                (ce.onset_at_s, cs.onset_at_s),
                (ce.full_effect_at_s, cs.full_effect_at_s),
            ):
                assert (a is None) == (b is None)
                if a is not None and b is not None:
                    assert a == pytest.approx(b, abs=MILESTONE_S)


ADVANCES = (1, 59, 300, 1_801, HOUR_S, 5_000, 6 * HOUR_S, DAY_S, 3 * DAY_S)
CONCENTRATIONS = (500, 1_000, 2_000)


def _program(rng: random.Random, concentration: int) -> Callable[[EmulatedPump], object]:
    if rng.random() < 0.5:
        spec = simple_ug(rng.randrange(50, 800), concentration)
    else:
        spec = flex_ug(
            ((0, rng.randrange(50, 400)), (rng.randrange(1, 23) * 60, rng.randrange(50, 800))),
            concentration,
        )
    return lambda ep: ep.pump.program(ep.pump.t, spec)


def _refill(rng: random.Random, concentration: int) -> Callable[[EmulatedPump], object]:
    bridge = rng.random() < 0.5
    added_nl = rng.choice((2_000_000, 10_000_000, 20_000_000))
    dose = rng.randrange(50, 600)

    def do(ep: EmulatedPump) -> None:
        pump = ep.pump
        ep.pump.refill(
            pump.t,
            RefillOrder(
                removed_nl=pump.estimated_reservoir_nl,
                added_nl=added_nl,
                concentration_ug_per_ml=concentration,
                prescription=simple_ug(dose, concentration),
                bridge=bridge and concentration != pump.concentration_ug_per_ml,
            ),
        )

    return do


def _bolus(dose_ng: int, duration_s: int) -> Callable[[EmulatedPump], object]:
    def do(ep: EmulatedPump) -> None:
        pump = ep.pump
        pump.start_bolus(pump.t, pump.therapeutic_bolus(dose_ng=dose_ng, duration_s=duration_s))

    return do


def run_programme(seed: int, twins: Twins, steps: int) -> None:
    rng = random.Random(seed)
    concentration = twins.pumps[0].pump.concentration_ug_per_ml
    for _ in range(steps):
        kind = rng.choices(
            ("advance", "program", "bolus", "refill", "stop", "resume", "mri", "pocket"),
            weights=(10, 2, 2, 1, 1, 1, 1, 1),
        )[0]
        if kind == "advance":
            twins.advance(rng.choice(ADVANCES))
        elif kind == "program":
            twins.act(_program(rng, concentration))
        elif kind == "bolus":
            twins.act(_bolus(rng.randrange(5_000, 200_000), rng.choice((60, 900, 7_200))))
        elif kind == "refill":
            concentration = rng.choice(CONCENTRATIONS)
            twins.max_concentration = max(twins.max_concentration, concentration)
            twins.act(_refill(rng, concentration))
        elif kind == "stop":
            twins.act(lambda ep: ep.pump.stop(ep.pump.t, StopReason.CLINICIAN_DECISION))
        elif kind == "resume":
            twins.act(lambda ep: ep.pump.resume(ep.pump.t))
        elif kind == "mri":
            duration_s = rng.choice((600, 2_700, 4 * HOUR_S))
            for ep in twins.pumps:
                state = ep.pump.mri
                if state is None or not state.in_field:
                    ep.mri_for(duration_s)
            twins.check()
        else:
            for ep in twins.pumps:
                ep.arm_pocket_fill()
            twins.check()


@settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    preset=st.sampled_from(["default", "demo"]),
    catheter_cm=st.integers(0, 120),
)
def test_random_programmes_give_the_same_world_whether_stepped_or_by_events(
    seed: int, preset: str, catheter_cm: int
) -> None:
    twins = Twins(PRESETS[preset], catheter_cm=catheter_cm)
    run_programme(seed, twins, steps=25)


@pytest.mark.parametrize("seed", [3, 16])
def test_with_a_delivery_bias_the_world_is_the_same(seed: int) -> None:
    """A pump that moves 3 % more than it counts (its own remainder on every stroke)."""
    twins = Twins(PRESETS["default"], bias_ppm=30_000)
    run_programme(seed, twins, steps=25)


@pytest.mark.parametrize("valve", [ValveModel.VALVE_DISCHARGE, ValveModel.VALVE_FLOW_ACTIVATED])
def test_valve_pumps_in_an_mri_field_give_the_same_world(valve: ValveModel) -> None:
    """The valve pump's discharge at the field (an instantaneous dose), then time on."""
    twins = Twins(dataclasses.replace(PRESETS["default"], valve=valve))
    twins.advance(5_000)
    for ep in twins.pumps:
        ep.mri_for(2_700)
    twins.check()
    for seconds in (1, 600, 2_700, DAY_S, 2 * DAY_S):
        twins.advance(seconds)


def test_a_reservoir_run_dry_and_a_pocket_fill_give_the_same_world() -> None:
    """A pump that moves 95 % more than it counts runs its true reservoir dry inside a
    basal stretch, long before its estimate says empty; then a pocket fill leaves it
    counting what never moves. The reference steps every second here, and the event world
    cuts the flow at the second the stretch's even share runs out: within 2 s of flow of
    the pump's own count (at 0.39 mL/day, 9 nL)."""
    setup = dataclasses.replace(PRESETS["default"], reservoir_nl=2_100_000)
    twins = Twins(setup, bias_ppm=950_000, step_s=1, tolerance_nl=12)
    twins.advance(600)
    twins.act(
        lambda ep: ep.pump.start_bolus(
            ep.pump.t, ep.pump.therapeutic_bolus(dose_ng=500_000, duration_s=7_200)
        )
    )
    for seconds in (7_200, 6 * HOUR_S, 6 * HOUR_S):
        twins.advance(seconds)
    assert twins.pumps[0].pump.reservoir_nl == 0  # ran dry in the last stretch
    for ep in twins.pumps:
        ep.arm_pocket_fill()
    twins.act(_refill(random.Random(1), 500))
    for seconds in (1_000, HOUR_S):
        twins.advance(seconds)
    assert twins.pumps[0]._world.dry_nl > 0


def test_the_event_world_pushes_a_stretch_once_not_every_300_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hundred days of a simple prescription in one advance: three stretches (cut at the
    low-reservoir alarm's second on day 90 and the empty reservoir's on day 95, which
    halts delivery), not 28,800 steps of 300 s."""
    twins = Twins(PRESETS["default"])
    patient = twins.pumps[0]._world.patient
    pieces: list[int | Fraction] = []
    steady = patient._infuse_steady

    # Every piece of whole seconds and a float amount (each stretch's) enters the patient
    # through its shortcut first, from the world's loop or from PatientModel.infuse.
    def counting(duration_s: int, drug_ug: float) -> bool:
        pieces.append(duration_s)
        return steady(duration_s, drug_ug)

    monkeypatch.setattr(patient, "_infuse_steady", counting)
    twins.advance(100 * DAY_S)
    assert pieces == [90 * DAY_S, 5 * DAY_S, 5 * DAY_S]
    assert sum(pieces) == 100 * DAY_S


class ExactTwins(Twins):
    """The product's event world beside :func:`former_event_world`: equal in every bit."""

    def __init__(self, setup: PumpSetup, **kwargs: Any) -> None:
        super().__init__(setup, **kwargs)
        former_event_world(self.pumps[1])

    def check(self) -> None:
        event, former = self.pumps
        assert event.pump.to_bytes() == former.pump.to_bytes()
        we, wf = event._world, former._world
        pe, pf = we.fluid.path, wf.fluid.path
        assert (pe.volume_in_nl, pe.drug_in_pg, pe.volume_out_nl, pe.drug_out_pg) == (
            pf.volume_in_nl,
            pf.drug_in_pg,
            pf.volume_out_nl,
            pf.drug_out_pg,
        )
        assert pe.contents() == pf.contents()
        assert we.fluid.last_total_delivered_nl == wf.fluid.last_total_delivered_nl
        assert (we.t, we.dose_ug_per_day, we.changes, we.filled_nl, we.pocket_armed) == (
            wf.t,
            wf.dose_ug_per_day,
            wf.changes,
            wf.filled_nl,
            wf.pocket_armed,
        )
        assert (we.dry_nl, we.missing_nl, we.pocket_nl) == (wf.dry_nl, wf.missing_nl, wf.pocket_nl)
        le, lf = we.ledger, wf.ledger
        assert (le._hours, le._long, le._latest_hour, le.reached_clock_s) == (
            lf._hours,
            lf._long,
            lf._latest_hour,
            lf.reached_clock_s,
        )
        me, mf = we.patient, wf.patient
        assert (me.amount_ug.hex(), me._transit_ug.hex(), me.effect_amount_ug.hex()) == (
            mf.amount_ug.hex(),
            mf._transit_ug.hex(),
            mf.effect_amount_ug.hex(),
        )
        assert (me.t_s, me.reference_dose_ug_per_day, me.assess()) == (
            mf.t_s,
            mf.reference_dose_ug_per_day,
            mf.assess(),
        )
        assert event.advanced_at == former.advanced_at


@settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    preset=st.sampled_from(["default", "demo"]),
    catheter_cm=st.integers(0, 120),
    bias_ppm=st.sampled_from([0, 30_000, 950_000]),
)
def test_the_event_world_is_the_former_event_loop_bit_for_bit(
    seed: int, preset: str, catheter_cm: int, bias_ppm: int
) -> None:
    """The loop that pushes the usual stretch inline and returns at once when a request
    finds the pump already at the clock's instant (every act here advances once more at
    that instant) gives exactly the world of the former loop: the pump, the catheter, every
    hour of the ledger, the patient to the last bit, the remembered dose changes; with a
    delivery bias, a reservoir run dry, pocket fills and MRI exposures."""
    twins = ExactTwins(PRESETS[preset], catheter_cm=catheter_cm, bias_ppm=bias_ppm)
    run_programme(seed, twins, steps=30)
