"""The fluid path: exact FIFO transport of drug from the reservoir to the catheter tip."""

from __future__ import annotations

import random
from collections import deque
from fractions import Fraction
from itertools import groupby

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from emulator.fluid_path import (
    PG_PER_UG,
    FluidPath,
    FluidPathValueError,
    FluidTracker,
    HourlyLedger,
    Segment,
    TipOutput,
    TipPiece,
    dead_volume_nl,
)
from emulator.presets import implant_record
from firmware_model.profile import PROFILES
from firmware_model.pump import Pump, RefillOrder
from protocol.messages import PrescriptionSpec

P20 = PROFILES[20]
DEAD_110_CM_NL = 486_000  # 200,000 nL tubing + 110 cm x 2,600 nL/cm
DEAD_50_CM_NL = 330_000  # 200,000 nL tubing + 50 cm x 2,600 nL/cm: domain.md's 0.33 mL
MAX_RATE_NL_PER_DAY = 24_000_000


def _rle(concentrations: list[int] | deque[int]) -> list[tuple[int, int]]:
    """Run-length encoding: [(volume_nl, concentration), ...]."""
    return [(len(list(run)), c) for c, run in groupby(concentrations)]


def _as_pairs(segments: tuple[Segment, ...]) -> list[tuple[int, int]]:
    return [(s.volume_nl, s.concentration_ug_per_ml) for s in segments]


def test_dead_volume_from_profile() -> None:
    assert dead_volume_nl(P20, 110) == DEAD_110_CM_NL
    assert dead_volume_nl(P20, 50) == DEAD_50_CM_NL
    assert dead_volume_nl(P20, 0) == P20.internal_tubing_volume_nl
    path = FluidPath.for_catheter(P20, catheter_length_cm=110, initial_concentration_ug_per_ml=500)
    assert path.dead_volume_nl == DEAD_110_CM_NL
    assert path.contents() == (Segment(volume_nl=DEAD_110_CM_NL, concentration_ug_per_ml=500),)


pushes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1_500),
        st.sampled_from([0, 50, 500, 1_000, 2_000]),
        st.integers(min_value=0, max_value=5_000),
    ),
    max_size=15,
)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    dead_nl=st.integers(min_value=0, max_value=2_000),
    primed=st.booleans(),
    initial_conc=st.sampled_from([50, 500, 2_000]),
    steps=pushes,
)
def test_matches_per_nanolitre_fifo_and_conserves_exactly(
    dead_nl: int, primed: bool, initial_conc: int, steps: list[tuple[int, int, int]]
) -> None:
    path = FluidPath(dead_nl, initial_conc, primed=primed)
    # Reference model: one entry per nanolitre, tip on the left.
    ref: deque[int] = deque([initial_conc] * dead_nl if primed else [])
    initial_volume = path.initial_volume_nl
    initial_drug = path.initial_drug_pg
    assert initial_drug == sum(ref)
    for volume_nl, conc, duration_s in steps:
        ref.extend([conc] * volume_nl)
        expected_out: list[int] = []
        while len(ref) > dead_nl:
            expected_out.append(ref.popleft())
        if duration_s == 0 and volume_nl > 0:
            out = path.push(volume_nl, conc)
        else:
            before_air = path.air_nl
            pieces = path.push_over(volume_nl, conc, duration_s)
            if duration_s > 0:
                # Durations add up exactly; each piece lasts in proportion to its volume.
                assert sum(p.duration_s for p in pieces) == duration_s
                if volume_nl > 0:
                    fill = min(before_air, volume_nl)
                    for p in pieces:
                        share = p.volume_nl if p.concentration_ug_per_ml is not None else fill
                        assert p.duration_s == Fraction(duration_s * share, volume_nl)
            out = TipOutput(
                segments=tuple(
                    Segment(
                        volume_nl=p.volume_nl, concentration_ug_per_ml=p.concentration_ug_per_ml
                    )
                    for p in pieces
                    if p.concentration_ug_per_ml is not None
                )
            )
        assert _as_pairs(out.segments) == _rle(expected_out)
        assert out.drug_pg == sum(expected_out)
        assert _as_pairs(path.contents()) == _rle(ref)
        assert path.concentration_at_tip == (ref[0] if ref else None)
        # Exact conservation of volume and drug.
        assert initial_volume + path.volume_in_nl == path.volume_out_nl + path.contents_volume_nl
        assert initial_drug + path.drug_in_pg == path.drug_out_pg + path.contents_drug_pg
        assert path.contents_volume_nl == sum(s.volume_nl for s in path.contents())
        assert path.delivered_to_patient_ug == Fraction(path.drug_out_pg, PG_PER_UG)
        assert path.contents_volume_nl <= dead_nl
        assert path.primed == (path.contents_volume_nl == dead_nl)


