"""The session report's content, from a real session record."""

from __future__ import annotations

from programmer_gui.core.report import TITLE, build_report, next_refill_text
from programmer_gui.core.session_record import SessionRecord
from protocol import messages as m
from protocol.enums import Role
from tests.programmer_gui.pump_support import T0, connected


def test_report_of_a_session_with_a_change() -> None:
    record = SessionRecord(Role.CLINICIAN, operator_name="Dr Test")
    with connected("default") as world:
        record.observe(world.snapshot())
        world.advance_days(91)
        world.client.program(m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500))
        record.record(
            "Dose changed",
            "simple 120 mcg/day",
            pump_clock_s=T0 + 91 * 86_400,
            wall_s=T0 + 91 * 86_400,
            before="100 mcg/day",
            after="120 mcg/day",
        )
        last = world.snapshot()
        record.observe(last)
    report = build_report(record, generated_wall_s=T0 + 91 * 86_400 + 60)
    text = report.text()
    assert text.startswith(TITLE)
    assert "Operator: Dr Test (Clinician)" in text
    assert "VP20-000001" in text and "20 mL" in text
    assert "120 mcg/day (changed)" in text
    assert "Dose changed | simple 120 mcg/day (before: 100 mcg/day; after: 120 mcg/day)" in text
    assert "Low reservoir | Non-critical" in text
    assert "Catheter | 110 cm, 0.0026 mL/cm (0.286 mL)" in text
    assert "Patient | DEFAULT-01" in text
    assert "Time (pump clock) | By | Action | Details" in text
    assert "Refill by" in text and "before the low-reservoir alarm" in next_refill_text(last)
    headings = [s.heading for s in report.sections]
    assert headings == [
        "Pump",
        "Implant record",
        "Settings at interrogation and at the end of the session",
        "Actions",
        "Alarms seen",
        "Next refill",
    ]


def test_an_empty_session_says_so() -> None:
    text = build_report(SessionRecord(Role.CLINICIAN), generated_wall_s=T0).text()
    assert "No changes were made in this session." in text
    assert "No alarms were seen in this session." in text
