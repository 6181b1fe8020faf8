"""The event log in words: every code described, filters, merging, CSV."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from programmer_gui.core.eventlog import (
    CATEGORIES,
    CSV_COLUMNS,
    NAMES,
    describe,
    event_row,
    merge,
    read_after,
    write_csv,
)
from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind, EventCode, StopReason
from tests.programmer_gui.pump_support import connected


def entry(code: EventCode, a: int = 0, b: int = 0, index: int = 0) -> m.LogEntry:
    return m.LogEntry(index=index, clock_s=1_790_000_000 + index, code=code, a=a, b=b)


def test_every_code_has_a_name_and_a_group() -> None:
    assert set(NAMES) == set(EventCode)
    assert {group for _, group in NAMES.values()} == set(CATEGORIES)


@settings(max_examples=60)
@given(
    st.sampled_from(list(EventCode)),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
)
def test_any_entry_is_described(code: EventCode, a: int, b: int) -> None:
    assert describe(entry(code, a, b))


def test_descriptions_carry_units() -> None:
    assert describe(entry(EventCode.REFILLED, 20_000_000, 1000)) == ("20 mL added at 1000 mcg/mL")
    assert describe(entry(EventCode.BOLUS_STARTED, BolusKind.PRIMING, 486_000)) == (
        "priming bolus of 0.486 mL"
    )
    assert describe(entry(EventCode.PROGRAMMED, 1, 400_000)) == "simple, 400 mcg/day today"
    assert describe(entry(EventCode.BRIDGE_STARTED, 486_000, 500)) == (
        "dead volume 0.486 mL; doses computed at the old 500 mcg/mL drug until it is delivered"
    )
    assert describe(entry(EventCode.LOW_BATTERY_RESET, 120)) == (
        "battery 12 %; keep-open minimum rate until reprogrammed"
    )
    assert describe(entry(EventCode.ALARM_RAISED, AlarmCode.EMPTY_RESERVOIR, 2)) == (
        "empty reservoir (critical)"
    )
    assert describe(entry(EventCode.STOPPED, StopReason.MRI)) == "reason: mri"
    assert describe(entry(EventCode.CLOCK_SET, -3600)) == "changed by 1 h back"
    assert describe(entry(EventCode.BATTERY_SET, 700)) == "battery 70 %"
    assert describe(entry(EventCode.SECURITY, 6, 0x12)) == "bad mac (opcode 0x12)"


def test_filters() -> None:
    row = event_row(entry(EventCode.REFILLED, 20_000_000, 1000))
    assert row.category == "Refill" and row.event == "Refilled"
    assert row.matches(categories=None, text="")
    assert row.matches(categories=frozenset({"Refill"}), text="1000 MCG")
    assert not row.matches(categories=frozenset({"Alarm"}), text="")
    assert not row.matches(categories=None, text="bolus")


def test_merge_keeps_one_entry_per_index_in_order() -> None:
    old = [entry(EventCode.POWER_ON, index=0), entry(EventCode.PROGRAMMED, index=1)]
    new = [entry(EventCode.PROGRAMMED, index=1), entry(EventCode.STOPPED, 1, index=2)]
    assert [e.index for e in merge(old, new)] == [0, 1, 2]


def test_the_log_is_read_after_the_entries_held() -> None:
    with connected("demo") as world:
        world.client.stop(StopReason.MRI)
        everything = read_after([])(world.client)
        assert everything == list(world.client.event_log())
        held = everything[:-2]
        world.client.resume()
        new = read_after(held)(world.client)
    assert [e.index for e in new] == [e.index for e in everything[-2:]] + [everything[-1].index + 1]
    assert new[-1].code is EventCode.RESUMED
    assert merge(held, new)[: len(everything)] == everything


def test_csv_of_a_real_log() -> None:
    with connected("demo") as world:
        world.client.stop(StopReason.MRI)
        world.client.resume()
        entries = list(world.client.event_log())
    rows = [event_row(e) for e in entries]
    out = io.StringIO()
    assert write_csv(rows, out) == len(rows)
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(parsed[0]) == CSV_COLUMNS
    codes = [line[6] for line in parsed[1:]]
    assert codes[0] == "POWER_ON" and "STOPPED" in codes and "RESUMED" in codes
    stopped = parsed[1 + codes.index("STOPPED")]
    assert stopped[7:9] == ["stop_reason", str(int(StopReason.MRI))]
    assert stopped[1].endswith("Z")