def test_old_concentration_for_exactly_the_dead_volume() -> None:
    path = FluidPath(DEAD_110_CM_NL, 500)
    out = path.push(DEAD_110_CM_NL - 1, 2_000)
    assert _as_pairs(out.segments) == [(DEAD_110_CM_NL - 1, 500)]
    assert path.concentration_at_tip == 500
    out = path.push(1, 2_000)
    assert _as_pairs(out.segments) == [(1, 500)]
    # The whole dead volume has moved: the new drug is at the tip.
    assert path.concentration_at_tip == 2_000
    assert path.delivered_to_patient_ug == Fraction(DEAD_110_CM_NL * 500, PG_PER_UG)
    assert _as_pairs(path.push(7, 2_000).segments) == [(7, 2_000)]


def test_push_straddling_a_concentration_change_splits_its_output() -> None:
    path = FluidPath(1_000, 500)
    path.push(600, 1_000)
    out = path.push(1_000, 1_000)
    assert _as_pairs(out.segments) == [(400, 500), (600, 1_000)]
    assert out.volume_nl == 1_000
    assert out.drug_pg == 400 * 500 + 600 * 1_000
    assert out.drug_ug == Fraction(800_000, PG_PER_UG)


def test_bridge_bolus_of_the_dead_volume_switches_the_tip_at_its_end() -> None:
    # The domain's example: 0.33 mL at 24 mL/day (1,188 s), then basal flow.
    path = FluidPath(DEAD_50_CM_NL, 500)
    bolus_s = DEAD_50_CM_NL * 86_400 // MAX_RATE_NL_PER_DAY
    assert bolus_s == 1_188
    pieces = path.push_over(DEAD_50_CM_NL, 2_000, bolus_s)
    assert pieces == (
        TipPiece(duration_s=Fraction(1_188), volume_nl=DEAD_50_CM_NL, concentration_ug_per_ml=500),
    )
    assert pieces[0].drug_ug == Fraction(165)
    assert pieces[0].rate_ug_per_s == Fraction(165, 1_188)
    assert path.concentration_at_tip == 2_000
    basal = path.push_over(10_000, 2_000, 3_600)  # 0.24 mL/day for an hour
    assert basal == (
        TipPiece(duration_s=Fraction(3_600), volume_nl=10_000, concentration_ug_per_ml=2_000),
    )


def test_without_bridge_the_old_drug_takes_days_at_basal_rate() -> None:
    path = FluidPath(DEAD_110_CM_NL, 500)
    rate_nl_per_day = 200_000
    days = 0
    while path.concentration_at_tip == 500:
        out = path.push(rate_nl_per_day, 2_000)
        days += 1
        assert out.volume_nl == rate_nl_per_day
    # 486,000 nL at 0.2 mL/day: the new drug reaches the tip on the third day.
    assert days == 3
    assert path.drug_out_pg == DEAD_110_CM_NL * 500 + (3 * rate_nl_per_day - DEAD_110_CM_NL) * 2_000


def test_unprimed_catheter_delivers_nothing_until_filled() -> None:
    path = FluidPath.for_catheter(
        P20, catheter_length_cm=110, initial_concentration_ug_per_ml=500, primed=False
    )
    assert not path.primed
    assert path.contents() == ()
    assert path.concentration_at_tip is None
    assert path.air_nl == DEAD_110_CM_NL
    assert path.initial_volume_nl == 0
    assert path.initial_drug_pg == 0
    out = path.push(DEAD_110_CM_NL - 1, 500)
    assert out.segments == ()
    assert path.concentration_at_tip == 500
    assert path.air_nl == 1
    assert path.push(1, 500).segments == ()
    assert path.primed
    assert path.delivered_to_patient_ug == 0
    assert _as_pairs(path.push(10, 500).segments) == [(10, 500)]


