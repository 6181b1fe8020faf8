"""The ``demo`` preset as docs/emulator.md describes it (40 mL, 30 mL left of 2000 mcg/mL,
flex with a night step, battery 70 %), its alarm date computed by hand, and domain.md's
refill discrepancy threshold of the 40 mL model (2 mL). A server of its own."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from tests.audit.docclient import (
    CLINICIAN,
    DEVICE_INFO,
    M_FLEX,
    READ_PRESCRIPTION,
    STAGE_REFILL,
    START_S,
    STATUS,
    Pump,
    decode_device_info,
    decode_stage_refill,
    decode_status,
    flex,
    serve,
)


@pytest.fixture(scope="module")
def pump() -> Iterator[Pump]:
    with serve("--preset", "demo") as served:
        yield served


def test_demo_preset_and_the_40_ml_discrepancy_threshold(pump: Pump) -> None:
    session = pump.session(CLINICIAN)
    try:
        assert decode_device_info(session.request(DEVICE_INFO))["model"] == 40
        st = decode_status(session.request(STATUS))
        assert st["clock_s"] == START_S  # 08:00
        assert (st["capacity_nl"], st["reservoir_nl"]) == (40_000_000, 30_000_000)
        assert (st["concentration_ug_per_ml"], st["battery_permille"], st["mode"]) == (
            2000,
            700,
            M_FLEX,
        )
        prescription = session.request(READ_PRESCRIPTION)[:-4]
        # the night step: 00:00 350, 07:00 425, 22:00 350 mcg/day
        assert prescription == flex(2000, [(0, 350_000), (7 * 60, 425_000), (22 * 60, 350_000)])
        # (7 h x 350 + 15 h x 425 + 2 h x 350) / 24 h = 9,525 / 24 = 396.875 mcg/day
        assert st["daily_dose_ng"] == 396_875
        # rates at 2000 mcg/mL: 0.175 and 0.2125 mL/day. From 08:00 a day delivers
        # 14 h x 0.2125 + 9 h x 0.175 + 1 h x 0.2125 = 0.1984375 mL/24 h. (30 - 2) mL:
        # 141 days give 27.9796875 mL; 0.0203125 mL at 0.2125 mL/day from 08:00 takes
        # 8,258.8 s: 141 d + 8,258.8 s -> the first whole second 12,190,659 s.
        assert st["low_reservoir_alarm_at_s"] == START_S + 12_190_659

        def stage(removed_nl: int) -> dict[str, int]:
            head = struct.pack(">IIIBB", removed_nl, 30_000_000, 2000, 0, 0)
            return decode_stage_refill(
                session.request(STAGE_REFILL, head + b"\x03LOT" + prescription)
            )

        expected = stage(0)["expected_nl"]
        assert expected == 30_000_000
        # domain.md: a discrepancy over 2 mL in a 40 mL pump is flagged
        assert stage(expected - 2_000_000)["discrepancy_flagged"] == 0
        assert stage(expected - 2_000_001)["discrepancy_flagged"] == 1
        assert stage(expected + 2_000_001)["discrepancy_flagged"] == 1
    finally:
        session.link.close()
