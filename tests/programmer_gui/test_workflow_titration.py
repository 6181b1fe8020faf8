"""The titration warnings end to end: the programmer reads the pump's event log and warns,
on the review, of a second change within 24 h (by the pump's clock) and of a step beyond
the usual range; a day later the same step passes without them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.titration import TitrationWatch
from programmer_gui.core.review import ReviewWarning
from programmer_gui.core.titration import SpasticityOrigin, TitrationWarningCode
from tests.programmer_gui.conftest import DemoWorld, wait_for_titration_history

WAIT_MS = 5_000
DAY = 86_400


def program_dose(qtbot: QtBot, programmer: Programmer, text: str) -> tuple[ReviewWarning, ...]:
    """Type ``text`` mcg/day, open the review, acknowledge everything and program; returns
    the review's warnings."""
    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    programmer.window.show_page("dose")
    dose.page.dose_edit.clear()
    qtbot.keyClicks(dose.page.dose_edit, text)
    qtbot.mouseClick(dose.page.review_button, Qt.MouseButton.LeftButton)
    review = programmer.review
    assert programmer.window.current_page() == "review"
    assert review.review is not None
    warnings = review.review.warnings
    assert len(review.page.warning_checks) == len(warnings)
    for check in review.page.warning_checks:
        check.setChecked(True)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(review.page.program_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: programmer.window.current_page() == "dose", timeout=WAIT_MS)
    wait_for_titration_history(qtbot, programmer)
    return warnings


def codes(warnings: tuple[ReviewWarning, ...]) -> tuple[str, ...]:
    return tuple(w.code for w in warnings)


def test_a_second_change_within_24_h_is_warned_from_the_pumps_log(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    # The demo pump: flex, 397.92 mcg/day; no change logged since it was set up.
    first = program_dose(qtbot, programmer, "430")  # +8.1 %
    assert codes(first) == ("replaces_flex",)
    # Three hours later by the pump's clock (the programmer's clock does not move).
    demo_world.emulator.advance(3 * 3600)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    second = program_dose(qtbot, programmer, "500")  # +16.3 %: stacked, and beyond +5-15 %
    assert codes(second) == (TitrationWarningCode.TOO_SOON, TitrationWarningCode.ABOVE_RANGE)
    too_soon, above = second
    assert "3 h 00 min ago" in too_soon.text
    # The demo pump's implant record documents a cerebral origin.
    assert "The usual daily step for cerebral origin is +5-15 %." in above.text
    # A day later by the pump's clock: a reduction of 25 % warns of withdrawal, alone.
    demo_world.emulator.advance(DAY)
    with qtbot.waitSignal(programmer.link.snapshot, timeout=WAIT_MS):
        programmer.link.interrogate()
    third = program_dose(qtbot, programmer, "375")
    assert codes(third) == ("large_change", TitrationWarningCode.LARGE_REDUCTION)


def test_the_origin_hook_widens_the_range_for_spinal_origin(
    qtbot: QtBot, programmer: Programmer
) -> None:
    watch = programmer.controllers["titration"]
    assert isinstance(watch, TitrationWatch)
    watch.origin_of = lambda _snapshot: SpasticityOrigin.SPINAL
    warnings = program_dose(qtbot, programmer, "475")  # +19.4 %: within +10-30 %
    assert codes(warnings) == ("replaces_flex",)


def test_with_no_origin_recorded_the_cerebral_range_applies_and_says_why(
    qtbot: QtBot, programmer: Programmer
) -> None:
    watch = programmer.controllers["titration"]
    assert isinstance(watch, TitrationWatch)
    watch.origin_of = lambda _snapshot: None
    warnings = program_dose(qtbot, programmer, "475")  # +19.4 %
    assert codes(warnings) == ("replaces_flex", TitrationWarningCode.ABOVE_RANGE)
    assert "No origin of the spasticity is recorded" in warnings[-1].text


def test_reading_the_log_in_the_background_leaves_the_link_free(
    qtbot: QtBot, programmer: Programmer
) -> None:
    watch = programmer.controllers["titration"]
    assert isinstance(watch, TitrationWatch)
    latest = programmer.link.latest
    assert latest is not None
    watch.read(latest)  # as after a prescription change
    assert watch.reading and not programmer.link.busy
    wait_for_titration_history(qtbot, programmer)


def test_an_unread_log_is_said_not_guessed(qtbot: QtBot, programmer: Programmer) -> None:
    watch = programmer.controllers["titration"]
    assert isinstance(watch, TitrationWatch)
    watch.failed = True  # as after a failed read
    warnings = program_dose(qtbot, programmer, "420")
    assert codes(warnings) == ("replaces_flex", TitrationWarningCode.HISTORY_UNKNOWN)
