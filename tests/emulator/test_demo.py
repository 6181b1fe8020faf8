"""The headless demonstration (``make demo`` without a display) runs and tells the refill
with a concentration change as one transaction with the bridge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_headless_demo_refills_at_a_new_concentration_with_the_bridge() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator.demo"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "implant record: IT-8709SC catheter, 110 cm" in out
    # The same 120 mcg/day before and after, the rate a quarter, and the bridge at 500 mcg/mL.
    assert "dose before: simple continuous: 120 mcg/day (0.24 mL/day)" in out
    assert "dose after:  simple continuous: 120 mcg/day (0.06 mL/day)" in out
    assert "24-hour dose 120 mcg/day at the visit, 120 mcg/day now" in out
    # 0.486 mL x 500 mcg/mL / 120 mcg/day = 2.025 days.
    assert "bridge of 0.486 mL ends" in out and "(2.025 days;" in out
    assert "bridge remaining 0.243 mL at 500 mcg/mL" in out
    assert "rate now 0.06 mL/day of 2000 mcg/mL = 120 mcg/day" in out
    assert "BRIDGE_STARTED" in out and "BRIDGE_ENDED" in out