def test_priming_bolus_over_time_has_a_silent_filling_piece() -> None:
    path = FluidPath(1_000, 500, primed=False)
    pieces = path.push_over(1_500, 500, 30)
    assert pieces == (
        TipPiece(duration_s=Fraction(20), volume_nl=0, concentration_ug_per_ml=None),
        TipPiece(duration_s=Fraction(10), volume_nl=500, concentration_ug_per_ml=500),
    )
    assert pieces[0].drug_pg == 0
    assert pieces[0].rate_ug_per_s == 0


def test_no_flow_is_one_silent_piece_and_zero_duration_is_nothing() -> None:
    path = FluidPath(1_000, 500)
    assert path.push_over(0, 500, 60) == (
        TipPiece(duration_s=Fraction(60), volume_nl=0, concentration_ug_per_ml=None),
    )
    assert path.push_over(0, 500, 0) == ()
    assert path.push(0, 500) == TipOutput(segments=())
    assert path.volume_in_nl == 0


def test_zero_dead_volume_passes_straight_through() -> None:
    path = FluidPath(0, 500)
    assert path.primed
    assert path.contents() == ()
    assert _as_pairs(path.push(40, 1_000).segments) == [(40, 1_000)]
    assert path.contents() == ()


def test_segment_count_stays_bounded_over_years_of_pushes() -> None:
    path = FluidPath(DEAD_110_CM_NL, 500)
    concentrations = [500, 1_000, 2_000]
    most = 0
    # Hourly pushes at 1 mL/day for three years, a refill (new concentration) every 60 days.
    for hour in range(3 * 365 * 24):
        conc = concentrations[(hour // (60 * 24)) % len(concentrations)]
        path.push(41_667, conc)
        most = max(most, path.segment_count)
    assert most == 2
    assert path.volume_in_nl == path.volume_out_nl  # primed: everything in came out
    assert path.drug_in_pg + path.initial_drug_pg == path.drug_out_pg + path.contents_drug_pg


def test_tracker_pushes_the_pump_deltas() -> None:
    tracker = FluidTracker(FluidPath(1_000, 500), total_delivered_nl=5_000)
    assert tracker.update(5_000, 500).segments == ()
    assert _as_pairs(tracker.update(6_200, 1_000).segments) == [(1_000, 500), (200, 1_000)]
    assert tracker.last_total_delivered_nl == 6_200
    pieces = tracker.update_over(6_600, 1_000, 40)
    assert pieces == (
        TipPiece(duration_s=Fraction(40), volume_nl=400, concentration_ug_per_ml=1_000),
    )
    assert tracker.path.volume_in_nl == 1_600
    with pytest.raises(FluidPathValueError, match="backwards"):
        tracker.update(6_599, 1_000)
    assert tracker.last_total_delivered_nl == 6_600


def test_tracker_follows_a_real_pump_through_a_refill_with_the_bridge() -> None:
    dose_ng = 120_000  # 120 mcg/day: 0.24 mL/day of 500 mcg/mL, 0.06 mL/day of 2000
    rate_nl_per_day = 240_000
    pump = Pump.new(
        profile=P20,
        serial="VP-FLUID-0001",
        t=0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=PrescriptionSpec.simple(dose_ng, concentration_ug_per_ml=500),
        clock_offset_s=1_704_067_200,
        implant=implant_record(length_cm=50),
    )
    path = FluidPath.for_catheter(P20, catheter_length_cm=50, initial_concentration_ug_per_ml=500)
    tracker = FluidTracker(path, total_delivered_nl=pump.total_delivered_nl)

    day_s = 86_400
    pump.advance_to(day_s)
    out = tracker.update(pump.total_delivered_nl, pump.concentration_ug_per_ml)
    assert _as_pairs(out.segments) == [(rate_nl_per_day, 500)]

    # Refill: emptied, filled with the new drug, the same dose of it, and the bridge.
    result = pump.refill(
        day_s,
        RefillOrder(
            removed_nl=pump.reservoir_nl,
            added_nl=20_000_000,
            concentration_ug_per_ml=2_000,
            prescription=PrescriptionSpec.simple(dose_ng, concentration_ug_per_ml=2_000),
            bridge=True,
        ),
    )
    assert result.bridge_volume_nl == DEAD_50_CM_NL
    # The bridge runs 120 mcg/day at 500 mcg/mL (0.24 mL/day) for 0.33 mL: 1.375 days.
    bridge_s = DEAD_50_CM_NL * day_s // rate_nl_per_day
    assert pump.bridge_end_at() == pump.clock(day_s + bridge_s)
    end_s = day_s + bridge_s
    pump.advance_to(end_s)
    pieces = tracker.update_over(pump.total_delivered_nl, pump.concentration_ug_per_ml, bridge_s)
    assert pump.bridge is None
    # Only old drug came out during the bridge, at the old rate: 120 mcg/day reached the
    # patient; and the new drug is now at the tip, just as the rate drops to the new one.
    assert [p.concentration_ug_per_ml for p in pieces] == [500]
    assert sum(p.volume_nl for p in pieces) == DEAD_50_CM_NL
    assert sum(p.drug_ug for p in pieces) == Fraction(120 * bridge_s, day_s)
    assert path.concentration_at_tip == 2_000

    pump.advance_to(end_s + day_s)
    out = tracker.update(pump.total_delivered_nl, pump.concentration_ug_per_ml)
    assert _as_pairs(out.segments) == [(60_000, 2_000)]
    assert out.drug_ug == 120
    assert path.volume_in_nl == pump.total_delivered_nl


def test_the_hourly_ledger_splits_pieces_at_the_hour() -> None:
    ledger = HourlyLedger(max_hours=3)
    ledger.add(
        1_800,
        (
            TipPiece(duration_s=Fraction(3_600), volume_nl=3_600, concentration_ug_per_ml=1_000),
            TipPiece(duration_s=Fraction(1_800), volume_nl=0, concentration_ug_per_ml=None),
        ),
    )
    # 3.6 mcg over 01:30..02:30 (clock seconds 1,800..5,400): half in each hour.
    assert ledger.hour_ug(0) == Fraction(9, 5)
    assert ledger.hour_ug(3_600) == Fraction(9, 5)
    assert ledger.hours(0, 7_200) == [(0, Fraction(9, 5)), (3_600, Fraction(9, 5))]
    assert ledger.last_hour_ug(7_300) == Fraction(9, 5)
    assert ledger.reached_clock_s == 7_200
    ledger.add(
        7_200, (TipPiece(duration_s=Fraction(7_200), volume_nl=7_200, concentration_ug_per_ml=1),)
    )
    assert ledger.hour_ug(0) == 0  # only the last three hours are kept
    assert ledger.hour_ug(10_800) == Fraction(36, 10_000)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p.push(-1, 500), "volume_nl must be >= 0"),
        (lambda p: p.push(True, 500), "volume_nl must be an int"),
        (lambda p: p.push(10, 1.5), "concentration_ug_per_ml must be an int"),
        (lambda p: p.push(10, -1), "concentration_ug_per_ml must be >= 0"),
        (lambda p: p.push_over(10, 500, 0), "duration_s 0"),
        (lambda p: p.push_over(10, 500, -1), "duration_s must be >= 0"),
        (lambda p: p.push_over(0, -5, 0), "concentration_ug_per_ml must be >= 0"),
    ],
)
def test_bad_pushes_are_refused_and_change_nothing(call: object, match: str) -> None:
    path = FluidPath(1_000, 500)
    with pytest.raises(FluidPathValueError, match=match):
        call(path)  # type: ignore[operator]
    assert path.volume_in_nl == 0
    assert path.contents() == (Segment(volume_nl=1_000, concentration_ug_per_ml=500),)


