"""What reaches the patient through a refill at a new concentration, over the wire.

domain.md's bridge: after a refill that changes the concentration, the tubing and
catheter still hold the old drug, so the pump runs the NEW doses computed at the OLD
concentration until the volume delivered since the refill equals the dead volume;
then the new drug reaches the tip just as the rates switch to it. The patient receives
the prescribed mcg/day throughout. These tests run an in-process pump through the
protocol (``PumpClient.refill``, one staged transaction) and read what left the TRUE
catheter tip (the emulator's fluid path, kept apart from the pump's implant record),
hour by hour of the pump clock.

The pump's implant record and the true catheter agree here: 50 cm of 0.0026 mL/cm plus
the 0.2 mL pump tubing, a dead volume of 0.33 mL (domain.md's worked case).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emulator.clock import PumpClock
from emulator.emulator import Emulator
from emulator.presets import PRESETS, implant_record, simple_ug
from protocol.client import PumpClient
from protocol.enums import EventCode, Role
from protocol.messages import PrescriptionSpec
from tests.support import DEMO_KEYS

START_S = 1_789_977_600
"""2026-09-21T08:00:00Z: on the hour, so the refill hours are whole pump-clock hours."""
HOUR_S = 3_600
DAY_S = 86_400
DEAD_NL = 330_000
"""0.2 mL tubing + 50 cm x 2,600 nL/cm."""
PER_HOUR_TOLERANCE_UG = Fraction(5, 1000)
"""The pump moves whole nanolitres: 1 nL of 2000 mcg/mL is 0.002 mcg."""


@dataclass
class Clinic:
    emu: Emulator
    clinician: PumpClient
    url: str

    def hours(self, first_s: int, last_s: int) -> list[tuple[int, Fraction]]:
        return self.emu.pumps[0].patient_hours(first_s, last_s)


@contextmanager
def clinic(concentration: int, dose_ug_per_day: int, *, length_cm: int = 50) -> Iterator[Clinic]:
    """A pump of ``dose_ug_per_day`` of ``concentration`` mcg/mL, one day into therapy (the
    catheter full of that drug), with a clinician session; pump clock on the hour. The
    implant record and the true catheter are both ``length_cm``."""
    setup = dataclasses.replace(
        PRESETS["default"],
        concentration_ug_per_ml=concentration,
        prescription=simple_ug(dose_ug_per_day, concentration),
        implant=implant_record(length_cm=length_cm),
    )
    clock = PumpClock(start_pump_s=START_S)
    clock.set_manual()
    with Emulator(
        [setup], keys=DEMO_KEYS, clock=clock, random_bytes=random.Random(3).randbytes
    ) as emu:
        assert emu.state()["fluid_path"]["dead_volume_nl"] == 200_000 + 2_600 * length_cm
        url = emu.register_inproc()
        emu.advance(DAY_S)
        with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
            yield Clinic(emu=emu, clinician=client, url=url)


def refill(
    c: Clinic, new_concentration: int, prescription: PrescriptionSpec, *, bridge: bool
) -> tuple[int, int | None]:
    """The refill transaction (emptied, 20 mL of the new drug); returns (its clock, the
    bridge's forecast end)."""
    status = c.clinician.status()
    done = c.clinician.refill(
        removed_nl=status.reservoir_nl,
        added_nl=20_000_000,
        concentration_ug_per_ml=new_concentration,
        prescription=prescription,
        bridge=bridge,
        drug_lot="QA-LOT",
    )
    return status.clock_s, done.bridge_ends_at_s


def assert_every_hour(
    hours: list[tuple[int, Fraction]],
    dose_ug_per_day: Fraction,
    tolerance_ug: Fraction = PER_HOUR_TOLERANCE_UG,
) -> None:
    per_hour = dose_ug_per_day / 24
    wrong = [(h, float(ug)) for h, ug in hours if abs(ug - per_hour) > tolerance_ug]
    assert hours
    assert not wrong, f"hours not at {float(per_hour):.4f} mcg: {wrong[:5]}"


def test_a_rise_with_the_bridge_gives_the_dose_every_hour_through_it_and_after() -> None:
    with clinic(500, 100) as c:
        at, ends = refill(c, 2000, simple_ug(100, 2000), bridge=True)
        # 0.33 mL of 500 mcg/mL at 100 mcg/day: 0.2 mL/day for 1.65 days.
        assert ends == at + 142_560
        status = c.clinician.status()
        assert status.bridge_remaining_nl == DEAD_NL
        assert status.bridge_concentration_ug_per_ml == 500
        assert status.basal_rate_nl_per_day == 200_000
        c.emu.advance(142_560 + 2 * DAY_S)
        after = c.clinician.status()
        assert after.bridge_concentration_ug_per_ml == 0
        assert after.basal_rate_nl_per_day == 50_000
        assert_every_hour(c.hours(at, at + 142_560 + 2 * DAY_S), Fraction(100))


def test_a_rise_without_the_bridge_underdoses_for_the_dead_volume_s_time() -> None:
    with clinic(500, 100) as c:
        at, ends = refill(c, 2000, simple_ug(100, 2000), bridge=False)
        assert ends is None
        # The new rate (0.05 mL/day) pushes the old 500 mcg/mL out first: 25 mcg/day for
        # 0.33 / 0.05 = 6.6 days (570,240 s = 158.4 h), then 100 mcg/day.
        c.emu.advance(8 * DAY_S)
        hours = c.hours(at, at + 8 * DAY_S)
        assert_every_hour(hours[:158], Fraction(25))
        mixed = Fraction(25, 24) * Fraction(4, 10) + Fraction(100, 24) * Fraction(6, 10)
        assert hours[158][1] == pytest.approx(float(mixed), abs=0.005)
        assert_every_hour(hours[159:], Fraction(100))


def test_a_fall_with_the_bridge_gives_the_dose_every_hour() -> None:
    with clinic(2000, 100) as c:
        at, ends = refill(c, 500, simple_ug(100, 500), bridge=True)
        # 0.33 mL of 2000 mcg/mL at 100 mcg/day: 0.05 mL/day for 6.6 days.
        assert ends == at + 570_240
        c.emu.advance(570_240 + DAY_S)
        assert c.clinician.status().basal_rate_nl_per_day == 200_000
        assert_every_hour(c.hours(at, at + 570_240 + DAY_S), Fraction(100))


def test_a_dose_change_at_the_same_refill_gives_the_new_dose_from_the_refill() -> None:
    with clinic(500, 100) as c:
        at, ends = refill(c, 2000, simple_ug(150, 2000), bridge=True)
        # The NEW dose at the OLD drug: 150 mcg/day of 500 mcg/mL is 0.3 mL/day, 1.1 days.
        assert ends == at + 95_040
        c.emu.advance(95_040 + DAY_S)
        assert_every_hour(c.hours(at, at + 95_040 + DAY_S), Fraction(150))


def test_a_patient_dose_during_the_bridge_is_the_dose_of_old_drug_and_ends_it_sooner() -> None:
    with clinic(500, 100) as c:
        c.clinician.set_patient_settings(
            enabled=True, dose_ng=20_000, duration_s=HOUR_S, lockout_s=3 * HOUR_S, max_per_24h=4
        )
        at, ends = refill(c, 2000, simple_ug(100, 2000), bridge=True)
        # The forecast counts the patient doses as used at their maximum (the earliest end);
        # without any it would be 142,560 s.
        assert ends is not None
        assert ends < at + 142_560
        c.emu.advance(10 * HOUR_S)
        with PumpClient(c.url, key=DEMO_KEYS[Role.PATIENT], role=Role.PATIENT) as handset:
            grant = handset.patient_dose()
        # 20 mcg of the OLD drug: 40 uL at 500 mcg/mL (at 2000 it would be 80 mcg).
        assert grant.dose_ng == 20_000
        assert grant.volume_nl == 40_000
        c.emu.advance(128_880 + DAY_S - 10 * HOUR_S)
        # The dose's volume counts towards the dead volume: 330,000 - 40,000 nL remain after
        # the hour it runs in, at 0.2 mL/day: the bridge ends at 128,880 s, not 142,560 s.
        ended = [e for e in c.clinician.event_log() if e.code is EventCode.BRIDGE_ENDED]
        assert [e.clock_s for e in ended] == [at + 128_880]
        hours = c.hours(at, at + 128_880 + DAY_S)
        assert hours[10][1] == pytest.approx(20, abs=0.005)  # the dose replaces the basal hour
        assert_every_hour(hours[:10] + hours[11:], Fraction(100))
        assert c.clinician.status().bridge_concentration_ug_per_ml == 0


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drugs=st.sampled_from([(500, 1000), (500, 2000), (1000, 2000), (2000, 500), (1000, 500)]),
    dose_ug=st.integers(100, 800),
    new_dose_ug=st.integers(100, 800),
    length_cm=st.integers(20, 120),
)
def test_with_the_bridge_every_hour_gets_the_prescribed_dose(
    drugs: tuple[int, int], dose_ug: int, new_dose_ug: int, length_cm: int
) -> None:
    """Any drug change, any doses before and after, any catheter (record = true catheter):
    from the refill to a day after the bridge, every hour brings the new dose (within the
    pump's rounding: whole nanolitres, and a bridge that ends on a whole second)."""
    old, new = drugs
    dead_nl = 200_000 + 2_600 * length_cm
    bridge_s = dead_nl * old * DAY_S // (new_dose_ug * 1_000_000)
    assume(bridge_s < 2 * DAY_S)  # the long falls cost seconds each; the rule is the same
    with clinic(old, dose_ug, length_cm=length_cm) as c:
        at, ends = refill(c, new, simple_ug(new_dose_ug, new), bridge=True)
        assert ends is not None and abs(ends - at - bridge_s) <= 1
        c.emu.advance(ends - at + DAY_S)
        assert c.clinician.status().bridge_concentration_ug_per_ml == 0
        # The bridge ends on the whole second the dead volume is reached: up to a second of
        # the new drug at the old rate (<= 10 nL, 20 ng at 2000 mcg/mL) in that hour.
        assert_every_hour(c.hours(at, ends + DAY_S), Fraction(new_dose_ug), Fraction(25, 1000))
