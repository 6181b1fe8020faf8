"""Units declared in the wire metadata, and the one describe layer that reads them."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Annotated

import pytest

from protocol import describe
from protocol import messages as m
from protocol.enums import (
    EVENT_PARAM_ENUMS,
    EVENT_PARAM_LABELS,
    EVENT_PARAM_UNITS,
    EVENT_PARAMS,
    AlarmCode,
    EventCode,
    Mode,
)
from protocol.prescription import PRESCRIPTION, PRESCRIPTION_UNITS
from protocol.units import Unit
from protocol.wire import implied_unit

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000  # 2026-09-21T14:13:20Z


def _records() -> list[type[m.Record]]:
    """Every record the catalogue carries, nested ones included."""
    seen: list[type[m.Record]] = []

    def walk(cls: type[m.Record]) -> None:
        if cls in seen:
            return
        seen.append(cls)
        for spec in m.wire_fields(cls):
            wire = spec.wire
            while isinstance(wire, m.ArrayOf):
                wire = wire.element
            if isinstance(wire, m.RecordWire):
                walk(wire.record)

    for cls in m.MESSAGE_CLASSES:
        walk(cls)
    walk(m.FlexStep)
    return seen


@pytest.mark.parametrize("record", _records(), ids=lambda cls: cls.__name__)
def test_every_field_of_every_message_declares_its_unit(record: type[m.Record]) -> None:
    for spec in m.wire_fields(record):
        assert spec.unit is not None, f"{record.__name__}.{spec.name} declares no unit"
        numeric = implied_unit(spec.wire) is None
        # A number declares its own unit; anything else has the one its wire type implies.
        assert spec.unit.numeric == numeric, f"{record.__name__}.{spec.name}: {spec.unit}"


@dataclass(frozen=True, kw_only=True)
class Forgetful(m.Record):
    volume_nl: Annotated[m.U32, "a volume, but no unit"]
    kept_nl: Annotated[m.U32, Unit.NL]


def test_the_checks_would_catch_a_number_without_a_unit() -> None:
    volume, kept = m.wire_fields(Forgetful)
    assert volume.unit is None
    assert kept.unit is Unit.NL


def test_every_event_parameter_declares_its_unit_and_enums_name_their_enum() -> None:
    names = {name for pair in EVENT_PARAMS.values() for name in pair if name != "unused"}
    assert names == set(EVENT_PARAM_UNITS)
    for name, unit in EVENT_PARAM_UNITS.items():
        assert (unit is Unit.ENUM) == (name in EVENT_PARAM_ENUMS), name
    assert set(EVENT_PARAM_LABELS) <= names


def test_the_prescription_struct_declares_its_units() -> None:
    names = {sub.name for sub in PRESCRIPTION.subcons if sub.name != "params"}
    for case in PRESCRIPTION.params.subcon.cases.values():  # the Switch on the mode
        names |= {sub.name for sub in case.subcons}
    assert names and names <= set(PRESCRIPTION_UNITS)


def test_no_unit_is_read_off_a_name_suffix() -> None:
    """Nothing in the tree guesses a unit from ``endswith("_nl")`` and the like any more."""
    suffixes = ("_nl", "_ng", "_s", "_mm", "_ug_per_ml", "_permille", "_min", "_uc", "_per_day")
    offenders = []
    for folder in ("protocol", "emulator", "programmer_gui", "firmware_model"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            if "endswith" not in source and "removesuffix" not in source:
                continue  # no such call can stand in it: spare parsing it
            for node in ast.walk(ast.parse(source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("endswith", "removesuffix")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and node.args[0].value.startswith("_")
                    and node.args[0].value.endswith(suffixes)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_wire_style_shows_every_digit_and_wire_names() -> None:
    status_line = describe.format_fields(
        m.StartBolusResponse(dose_ng=12_345, volume_nl=6_172, duration_s=3_700, ends_at_s=T0)
    )
    assert status_line == [
        "dose_ng = 12.345 mcg",
        "volume_nl = 0.006172 mL",
        "duration_s = 3700 s (1 h 1 min 40 s)",
        "ends_at_s = 2026-09-21T14:13:20Z",
    ]
    assert describe.describe_value(frozenset({AlarmCode.ERI, AlarmCode.LOW_RESERVOIR})) == (
        "ERI, LOW_RESERVOIR"
    )


def test_clinical_style_uses_the_precision_rule_and_clinical_words() -> None:
    style = describe.CLINICAL
    assert describe.describe_number(198_438, Unit.NL_PER_DAY, style) == "0.1984 mL/day"
    assert describe.describe_number(396_880, Unit.NG_PER_DAY, style) == "396.88 mcg/day"
    assert describe.describe_number(12_500, Unit.NL, style) == "0.0125 mL"
    assert describe.describe_number(705, Unit.PERMILLE, style) == "70.5 %"
    assert describe.describe_number(4 * 86_400 + 16 * 3_600, Unit.S, style) == "4 d 16 h"
    assert describe.describe_param("alarm_code", AlarmCode.MOTOR_STALL, style) == "motor stall"
    assert describe.describe_param("mode", Mode.SIMPLE, style) == "simple"
    assert describe.describe_param("alarm_code", 99, style) == "99 (no AlarmCode has this value)"


def test_field_pairs_take_the_zone_asked_for() -> None:
    style = describe.Style(clinical=False, clock=lambda s: f"clock {s}")
    pairs = dict(describe.field_pairs(m.ReadClockResponse(clock_s=T0), style))
    assert pairs == {"clock_s": f"clock {T0}"}
    utc = describe.Style(clinical=False, clock=describe.WIRE.clock)
    assert dict(describe.field_pairs(m.SetClockRequest(clock_s=T0), utc)) == {
        "clock_s": "2026-09-21T14:13:20Z"
    }
    assert UTC  # the default of the wire style is ISO 8601 UTC, as above


@pytest.mark.parametrize("code", list(EventCode), ids=lambda code: code.name)
def test_every_event_is_described_with_units(code: EventCode) -> None:
    entry = m.LogEntry(index=1, clock_s=T0, code=code, a=1_000, b=500)
    text = describe.describe_event(entry)
    assert text and "a=" not in text
    assert describe.describe_log_entry(entry).startswith(f"#1 2026-09-21T14:13:20Z {code.name}")
