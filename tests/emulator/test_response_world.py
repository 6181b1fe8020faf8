"""The emulated world follows a dose change: the patient's response and its milestones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.emulator import Emulator
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import Role
from tests.support import DEMO_KEYS, T0, FakeWall

HOUR = 3_600


@pytest.fixture
def emu() -> Iterator[Emulator]:
    # The default preset: 100 mcg/day at 500 mcg/mL.
    with Emulator.single(
        preset="default", manual_clock=True, start_pump_s=T0, wall=FakeWall()
    ) as e:
        yield e


def simple_ng(dose_ng_per_day: int) -> m.PrescriptionSpec:
    """A simple dose of the default preset's 500 mcg/mL drug."""
    return m.PrescriptionSpec.simple(dose_ng_per_day, concentration_ug_per_ml=500)


def patient(emu: Emulator) -> dict[str, Any]:
    state: dict[str, Any] = emu.state()["patient"]
    return state


def test_a_dose_change_is_remembered_with_its_onset_and_full_effect(emu: Emulator) -> None:
    start = patient(emu)
    assert start["changes"] == []
    assert start["tone"] == pytest.approx(1.5)
    assert start["response_ng_per_ml"] == pytest.approx(start["level_ng_per_ml"])
    url = emu.register_inproc()
    emu.advance(2 * HOUR)
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(simple_ng(120_000))  # 120 mcg/day: +20 %
    emu.advance(HOUR)
    (change,) = patient(emu)["changes"]
    assert change["at_s"] == T0 + 2 * HOUR
    assert (change["from_ug_per_day"], change["to_ug_per_day"]) == (100.0, 120.0)
    assert change["start_response_ng_per_ml"] == pytest.approx(
        start["response_ng_per_ml"], rel=1e-4
    )
    assert change["final_response_ng_per_ml"] == pytest.approx(
        1.2 * start["response_ng_per_ml"], rel=1e-4
    )
    # domain.md windows: onset 4-8 h, full effect 20-48 h after a rate change.
    assert change["onset_at_s"] - change["at_s"] == pytest.approx(5.10 * HOUR, abs=0.01 * HOUR)
    assert change["full_effect_at_s"] - change["at_s"] == pytest.approx(
        23.85 * HOUR, abs=0.01 * HOUR
    )
    # An hour in, the level has moved a lot, the response hardly at all.
    now = patient(emu)
    level_share = now["level_ng_per_ml"] / now["reference_ng_per_ml"]
    response_share = now["response_ng_per_ml"] / now["reference_ng_per_ml"]
    before = 100 / 120
    assert (level_share - before) / (1 - before) > 0.3
    assert (response_share - before) / (1 - before) < 0.05
    # At the forecast full effect the response is at 90 % of its change.
    emu.advance(round(change["full_effect_at_s"]) - (T0 + 3 * HOUR))
    later = patient(emu)
    progress = (later["response_ng_per_ml"] / later["reference_ng_per_ml"] - before) / (1 - before)
    assert progress == pytest.approx(0.9, abs=0.002)
    assert later["tone"] < start["tone"]


def test_a_stop_is_a_change_whose_response_lags_into_withdrawal(emu: Emulator) -> None:
    url = emu.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(m.PrescriptionSpec.stopped(concentration_ug_per_ml=500))
    emu.advance(HOUR)
    (change,) = patient(emu)["changes"]
    assert change["to_ug_per_day"] == 0.0
    assert change["onset_at_s"] - change["at_s"] == pytest.approx(5.10 * HOUR, abs=0.01 * HOUR)
    emu.advance(10 * HOUR)
    assert patient(emu)["state"] == "normal"  # the level is gone, the response not yet
    emu.advance(5 * HOUR)
    assert patient(emu)["state"] == "withdrawal_risk"
    assert patient(emu)["tone"] > 2.4  # the tone at 40 % of the established response


def test_programming_the_same_dose_again_is_no_change(emu: Emulator) -> None:
    url = emu.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(simple_ng(120_000))
        emu.advance(HOUR)
        client.program(simple_ng(120_000))
    emu.advance(HOUR)
    assert len(patient(emu)["changes"]) == 1


def test_steps_at_one_instant_are_one_change_or_none(emu: Emulator) -> None:
    # As a refill at a new concentration followed by the rate for it: steps with no time
    # between them are one change, or none if they end at the dose they began with.
    url = emu.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(simple_ng(200_000))  # 200 mcg/day...
        client.program(simple_ng(100_000))  # ...and back to 100 at once
        emu.advance(HOUR)
        assert patient(emu)["changes"] == []
        client.program(simple_ng(200_000))
        client.program(simple_ng(150_000))
    emu.advance(HOUR)
    (change,) = patient(emu)["changes"]
    assert (change["from_ug_per_day"], change["to_ug_per_day"]) == (100.0, 150.0)
    assert change["at_s"] == T0 + HOUR


def test_a_rate_rounded_at_another_concentration_is_no_change(emu: Emulator) -> None:
    url = emu.register_inproc()
    with PumpClient(url, key=DEMO_KEYS[Role.CLINICIAN]) as client:
        client.program(simple_ng(100_400))  # 100.4 mcg/day: +0.4 %
        emu.advance(HOUR)
        assert patient(emu)["changes"] == []
        client.program(simple_ng(100_600))  # 100.6 mcg/day: +0.6 %
    emu.advance(HOUR)
    (change,) = patient(emu)["changes"]
    assert change["from_ug_per_day"] == 100.0  # from the last change remembered
    assert change["to_ug_per_day"] == pytest.approx(100.6)
