"""SessionRecord: actions in order with times and role, first/last snapshot, alarms seen."""

from __future__ import annotations

import dataclasses

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.session_record import SessionAction, SessionRecord
from protocol.enums import AlarmCode, Role
from tests.programmer_gui.test_core_snapshot import make_snapshot
from tests.support import T0


def test_actions_are_kept_in_order_with_times_and_role() -> None:
    record = SessionRecord(Role.CLINICIAN, operator_name="Dr Lee")
    record.record("Dose changed", "simple 100 -> 120 mcg/day", pump_clock_s=T0, wall_s=T0 - 5.0)
    record.record(
        "Refill",
        "removed 8 mL, added 20 mL at 2000 mcg/mL",
        pump_clock_s=None,
        wall_s=T0 + 60.0,
        before="500 mcg/mL",
        after="2000 mcg/mL",
    )
    first, second = record.actions
    assert (first.action, first.pump_clock_s, first.wall_s) == ("Dose changed", T0, T0 - 5.0)
    assert first.operator_role is Role.CLINICIAN and first.operator_name == "Dr Lee"
    assert (second.before, second.after, second.pump_clock_s) == ("500 mcg/mL", "2000 mcg/mL", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.detail = "changed"  # type: ignore[misc]
    # The tuple handed out is a copy: the record only grows through record().
    assert isinstance(record.actions, tuple) and len(record.actions) == 2


def test_snapshots_first_last_and_alarms_seen() -> None:
    record = SessionRecord(Role.PATIENT)
    assert record.first_snapshot is None and record.last_snapshot is None
    assert record.started_wall_s is None
    one = make_snapshot(alarms=(AlarmCode.LOW_RESERVOIR,), wall_s=T0 + 1.0)
    two = make_snapshot(alarms=(AlarmCode.ERI,), wall_s=T0 + 2.0)
    three = make_snapshot(wall_s=T0 + 3.0)
    for snap in (one, two, three):
        record.observe(snap)
    assert record.first_snapshot is one and record.last_snapshot is three
    assert record.alarms_seen == {AlarmCode.LOW_RESERVOIR, AlarmCode.ERI}
    assert record.started_wall_s == T0 + 1.0


def test_an_action_needs_a_name() -> None:
    with pytest.raises(InputError):
        SessionAction(
            action=" ", detail="", operator_role=Role.CLINICIAN, pump_clock_s=None, wall_s=0.0
        )