def test_bad_construction_is_refused() -> None:
    with pytest.raises(FluidPathValueError):
        FluidPath(-1, 500)
    with pytest.raises(FluidPathValueError):
        FluidPath(1_000, -1)
    with pytest.raises(FluidPathValueError):
        FluidPath(1_000, 500, primed=1)  # type: ignore[arg-type]
    with pytest.raises(FluidPathValueError):
        dead_volume_nl(P20, -1)
    with pytest.raises(ValueError, match="volume_nl"):
        Segment(volume_nl=0, concentration_ug_per_ml=500)
    with pytest.raises(FluidPathValueError):
        TipPiece(duration_s=Fraction(1), volume_nl=5, concentration_ug_per_ml=None)
    with pytest.raises(FluidPathValueError):
        TipPiece(duration_s=1, volume_nl=5, concentration_ug_per_ml=500)  # type: ignore[arg-type]
    with pytest.raises(FluidPathValueError):
        TipOutput(segments=[Segment(volume_nl=1, concentration_ug_per_ml=1)])  # type: ignore[arg-type]
    with pytest.raises(FluidPathValueError):
        FluidTracker(FluidPath(1, 1), total_delivered_nl=-1)
    with pytest.raises(FluidPathValueError):
        FluidTracker("path", total_delivered_nl=0)  # type: ignore[arg-type]


