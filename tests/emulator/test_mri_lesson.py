"""The educator's MRI lesson on the emulator: the same patient through the same MRI (45 min,
telemetry mode) with the post-scan check one hour after it and without (issue 19)."""

from __future__ import annotations

import pytest

from emulator.mri_lesson import post_scan_check_comparison
from emulator.presets import PRESETS
from tests.support import T0


def test_without_the_check_the_patient_drifts_toward_withdrawal() -> None:
    hours = post_scan_check_comparison(PRESETS["default"], start_s=T0)
    assert [h.hour for h in hours] == list(range(1, 25))
    # Without the check the pump never resumes; the level falls with the 1.5 h half-life.
    assert not any(h.without_check_delivering for h in hours)
    assert hours[2].without_check_share == pytest.approx(0.25, rel=1e-6)  # 3 h = 2 half-lives
    risk = [h.hour for h in hours if h.without_check_state == "withdrawal_risk"]
    assert risk and risk == list(range(risk[0], 25)) and risk[0] <= 24
    # With the check 1 h after the 45 min scan (at 1 h 45 min) delivery resumes at once.
    assert [h.with_check_delivering for h in hours[:2]] == [False, True]
    assert all(h.with_check_state == "normal" for h in hours)
    assert hours[-1].with_check_share > 0.9
    assert hours[-1].without_check_share < 0.001


def test_the_comparison_is_deterministic_and_checks_its_values() -> None:
    a = post_scan_check_comparison(PRESETS["default"], start_s=T0, hours=3)
    assert a == post_scan_check_comparison(PRESETS["default"], start_s=T0, hours=3)
    with pytest.raises(ValueError):
        post_scan_check_comparison(PRESETS["default"], start_s=T0, hours=0)
