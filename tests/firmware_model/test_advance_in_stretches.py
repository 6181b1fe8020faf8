"""``Pump.advance_in_stretches``: the same simulation as ``advance_to``, handing out the
constant-rate stretches it integrated (what the emulator's world pushes whole)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from emulator.presets import PRESETS, flex_ug, simple_ug
from firmware_model.errors import FirmwareError, RtcCeilingError, TimeWentBackwardsError
from firmware_model.profile import profile_for
from firmware_model.pump import Pump

T0 = 1_789_977_600


def pump_pair(bias_ppm: int) -> tuple[Pump, Pump]:
    setup = PRESETS["default"]
    profile = dataclasses.replace(profile_for(setup.model), delivery_bias_ppm=bias_ppm)

    def make() -> Pump:
        return Pump.new(
            profile=profile,
            serial=setup.serial,
            t=T0,
            reservoir_nl=20_000_000,
            concentration_ug_per_ml=500,
            prescription=flex_ug(((0, 100), (7 * 60, 800), (22 * 60, 50)), 500),
        )

    return make(), make()


@pytest.mark.parametrize("bias_ppm", [0, 30_000, -20_000])
def test_the_stretches_are_the_same_simulation_as_advance_to(bias_ppm: int) -> None:
    plain, stretched = pump_pair(bias_ppm)
    rng = random.Random(bias_ppm)
    t = T0
    seen_delivered = seen_commanded = boluses = 0
    for _ in range(60):
        t += rng.choice((1, 59, 3_600, 5_000, 21_600, 86_400, 3 * 86_400))
        if rng.random() < 0.15:
            refused: list[type[FirmwareError] | None] = []
            for pump in (plain, stretched):
                try:
                    bolus = pump.therapeutic_bolus(dose_ng=50_000, duration_s=1_800)
                    pump.start_bolus(pump.t, bolus)
                    refused.append(None)
                except FirmwareError as exc:
                    refused.append(type(exc))
            assert refused[0] is refused[1]
            boluses += refused[0] is None
        start = stretched.t
        plain.advance_to(t)
        stretches = stretched.advance_in_stretches(t)
        assert plain.to_bytes() == stretched.to_bytes()
        # Contiguous, from where the pump was to t, each a stretch of time.
        assert [s[0] for s in stretches] == [start, *(s[1] for s in stretches[:-1])]
        assert stretches[-1][1] == t
        assert all(s[1] > s[0] for s in stretches)
        seen_delivered += sum(s[2] for s in stretches)
        seen_commanded += sum(s[3] for s in stretches)
        assert seen_delivered == stretched.total_delivered_nl
        assert seen_commanded == stretched.total_commanded_nl
    assert boluses  # bolus stretches were among them


def test_no_time_no_stretch_and_bad_times_change_nothing() -> None:
    pump = Pump.new(
        profile=profile_for(20),
        serial="VP20-000001",
        t=T0,
        reservoir_nl=20_000_000,
        concentration_ug_per_ml=500,
        prescription=simple_ug(100, 500),
    )
    assert pump.advance_in_stretches(T0) == []
    image = pump.to_bytes()
    with pytest.raises(TimeWentBackwardsError):
        pump.advance_in_stretches(T0 - 1)
    with pytest.raises(RtcCeilingError):
        pump.advance_in_stretches(pump.max_t + 1)
    with pytest.raises(TypeError):
        pump.advance_in_stretches(1.5)  # type: ignore[arg-type]
    assert pump.to_bytes() == image
    # One day of a simple prescription: one stretch of 0.2 mL.
    assert pump.advance_in_stretches(T0 + 86_400) == [(T0, T0 + 86_400, 200_000, 200_000)]
