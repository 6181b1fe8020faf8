"""Patient-activated doses end to end: typed with units, refused or warned, their effect on
the alarm date, programmed through the review and recorded before and after."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from programmer_gui.controllers.patient import install
from programmer_gui.link import PumpLink
from programmer_gui.views.patient import PatientPage
from programmer_gui.views.widgets import Severity
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui


def severity(page: PatientPage) -> Severity:
    """The message's severity (read afresh: it changes as the clinician types)."""
    return page.message.severity


def test_enable_program_and_record(qtbot: QtBot, link: PumpLink, demo_world: DemoWorld) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("patient")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        # The demo pump has patient doses off: the page says so and the fields wait.
        assert page.current_label.text() == "Patient-activated doses: off"
        assert not page.enabled_check.isChecked() and not page.dose_edit.isEnabled()
        assert page.effect.value("extra") == "0 mcg/day"
        alarm_off = page.effect.value("alarm_without")
        assert page.effect.value("alarm_with") == alarm_off
        page.enabled_check.click()
        assert page.dose_edit.isEnabled() and controller.touched
        assert severity(page) is Severity.CRITICAL  # nothing typed yet
        assert not page.review_button.isEnabled()
        for edit, text in zip(page.edits, ("25", "10", "180", "4"), strict=True):
            type_into(qtbot, edit, text)
        effect = page.effect
        assert effect.value("volume") == "0.0125 mL (25 mcg at 2000 mcg/mL), over 10 min"
        assert effect.value("per_day") == "4 doses"
        assert effect.value("extra") == "100 mcg/day"
        assert effect.value("total").startswith("496.88 mcg/day (basal 396.88 mcg/day)")
        # Every dose taken: the alarm comes sooner than without doses.
        assert effect.value("alarm_without") == alarm_off
        assert effect.value("alarm_with") != alarm_off
        # 100 mcg/day is more than a fifth of the basal dose: a warning to acknowledge.
        assert severity(page) is Severity.WARNING
        assert "Patient doses can add up to 100 mcg/day" in page.message.text
        page.review_button.click()
        review = app.review.review
        assert app.window.current_page() == "review"
        assert review is not None and review.warning_codes == ("patient-extra-large",)
        assert not app.review.page.program_button.isEnabled()
        app.program(qtbot)
        assert app.window.current_page() == "patient"
        latest = link.latest
        assert latest is not None and latest.patient_settings is not None
        stored = latest.patient_settings
        assert stored.enabled and stored.dose_ng == 25_000
        assert (stored.duration_s, stored.lockout_s, stored.max_per_24h) == (600, 10_800, 4)
        assert page.current_label.text().startswith("Dose: 25 mcg (0.0125 mL) over 10 min")
        assert not controller.touched and severity(page) is Severity.OK
        actions = app.record.actions
        assert [a.action for a in actions] == ["Patient-activated doses", "Patient dose settings"]
        assert actions[1].before == "Patient-activated doses: off"
        assert actions[1].after.startswith("Dose: 25 mcg (0.0125 mL) over 10 min")
        assert "most added per day 100 mcg/day" in actions[1].detail


def test_refusals_keep_the_review_closed(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("patient")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        page.enabled_check.click()
        for edit, text in zip(page.edits, ("20", "30", "15", "3"), strict=True):
            type_into(qtbot, edit, text)
        assert severity(page) is Severity.CRITICAL
        assert "the lockout (15 min) must be at least the delivery time (30 min)" in (
            page.message.text
        )
        assert not page.review_button.isEnabled()
        assert page.effect.value("alarm_with") == "—"
        page.lockout_edit.clear()
        type_into(qtbot, page.lockout_edit, "6O")  # a letter O for a zero
        assert "Lockout:" in page.message.text and "is not a number" in page.message.text
        page.lockout_edit.clear()
        type_into(qtbot, page.lockout_edit, "240")
        assert page.review_button.isEnabled()
        assert severity(page) is Severity.OK  # 60 mcg/day: within a fifth of the basal
        page.review_button.click()
        app.review.cancel()
        # Back on the page with every typed value kept.
        assert app.window.current_page() == "patient"
        assert [e.text() for e in page.edits] == ["20", "30", "240", "3"]
        assert app.record.actions == ()


def test_typed_values_survive_a_poll_and_reset_follows_the_pump(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("patient")  # a hidden page follows the pump only once shown
        connect(qtbot, link, demo_world.url)
        page = controller.page
        page.enabled_check.click()
        type_into(qtbot, page.dose_edit, "15")
        app.refresh(qtbot)
        assert page.enabled_check.isChecked() and page.dose_edit.text() == "15"
        page.reset_button.click()
        assert not page.enabled_check.isChecked() and page.dose_edit.text() == ""
        assert not controller.touched and severity(page) is Severity.INFO
