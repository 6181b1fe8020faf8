"""``Emulator.state()`` turns the pump's records into JSON-ready data in one pass; it gives
exactly what ``dataclasses.asdict`` and the former conversion gave (kept here as the
reference)."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from fractions import Fraction
from typing import Any

import pytest

from emulator.emulated_pump import _jsonable
from emulator.emulator import Emulator
from emulator.presets import PRESETS
from protocol.enums import AlarmCode
from tests.support import T0, FakeWall


def former(value: Any) -> Any:
    """The conversion ``state()`` used on ``asdict(...)`` before."""
    if isinstance(value, dict):
        return {str(k): former(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [former(v) for v in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Fraction):
        return float(value)
    return value


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_records_convert_as_asdict_did(preset: str) -> None:
    with Emulator.single(preset=preset, manual_clock=True, start_pump_s=T0, wall=FakeWall()) as emu:
        emu.set_link(drop=0.1)
        emu.advance(145 * 86_400)  # the reservoir low or empty: alarms and a tone
        pump = emu.pumps[0]
        with pump.virtual.lock:
            status = pump.pump.status()
            records = [status, pump.faults.counters(), pump.pump.implant]
        assert status.alarms_active  # a tuple of enums, and a ToneSpec, to convert
        for record in records:
            assert dataclasses.is_dataclass(record)
            assert _jsonable(record) == former(dataclasses.asdict(record))  # type: ignore[arg-type]
            assert json.dumps(_jsonable(record))  # JSON-ready
        assert emu.state()["pump"]["alarms_active"] == [
            AlarmCode(code).name for code in status.alarms_active
        ]


def test_the_plot_sample_is_what_state_says() -> None:
    """The scenario report's reservoir plot samples reservoir_now(), not the whole state."""
    with Emulator.single(
        preset="default", manual_clock=True, start_pump_s=T0, wall=FakeWall()
    ) as emu:
        for days in (0, 1, 30):
            emu.advance(days * 86_400)
            pump = emu.state()["pump"]
            assert emu.pumps[0].reservoir_now() == (
                pump["clock_s"],
                pump["reservoir_nl"],
                pump["true_reservoir_nl"],
            )
