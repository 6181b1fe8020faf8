"""The flex page end to end: edit the table, see the refusal and the warning, program."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem
from pytestqt.qtbot import QtBot

from programmer_gui.controllers.flex import install
from programmer_gui.link import PumpLink
from protocol.enums import Mode
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, ui


def set_cell(table: QTableWidget, row: int, column: int, text: str) -> None:
    item = table.item(row, column)
    if item is None:
        table.setItem(row, column, QTableWidgetItem(text))
    else:
        item.setText(text)


def test_flex_edit_refuse_warn_and_program(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("flex")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        assert page.table.rowCount() == 3
        assert page.cell_texts()[1] == ("07:00", "22:00", "425")
        assert "396.88 mcg/day on Monday" in page.dose_label.text()
        # A gap: the second step now starts at 08:00.
        set_cell(page.table, 1, 0, "08:00")
        assert "gap: no step covers 07:00-08:00" in page.message.text
        assert not page.review_button.isEnabled()
        set_cell(page.table, 1, 0, "07:00")
        assert page.review_button.isEnabled()
        # The documented error: a one-hour step at 60 mcg/h (1440 mcg/day).
        page.table.setCurrentCell(1, 0)
        controller.add_step()  # splits 07:00-22:00 at 14:30
        assert page.cell_texts()[1:3] == [("07:00", "14:30", "425"), ("14:30", "22:00", "425")]
        set_cell(page.table, 1, 1, "08:00")
        set_cell(page.table, 1, 2, "1440")
        set_cell(page.table, 2, 0, "08:00")
        assert page.cell_texts()[1] == ("07:00", "08:00", "1440")
        assert "60 mcg every day" in page.message.text, page.message.text
        assert page.review_button.isEnabled()
        page.review_button.click()
        assert app.window.current_page() == "review"
        review = app.review.review
        assert review is not None and "flex-step-outlier" in review.warning_codes
        app.program(qtbot)
        snapshot = app.refresh(qtbot)
        assert snapshot.mode is Mode.FLEX
        assert len(snapshot.require_prescription().profiles[0]) == 4
        assert snapshot.dose_ug_per_day == Fraction(350 * 7 + 1440 + 425 * 14 + 350 * 2, 24)
        assert [a.action for a in app.record.actions] == ["Flex dosing"]
        # After programming the page shows the pump's new profile again.
        assert page.table.rowCount() == 4 and not controller.touched


def test_weekly_profiles_and_reset(qtbot: QtBot, link: PumpLink, demo_world: DemoWorld) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("flex")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        page.weekly_check.setChecked(True)
        assert controller.weekly and len(controller.days) == 7
        page.weekday_combo.setCurrentIndex(6)
        set_cell(page.table, 1, 2, "500")
        assert controller.days[6][1][2] == "500" and controller.days[0][1][2] == "425"
        assert page.review_button.isEnabled()
        page.review_button.click()
        review = app.review.review
        assert review is not None
        assert any(r.label == "Sunday" and r.changed for r in review.rows)
        app.review.cancel()
        assert app.window.current_page() == "flex"
        controller.copy_to_all_days()
        assert all(day[1][2] == "500" for day in controller.days)
        controller.reset()
        assert not controller.weekly and controller.days[0][1][2] == "425"
        assert not page.weekly_check.isChecked()