def test_the_hourly_ledger_is_exact_whether_pieces_fall_inside_an_hour_or_straddle() -> None:
    """Pieces inside one hour are summed as whole picograms, straddling ones split in
    proportion to time: both give the exact totals of spreading each piece over its
    seconds (the reference, computed here apart from the ledger)."""
    rng = random.Random(16)
    ledger = HourlyLedger()
    expected: dict[int, Fraction] = {}
    clock = 7_000
    for _ in range(300):
        duration = rng.choice([1, 7, 300, 599, 3_600, 5_000])
        volume = rng.randrange(0, 5_000)
        ledger.add(
            clock,
            [
                TipPiece(
                    duration_s=Fraction(duration), volume_nl=volume, concentration_ug_per_ml=2_000
                )
            ],
        )
        per_second_ug = Fraction(volume * 2_000, 1_000_000) / duration
        for second in range(clock, clock + duration):
            hour = second // 3_600 * 3_600
            expected[hour] = expected.get(hour, Fraction(0)) + per_second_ug
        clock += duration
    assert ledger.reached_clock_s == clock
    for hour in range(0, clock, 3_600):
        assert ledger.hour_ug(hour) == expected.get(hour, 0), hour


@pytest.mark.parametrize(
    ("start", "duration", "hours"),
    [
        (3_599, 2, {0: Fraction(1, 2), 3_600: Fraction(1, 2)}),  # one second past the hour
        (7_199, 1, {3_600: Fraction(1)}),  # ends on the hour: all in the hour before
        (10_000, 800, {7_200: Fraction(1)}),  # ends exactly at 10,800
        (10_800, 3_600, {10_800: Fraction(1)}),  # exactly one hour
    ],
)
def test_the_hourly_ledger_at_the_edges_of_an_hour(
    start: int, duration: int, hours: dict[int, Fraction]
) -> None:
    ledger = HourlyLedger()
    # 1 mcg: 500 nL of 2000 mcg/mL.
    ledger.add(
        start,
        [TipPiece(duration_s=Fraction(duration), volume_nl=500, concentration_ug_per_ml=2_000)],
    )
    for hour in range(0, 18_000, 3_600):
        assert ledger.hour_ug(hour) == hours.get(hour, 0), hour


