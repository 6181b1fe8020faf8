"""A short soak (the long one is ``python -m tests.hardening.soak``): two pumps for most of a
year each, polled, programmed, refilled and faulted, every invariant checked every day."""

from __future__ import annotations

import pytest

from tests.hardening import soak


@pytest.mark.slow  # a soak (make soak runs the long one); make test runs it, make check does not
def test_a_short_soak_holds_every_invariant() -> None:
    figures = soak.run_soak(pumps=2, years=0.6, step_s=86_400, seed=3)
    assert figures.steps == 219
    assert figures.refills >= 4 and figures.programs >= 2 and figures.faults >= 2
    assert figures.alarms_checked >= 2  # alarms were raised while time ran, at their crossing
    assert figures.exact_dose_checks >= 200


def test_the_soak_catches_a_pump_that_delivers_too_much(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: a pump delivering at twice its rate fails the dose check."""
    original = soak._peak_rate
    monkeypatch.setattr(soak, "_peak_rate", lambda pump: original(pump) // 2)
    with pytest.raises(soak.SoakError, match="at most"):
        soak.run_soak(pumps=1, years=0.05, step_s=86_400, seed=3)