def test_a_stretch_entered_whole_is_split_at_the_hour_in_whole_nanolitres() -> None:
    """add_even (the emulator's one entry per constant-rate stretch): every hour holds
    whole picograms, the stretch's drug is all there, and each hour is the even share
    rounded at its two ends (within 1 nL of it); a stretch inside one hour is entered
    whole."""
    rng = random.Random(7)
    ledger = HourlyLedger()
    clock = 5_000
    shares: dict[int, Fraction] = {}
    for _ in range(200):
        duration = rng.choice([1, 59, 3_599, 3_600, 7_201, 21_600, 100_000])
        volume = rng.randrange(0, 200_000)
        ledger.add_even(clock, duration, volume, 2_000)
        for hour in range(clock // 3_600 * 3_600, clock + duration, 3_600):
            inside = min(clock + duration, hour + 3_600) - max(clock, hour)
            shares[hour] = shares.get(hour, Fraction(0)) + Fraction(volume * inside, duration)
        clock += duration
    assert ledger.reached_clock_s == clock
    total = Fraction(0)
    for hour in range(0, clock, 3_600):
        ug = ledger.hour_ug(hour)
        assert (ug * PG_PER_UG).denominator == 1  # whole picograms
        nl = ug * PG_PER_UG / 2_000
        assert abs(nl - shares.get(hour, Fraction(0))) < 2, hour  # 1 nL at each end at most
        total += ug
    assert total == sum(shares.values()) * 2_000 / PG_PER_UG


def test_the_ledger_keeps_the_last_hours_of_the_pump_clock() -> None:
    ledger = HourlyLedger(max_hours=24)
    for hour in range(100):
        ledger.add_even(hour * 3_600, 3_600, 500, 2_000)  # 1 mcg an hour
    assert ledger.hour_ug(99 * 3_600) == 1
    assert ledger.hour_ug(76 * 3_600) == 1  # the 24th hour back
    assert ledger.hour_ug(75 * 3_600) == 0  # out of the window: read as 0
    assert len(ledger._hours) <= 24 + 24 // 8 + 1  # dropped a few at a time


class _LedgerAsBefore(HourlyLedger):
    """:meth:`HourlyLedger.add_even` as it was before it entered a stretch inside one hour
    inline and pruned only where something was added (kept here as the reference)."""

    def add_even(
        self, start_clock_s: int, duration_s: int, volume_nl: int, concentration_ug_per_ml: int
    ) -> None:
        end = start_clock_s + duration_s
        if volume_nl and concentration_ug_per_ml:
            hour = start_clock_s // 3_600 * 3_600
            last = (end - 1) // 3_600 * 3_600
            if last - hour >= 2 * 3_600:
                if self._long is None:
                    self._long = []
                self._long.append((start_clock_s, end, volume_nl, concentration_ug_per_ml))
                self._latest_hour = max(self._latest_hour, last)
            else:
                boundary = hour + 3_600
                done_nl = 0
                while boundary < end:
                    due_nl = volume_nl * (boundary - start_clock_s) // duration_s
                    self._put(hour, (due_nl - done_nl) * concentration_ug_per_ml)
                    done_nl, hour = due_nl, boundary
                    boundary += 3_600
                self._put(hour, (volume_nl - done_nl) * concentration_ug_per_ml)
        self._reached = max(self._reached, end)
        self._prune()


@settings(max_examples=60, deadline=None, derandomize=True)
@example(max_hours=1, start=0, stretches=[(3_600, 5, 500, False)] * 4)
@example(max_hours=2, start=1_800, stretches=[(600, 5, 500, False)] * 40)
@given(
    max_hours=st.integers(min_value=1, max_value=40),
    start=st.integers(min_value=0, max_value=10 * 3_600),
    stretches=st.lists(
        st.tuples(
            st.one_of(
                st.integers(min_value=1, max_value=900),
                st.integers(min_value=1, max_value=3_600),
                st.sampled_from([3_599, 3_600, 3_601, 7_199, 7_200, 7_201, 86_400]),
                st.integers(min_value=1, max_value=5 * 86_400),
            ),
            st.integers(min_value=0, max_value=300_000),
            st.sampled_from([0, 500, 2_000]),
            st.booleans(),
        ),
        max_size=120,
    ),
)
def test_add_even_enters_and_prunes_as_before(
    max_hours: int, start: int, stretches: list[tuple[int, int, int, bool]]
) -> None:
    """The ledger as the emulator fills it (add_even per stretch, add for an instantaneous
    dose) equals the reference entry for entry: the same hours, the same stretches kept
    whole, dropped at the same moments, and the same readings."""
    fast, reference = HourlyLedger(max_hours=max_hours), _LedgerAsBefore(max_hours=max_hours)
    clock = start
    for duration, volume, concentration, instant in stretches:
        for ledger in (fast, reference):
            if instant:
                ledger.add(
                    clock,
                    [
                        TipPiece(
                            duration_s=Fraction(0),
                            volume_nl=volume,
                            concentration_ug_per_ml=concentration,
                        )
                    ],
                )
            ledger.add_even(clock, duration, volume, concentration)
        clock += duration
        assert fast._hours == reference._hours
        assert all(type(pg) is int for pg in fast._hours.values())
        assert fast._long == reference._long
        assert (fast._latest_hour, fast.reached_clock_s) == (
            reference._latest_hour,
            reference.reached_clock_s,
        )
    assert fast.hours(start, clock) == reference.hours(start, clock)
    assert fast.last_hour_ug(clock) == reference.last_hour_ug(clock)
